//! The free-space guard: a snapshot must never fill the krill's volume. OpenClaw keeps its
//! sessions in SQLite on the same volume, and a full disk fails its writes in the middle of a turn,
//! so a snapshot that would leave less than a set share of the volume free is not written.

use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("reading the free space of {path}: {source}")]
pub struct SpaceError {
    pub path: PathBuf,
    pub source: nix::Error,
}

/// Why a snapshot was not written: everything the log line names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LowSpace {
    /// The directory whose filesystem was measured.
    pub volume: PathBuf,
    /// Bytes the snapshot's user may still write there.
    pub free_bytes: u64,
    /// The most the next write needs (an upper bound: the staged tree's bytes).
    pub needed_bytes: u64,
    pub total_bytes: u64,
    pub min_free_percent: u8,
    /// `min_free_percent` of `total_bytes`: what must stay free after the write.
    pub min_free_bytes: u64,
}

/// How much must stay free on a snapshot's volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceGuard {
    pub min_free_percent: u8,
}

impl SpaceGuard {
    /// `Some` when writing `needed_bytes` into `dir` would leave less than the guard's share of its
    /// filesystem free, or would not fit at all (also with a share of 0).
    pub fn check(&self, dir: &Path, needed_bytes: u64) -> Result<Option<LowSpace>, SpaceError> {
        let stats = nix::sys::statvfs::statvfs(dir).map_err(|source| SpaceError {
            path: dir.to_owned(),
            source,
        })?;
        let fragment = stats.fragment_size() as u64;
        // f_bavail, not f_bfree: the sidecar is not root, so the reserved blocks are not its.
        let free_bytes = (stats.blocks_available() as u64).saturating_mul(fragment);
        let total_bytes = (stats.blocks() as u64).saturating_mul(fragment);
        Ok(self.judge(dir, free_bytes, total_bytes, needed_bytes))
    }

    fn judge(
        &self,
        dir: &Path,
        free_bytes: u64,
        total_bytes: u64,
        needed_bytes: u64,
    ) -> Option<LowSpace> {
        let percent = u64::from(self.min_free_percent.min(100));
        // Rounded up, so a share above 0 never rounds down to "nothing must stay free".
        let min_free_bytes =
            u64::try_from((u128::from(total_bytes) * u128::from(percent)).div_ceil(100))
                .unwrap_or(u64::MAX);
        let fits = free_bytes
            .checked_sub(needed_bytes)
            .is_some_and(|left| left >= min_free_bytes);
        (!fits).then(|| LowSpace {
            volume: dir.to_owned(),
            free_bytes,
            needed_bytes,
            total_bytes,
            min_free_percent: self.min_free_percent,
            min_free_bytes,
        })
    }
}

impl std::fmt::Display for LowSpace {
    /// The one loud line a skipped snapshot logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SNAPSHOT SKIPPED, volume low on space: {} has {} bytes free of {}; the snapshot needs up to {} bytes and at least {}% ({} bytes) must stay free",
            self.volume.display(),
            self.free_bytes,
            self.total_bytes,
            self.needed_bytes,
            self.min_free_percent,
            self.min_free_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    // 1000 bytes, 10% must stay free: 100 bytes
    #[case(10, 500, 400, true)]
    #[case(10, 500, 401, false)]
    #[case(10, 100, 0, true)]
    #[case(10, 99, 0, false)]
    // 0% still refuses what cannot fit
    #[case(0, 500, 500, true)]
    #[case(0, 500, 501, false)]
    // 100%: only an empty write on an empty volume
    #[case(100, 999, 0, false)]
    #[case(100, 1000, 0, true)]
    #[case(1, 50, 40, true)]
    #[case(1, 50, 41, false)]
    fn the_guard_keeps_the_share_free(
        #[case] percent: u8,
        #[case] free: u64,
        #[case] needed: u64,
        #[case] fits: bool,
    ) {
        let guard = SpaceGuard {
            min_free_percent: percent,
        };
        let verdict = guard.judge(Path::new("/v"), free, 1000, needed);
        assert_eq!(verdict.is_none(), fits, "{verdict:?}");
    }

    #[test]
    fn a_real_filesystem_is_measured() {
        let dir = tempfile::tempdir().expect("tempdir");
        let guard = SpaceGuard {
            min_free_percent: 100,
        };
        let low = guard
            .check(dir.path(), 1)
            .expect("statvfs")
            .expect("no filesystem has all of itself free and one byte more");
        assert!(low.total_bytes > 0 && low.free_bytes <= low.total_bytes);
        assert_eq!(low.min_free_bytes, low.total_bytes);
    }
}
