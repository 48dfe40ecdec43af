//! Which of a krill's snapshots stay in the output directory: this krill's archives by name, the
//! oldest deleted first beyond a count or a total size (never the one just written), and the
//! half-written temporary files an export killed mid-way leaves behind.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::paths::KrillName;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> RetentionError + 'a {
    move |source| RetentionError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// How many of a krill's snapshots to keep, and how many bytes they may take together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub keep: Option<usize>,
    pub max_total_bytes: Option<u64>,
}

/// Whether `file_name` is one of `name`'s snapshots: `<name>-YYYYMMDDTHHMMSSZ[-N].claw`.
pub fn is_snapshot_of(name: &KrillName, file_name: &str) -> bool {
    let Some(rest) = file_name
        .strip_prefix(name.as_str())
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    let Some(stamp) = rest.strip_suffix(".claw") else {
        return false;
    };
    let (stamp, counter) = stamp.split_once('-').unwrap_or((stamp, "0"));
    let b = stamp.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && !counter.is_empty()
        && counter.bytes().all(|c| c.is_ascii_digit())
}

/// Whether `file_name` is the temporary file of an export of one of `name`'s snapshots. krill-claw
/// writes `<dir>/.<final name>.<random>.tmp` and renames it when complete (its export/write.rs),
/// so such a file outside a running export is what a killed one left.
pub fn is_leftover_of(name: &KrillName, file_name: &str) -> bool {
    let Some(inner) = file_name
        .strip_prefix('.')
        .and_then(|r| r.strip_suffix(".tmp"))
    else {
        return false;
    };
    // `<final name>.<random>`: the final name ends in `.claw`, so split at the last dot.
    inner.rsplit_once('.').is_some_and(|(final_name, random)| {
        !random.is_empty() && !random.contains('/') && is_snapshot_of(name, final_name)
    })
}

/// This krill's snapshots in `dir`, oldest first.
pub fn list(dir: &Path, name: &KrillName) -> Result<Vec<PathBuf>, RetentionError> {
    let mut found: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| is_snapshot_of(name, n))
            })
            .map(|e| e.path())
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err("listing", dir)(e)),
    };
    // The timestamp sorts lexically; a same-second `-N` suffix sorts after its base name.
    found.sort_by_key(|p| {
        let n = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let (base, counter) = match n.rsplit_once('-') {
            Some((b, c)) if c.bytes().all(|x| x.is_ascii_digit()) && b.ends_with('Z') => {
                (b.to_owned(), c.parse::<u64>().unwrap_or(0) + 1)
            }
            _ => (n, 0),
        };
        (base, counter)
    });
    Ok(found)
}

/// Removes what killed exports of `name`'s snapshots left in `dir`. Only safe while no export of
/// this krill into `dir` runs: the caller holds the snapshot lock.
pub fn remove_leftovers(dir: &Path, name: &KrillName) -> Result<Vec<PathBuf>, RetentionError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("listing", dir)(e)),
    };
    let mut removed = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let leftover = entry
            .file_name()
            .to_str()
            .is_some_and(|n| is_leftover_of(name, n))
            && entry.file_type().is_ok_and(|t| t.is_file());
        if leftover {
            let path = entry.path();
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err("removing", &path)(e));
                }
                _ => removed.push(path),
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// The snapshots `retention` deletes from `snapshots` (oldest first, with their sizes): the
/// oldest beyond `keep`, then the oldest until the rest fit in `max_total_bytes`. `just_written`
/// is never chosen, even alone over the size limit: the newest copy is the one worth having.
pub fn choose(
    snapshots: &[(PathBuf, u64)],
    just_written: &Path,
    retention: Retention,
) -> Vec<PathBuf> {
    let mut kept: Vec<&(PathBuf, u64)> = snapshots.iter().collect();
    let mut doomed = Vec::new();
    let deletable = |kept: &[&(PathBuf, u64)]| kept.iter().position(|(p, _)| p != just_written);
    if let Some(keep) = retention.keep {
        while kept.len() > keep.max(1) {
            let Some(oldest) = deletable(&kept) else {
                break;
            };
            doomed.push(kept.remove(oldest).0.clone());
        }
    }
    if let Some(limit) = retention.max_total_bytes {
        while kept.iter().map(|(_, size)| size).sum::<u64>() > limit {
            let Some(oldest) = deletable(&kept) else {
                break;
            };
            doomed.push(kept.remove(oldest).0.clone());
        }
    }
    doomed
}

/// Applies `retention` to `name`'s snapshots in `dir`; returns what it deleted.
pub fn apply(
    dir: &Path,
    name: &KrillName,
    just_written: &Path,
    retention: Retention,
) -> Result<Vec<PathBuf>, RetentionError> {
    let mut snapshots = Vec::new();
    for path in list(dir, name)? {
        match fs::metadata(&path) {
            Ok(meta) => snapshots.push((path, meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("reading the size of", &path)(e)),
        }
    }
    let doomed = choose(&snapshots, just_written, retention);
    for old in &doomed {
        match fs::remove_file(old) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err("removing", old)(e));
            }
            _ => {}
        }
    }
    Ok(doomed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn alice() -> KrillName {
        KrillName::parse("alice").expect("name")
    }

    #[rstest]
    #[case("alice-20261124T101500Z.claw", true)]
    #[case("alice-20261124T101500Z-2.claw", true)]
    #[case("alice-bob-20261124T101500Z.claw", false)]
    #[case("alice-20261124T1015Z.claw", false)]
    #[case("alice-20261124T101500Z.claw.tmp", false)]
    fn snapshot_names(#[case] file: &str, #[case] expected: bool) {
        assert_eq!(is_snapshot_of(&alice(), file), expected);
    }

    #[rstest]
    #[case(".alice-20261124T101500Z.claw.a1B2c3.tmp", true)]
    #[case(".alice-20261124T101500Z-3.claw.XyZ123.tmp", true)]
    #[case(".alice-20261124T101500Z.claw..tmp", false)]
    #[case("alice-20261124T101500Z.claw.a1B2c3.tmp", false)]
    #[case(".bob-20261124T101500Z.claw.a1B2c3.tmp", false)]
    #[case(".alice-notes.claw.a1B2c3.tmp", false)]
    #[case(".alice-20261124T101500Z.claw.a1B2c3", false)]
    fn leftover_names(#[case] file: &str, #[case] expected: bool) {
        assert_eq!(is_leftover_of(&alice(), file), expected);
    }

    fn sized(sizes: &[u64]) -> Vec<(PathBuf, u64)> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, s)| (PathBuf::from(format!("s{i}")), *s))
            .collect()
    }

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    }

    #[rstest]
    // by count: the oldest beyond keep
    #[case(&[1, 1, 1, 1], "s3", Some(2), None, &["s0", "s1"])]
    // by size: oldest first until the rest fit
    #[case(&[5, 4, 3, 2], "s3", None, Some(5), &["s0", "s1"])]
    #[case(&[5, 4, 3, 2], "s3", None, Some(14), &[])]
    // both: count first, then size
    #[case(&[1, 9, 1, 1], "s3", Some(3), Some(2), &["s0", "s1"])]
    // the one just written stays even alone over the limit
    #[case(&[5, 4, 30], "s2", None, Some(10), &["s0", "s1"])]
    #[case(&[30], "s0", Some(1), Some(1), &[])]
    // keep 0 means keep the newest, not nothing
    #[case(&[1, 1], "s1", Some(0), None, &["s0"])]
    fn retention_deletes_the_oldest_first(
        #[case] sizes: &[u64],
        #[case] just_written: &str,
        #[case] keep: Option<usize>,
        #[case] max_total_bytes: Option<u64>,
        #[case] expected: &[&str],
    ) {
        let doomed = choose(
            &sized(sizes),
            Path::new(just_written),
            Retention {
                keep,
                max_total_bytes,
            },
        );
        assert_eq!(names(&doomed), expected);
    }
}
