//! Object keys: `<prefix>/<release>/<krill>/<stamp>[-N].claw`, the stamp being the local
//! snapshot's (`20261124T101500Z`), so keys sort by time and a key says which krill it belongs to.

use crate::error::StoreError;

/// One snapshot's place in the bucket, without the prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotKey {
    pub release: String,
    pub krill: String,
    /// `<stamp>[-N].claw`
    pub archive: String,
}

impl SnapshotKey {
    pub fn new(release: &str, krill: &str, archive: &str) -> Result<Self, StoreError> {
        check_segment("release", release)?;
        check_segment("krill", krill)?;
        if archive_order(archive).is_none() {
            return Err(StoreError::Config {
                what: "archive name",
                why: format!("{archive:?} is not <YYYYMMDDTHHMMSSZ>[-N].claw"),
            });
        }
        Ok(SnapshotKey {
            release: release.to_owned(),
            krill: krill.to_owned(),
            archive: archive.to_owned(),
        })
    }

    /// The full key under `prefix`.
    pub fn to_key(&self, prefix: &str) -> String {
        format!(
            "{}{}",
            krill_dir(prefix, &self.release, &self.krill),
            self.archive
        )
    }
}

/// `<prefix>/<release>/<krill>/`: every copy of one krill, and nothing else, starts with it.
pub fn krill_dir(prefix: &str, release: &str, krill: &str) -> String {
    if prefix.is_empty() {
        format!("{release}/{krill}/")
    } else {
        format!("{prefix}/{release}/{krill}/")
    }
}

/// A release or krill name as a key segment: what Kubernetes allows in a name, no more.
pub(crate) fn check_segment(what: &'static str, value: &str) -> Result<(), StoreError> {
    let b = value.as_bytes();
    let edge = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (1..=63).contains(&b.len())
        && edge(b.first())
        && edge(b.last())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Config {
            what,
            why: format!(
                "{value:?} is not a name (1-63 lowercase letters, digits and '-', starting and \
                 ending with a letter or digit)"
            ),
        })
    }
}

/// The stamp and same-second counter of `<stamp>[-N].claw`, which order a krill's copies; `None`
/// when the name is not one.
pub(crate) fn archive_order(archive: &str) -> Option<(String, u64)> {
    let stem = archive.strip_suffix(".claw")?;
    let (stamp, counter) = match stem.split_once('-') {
        Some((stamp, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            (stamp, n.parse::<u64>().ok()? + 1)
        }
        Some(_) => return None,
        None => (stem, 0),
    };
    let b = stamp.as_bytes();
    let stamp_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    stamp_ok.then(|| (stamp.to_owned(), counter))
}

/// The archive name in the bucket of a local snapshot file `<krill>-<stamp>[-N].claw`.
pub fn archive_name_from_file(krill: &str, file_name: &str) -> Option<String> {
    let archive = file_name.strip_prefix(krill)?.strip_prefix('-')?;
    archive_order(archive).map(|_| archive.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let key = SnapshotKey::new("prod", "alice", "20261124T101500Z.claw").expect("key");
        assert_eq!(key.to_key(""), "prod/alice/20261124T101500Z.claw");
        assert_eq!(key.to_key("a/b"), "a/b/prod/alice/20261124T101500Z.claw");
        assert!(SnapshotKey::new("prod", "../x", "20261124T101500Z.claw").is_err());
        assert!(SnapshotKey::new("prod", "alice", "latest.claw").is_err());
    }

    #[test]
    fn local_names_map_to_archive_names() {
        assert_eq!(
            archive_name_from_file("alice", "alice-20261124T101500Z-2.claw").as_deref(),
            Some("20261124T101500Z-2.claw")
        );
        assert_eq!(
            archive_name_from_file("alice", "alice-bob-20261124T101500Z.claw"),
            None
        );
    }

    #[test]
    fn a_same_second_copy_sorts_after_its_first() {
        let first = archive_order("20261124T101500Z.claw").expect("order");
        let second = archive_order("20261124T101500Z-1.claw").expect("order");
        let later = archive_order("20261124T101501Z.claw").expect("order");
        assert!(first < second && second < later);
    }
}
