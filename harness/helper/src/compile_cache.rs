//! The Node compile cache a new pod would otherwise start without.
//!
//! OpenClaw's launcher turns on Node's compile cache under `os.tmpdir()/node-compile-cache`,
//! keyed by OpenClaw's version, its package.json, Node's version, V8's flags and the user ID. A
//! pod's `/tmp` is a fresh emptyDir, so every new krill compiled all of OpenClaw again. The image
//! builds that cache once (`image/compile-cache-seed.sh`, same paths, same user) and keeps it at
//! [`Paths::compile_cache_seed`]; `krill run` copies it into the temp directory before it execs
//! the gateway. Node itself decides what is valid: a seed built for another OpenClaw or Node sits
//! under keys nobody looks up, and an entry whose checksum does not match is recompiled. So the
//! seed can only make a start faster, never wrong, and no failure here stops a start.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsops::remove_tree_if_present;
use crate::layout::{LayoutError, chown_tree};
use crate::paths::Paths;

/// The directory Node's compile cache lives in, under the temp directory.
pub const CACHE_DIR: &str = "node-compile-cache";

#[derive(Debug, thiserror::Error)]
pub enum CompileCacheError {
    #[error("copying the compile cache seed {from} to {to}: {source}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
    /// Started as root: the copy could not be handed to the gateway's user.
    #[error("handing the compile cache to the gateway's user: {0}")]
    Owner(#[from] LayoutError),
}

/// What [`seed`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    /// Copied this many files, taking this long (what the seed costs a start).
    Copied {
        files: u64,
        bytes: u64,
        took: std::time::Duration,
    },
    /// The temp directory already has a cache: the container restarted on the same emptyDir,
    /// and the gateway's own cache is at least as good as the seed.
    AlreadyThere,
    /// The image has no seed (built without one, or mounted over): the gateway compiles as
    /// OpenClaw does on its own.
    NoSeed,
}

impl std::fmt::Display for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seeded::Copied { files, bytes, took } => write!(
                f,
                "compile cache seeded ({files} files, {:.1} MB, {:.2} s)",
                *bytes as f64 / 1e6,
                took.as_secs_f64()
            ),
            Seeded::AlreadyThere => write!(f, "compile cache kept from the previous start"),
            Seeded::NoSeed => write!(f, "no compile cache seed in the image"),
        }
    }
}

/// Copies the image's seed to `<tmp>/node-compile-cache` unless a cache is there already.
/// `owner`: when running as root, the user the gateway will run as (so Node can update it).
pub fn seed(paths: &Paths, owner: Option<(u32, u32)>) -> Result<Seeded, CompileCacheError> {
    let from = &paths.compile_cache_seed;
    let to = paths.tmp.join(CACHE_DIR);
    if to.exists() {
        return Ok(Seeded::AlreadyThere);
    }
    let started = std::time::Instant::now();
    let has_entries = fs::read_dir(from).is_ok_and(|mut entries| entries.next().is_some());
    if !has_entries {
        return Ok(Seeded::NoSeed);
    }
    // Built beside the target and renamed into place: a start killed mid-copy leaves a stray
    // directory under another name, never half a cache Node would trust. The next start (the
    // gateway lock makes it the only one) clears that stray first.
    let partial = paths.tmp.join(format!(".{CACHE_DIR}.krill-partial"));
    let copy_error = |source| CompileCacheError::Copy {
        from: from.clone(),
        to: to.clone(),
        source,
    };
    let filled = (|| {
        remove_tree_if_present(&partial).map_err(copy_error)?;
        let tally = copy_tree(from, &partial).map_err(copy_error)?;
        if let Some((uid, gid)) = owner {
            chown_tree(&partial, uid, gid)?;
        }
        fs::rename(&partial, &to).map_err(copy_error)?;
        Ok(tally)
    })();
    match filled {
        Ok((files, bytes)) => Ok(Seeded::Copied {
            files,
            bytes,
            took: started.elapsed(),
        }),
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

/// Copies directories and regular files (nothing else belongs in a cache); returns files, bytes.
/// The files go on a few threads: a seed is thousands of small files, and creating files on a
/// node's disk is latency, not bandwidth (one thread took 1.7-4 s on kind with a fleet
/// starting).
fn copy_tree(from: &Path, to: &Path) -> io::Result<(u64, u64)> {
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry.path().strip_prefix(from).map_err(io::Error::other)?;
        let target = to.join(relative);
        let kind = entry.file_type();
        if kind.is_dir() {
            fs::create_dir(&target)?;
        } else if kind.is_file() {
            files.push((entry.into_path(), target));
        }
    }
    let count = files.len() as u64;
    let workers = COPY_THREADS.min(files.len()).max(1);
    let share = files.len().div_ceil(workers).max(1);
    let bytes = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(share)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().try_fold(0u64, |sum, (source, target)| {
                        Ok::<_, io::Error>(sum + fs::copy(source, target)?)
                    })
                })
            })
            .collect();
        handles.into_iter().try_fold(0u64, |sum, handle| {
            let part = handle
                .join()
                .map_err(|_| io::Error::other("a copying thread panicked"))??;
            Ok::<_, io::Error>(sum + part)
        })
    })?;
    Ok((count, bytes))
}

/// Enough to keep a disk's queue busy without crowding the gateway's own start.
const COPY_THREADS: usize = 8;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn paths(root: &Path) -> Paths {
        let env: BTreeMap<String, String> = [
            ("TMPDIR", root.join("tmp")),
            ("KRILL_COMPILE_CACHE_SEED", root.join("seed")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.display().to_string()))
        .collect();
        Paths::from_env(&env)
    }

    #[test]
    fn copies_the_seed_once_and_keeps_a_cache_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let entry = paths
            .compile_cache_seed
            .join("openclaw/1.0/key/v24-x64-abc-1000");
        fs::create_dir_all(&entry).unwrap();
        fs::write(entry.join("0a1b2c"), b"compiled").unwrap();
        fs::create_dir_all(&paths.tmp).unwrap();

        assert!(matches!(
            seed(&paths, None).unwrap(),
            Seeded::Copied {
                files: 1,
                bytes: 8,
                ..
            }
        ));
        let copied = paths
            .tmp
            .join("node-compile-cache/openclaw/1.0/key/v24-x64-abc-1000/0a1b2c");
        assert_eq!(fs::read(&copied).unwrap(), b"compiled");
        // Only the cache itself is left in the temp directory.
        assert_eq!(fs::read_dir(&paths.tmp).unwrap().count(), 1);

        // What the gateway wrote since stays.
        fs::write(&copied, b"updated by node").unwrap();
        assert_eq!(seed(&paths, None).unwrap(), Seeded::AlreadyThere);
        assert_eq!(fs::read(&copied).unwrap(), b"updated by node");
    }

    #[test]
    fn every_file_of_a_many_file_seed_arrives_whole() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        for d in 0..3 {
            let sub = paths.compile_cache_seed.join(format!("key{d}"));
            fs::create_dir_all(&sub).unwrap();
            for f in 0..50 {
                fs::write(
                    sub.join(format!("{f:02x}")),
                    format!("{d}-{f}").repeat(f + 1),
                )
                .unwrap();
            }
        }
        fs::create_dir_all(&paths.tmp).unwrap();
        let Seeded::Copied { files, .. } = seed(&paths, None).unwrap() else {
            panic!("nothing copied");
        };
        assert_eq!(files, 150);
        for d in 0..3 {
            for f in 0..50 {
                let copied = paths.tmp.join(CACHE_DIR).join(format!("key{d}/{f:02x}"));
                assert_eq!(
                    fs::read_to_string(&copied).unwrap(),
                    format!("{d}-{f}").repeat(f + 1)
                );
            }
        }
    }

    #[test]
    fn a_copy_cut_off_by_a_kill_is_cleared_by_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        fs::create_dir_all(paths.compile_cache_seed.join("key")).unwrap();
        fs::write(paths.compile_cache_seed.join("key/entry"), b"compiled").unwrap();
        let stray = paths.tmp.join(".node-compile-cache.krill-partial/key");
        fs::create_dir_all(&stray).unwrap();
        fs::write(stray.join("half"), b"half").unwrap();

        assert!(matches!(
            seed(&paths, None).unwrap(),
            Seeded::Copied { files: 1, .. }
        ));
        let cache = paths.tmp.join(CACHE_DIR);
        assert_eq!(fs::read(cache.join("key/entry")).unwrap(), b"compiled");
        assert!(!cache.join("key/half").exists());
        assert_eq!(fs::read_dir(&paths.tmp).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_or_empty_seed_is_no_seed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        fs::create_dir_all(&paths.tmp).unwrap();
        assert_eq!(seed(&paths, None).unwrap(), Seeded::NoSeed);
        fs::create_dir_all(&paths.compile_cache_seed).unwrap();
        assert_eq!(seed(&paths, None).unwrap(), Seeded::NoSeed);
        assert!(!paths.tmp.join(CACHE_DIR).exists());
    }

    #[test]
    fn a_failed_copy_names_both_paths_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        fs::create_dir_all(paths.compile_cache_seed.join("openclaw")).unwrap();
        // No temp directory to copy into.
        let error = seed(&paths, None).unwrap_err().to_string();
        assert!(
            error.contains(&paths.compile_cache_seed.display().to_string())
                && error.contains(&paths.tmp.join(CACHE_DIR).display().to_string()),
            "{error}"
        );
        assert!(!paths.tmp.exists());
    }
}
