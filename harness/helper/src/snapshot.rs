//! `krill snapshot`: the workspace and the agent state as one `.claw`, while the gateway runs.
//!
//! A staging tree on the volume holds `workspace/` and `state/`: ordinary files are hard links
//! (no copy of a big workspace), SQLite databases are online-backup copies (consistent even while
//! the gateway writes), and only what `exclusions` names stays out, listed, never silently. The
//! tree's content digest is compared with the last snapshot's, so an idle krill does not pile up
//! identical archives. A snapshot that would crowd the volume is skipped (`space`); which archives
//! stay, and what killed runs left, is `retention`'s business; `watch` repeats all this.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exclusions::{Excluded, Exclusions, Tree};
use crate::paths::{KrillName, Paths};
use crate::retention::{self, RetentionError};
pub use crate::retention::{Retention, is_snapshot_of, list};
use crate::space::{LowSpace, SpaceError, SpaceGuard};
use crate::sqlite;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Database(#[from] sqlite::SqliteError),
    #[error("writing {path}: {source}")]
    Export {
        path: PathBuf,
        source: krill_claw::ClawError,
    },
    #[error(transparent)]
    Retention(#[from] RetentionError),
    #[error(transparent)]
    Space(#[from] SpaceError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    pub out_dir: PathBuf,
    /// Which of this krill's snapshots in `out_dir` stay after a new one is written.
    pub retention: Retention,
    /// Write even if nothing changed since the last snapshot.
    pub force: bool,
    /// How much of the volume must stay free after the snapshot is written.
    pub space: SpaceGuard,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SnapshotOutcome {
    Written {
        path: PathBuf,
        bytes: u64,
        files: u64,
        digest: String,
        /// What was left out, and why; also in the archive's manifest (`left_out`).
        excluded: Vec<Excluded>,
        removed: Vec<PathBuf>,
    },
    Unchanged {
        digest: String,
        last: Option<PathBuf>,
    },
    /// Not written: it would have left less than the guard's share of a volume free.
    SkippedLowSpace(LowSpace),
}

/// One run of [`snapshot`]: its outcome, and what killed earlier runs had left and this one
/// removed (whatever the outcome: a half-written archive is the first thing to free on a full
/// volume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotReport {
    #[serde(flatten)]
    pub outcome: SnapshotOutcome,
    pub leftovers_removed: Vec<PathBuf>,
}

/// Room an archive needs beyond its files' bytes: per file a local and a central zip record
/// holding its name, the manifest line listing it; once the manifest and the generated texts.
/// Generous, so "the staged bytes plus this" stays an upper bound even for stored entries.
const ARCHIVE_BYTES_PER_FILE: u64 = 1024;
const ARCHIVE_BYTES_FIXED: u64 = 1 << 20;

/// What `.krill/last-snapshot.json` remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastSnapshot {
    digest: String,
    path: PathBuf,
    at: String,
}

/// `20261124T101500Z` and its RFC 3339 form.
pub fn timestamp_now() -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    let compact = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    (
        now.format(&compact).unwrap_or_default(),
        now.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    )
}

/// The staged tree for one snapshot, removed when dropped.
struct Staged {
    dir: tempfile::TempDir,
    files: u64,
    /// The staged files' bytes: the upper bound of what packing them writes.
    bytes: u64,
    excluded: Vec<Excluded>,
}

/// A staged tree, or the reason staging stopped: a database copy would have crowded the volume.
enum Staging {
    Ready(Staged),
    LowSpace(LowSpace),
}

fn stage(paths: &Paths, guard: SpaceGuard) -> Result<Staging, SnapshotError> {
    let bookkeeping = paths.bookkeeping();
    fs::create_dir_all(&bookkeeping).map_err(io_err(&bookkeeping))?;
    let dir = tempfile::Builder::new()
        .prefix("snapshot-")
        .tempdir_in(&bookkeeping)
        .map_err(io_err(&bookkeeping))?;
    let mut staged = Staged {
        dir,
        files: 0,
        bytes: 0,
        excluded: Vec::new(),
    };
    let exclusions = Exclusions::default();
    for (tree, root) in [
        (Tree::Workspace, paths.workspace()),
        (Tree::State, paths.state()),
    ] {
        let target_root = staged.dir.path().join(tree.as_str());
        fs::create_dir_all(&target_root).map_err(io_err(&target_root))?;
        if !root.is_dir() {
            continue;
        }
        let mut walker = walkdir::WalkDir::new(&root)
            .min_depth(1)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        while let Some(entry) = walker.next() {
            let entry = match entry {
                Ok(entry) => entry,
                // The gateway deletes temp files while we walk; a vanished entry is not an error.
                Err(e)
                    if e.io_error()
                        .is_some_and(|io| io.kind() == io::ErrorKind::NotFound) =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(SnapshotError::Io {
                        path: root.clone(),
                        source: e.into(),
                    });
                }
            };
            let relative = entry.path().strip_prefix(&root).unwrap_or(entry.path());
            let file_type = entry.file_type();
            let reason = if file_type.is_dir() {
                exclusions.directory(tree, relative)
            } else {
                exclusions.file(tree, relative)
            };
            if let Some(reason) = reason {
                let slash = if file_type.is_dir() { "/" } else { "" };
                staged.excluded.push(Excluded {
                    path: format!("{}/{}{slash}", tree.as_str(), relative.display()),
                    reason,
                });
                if file_type.is_dir() {
                    walker.skip_current_dir();
                }
                continue;
            }
            let target = target_root.join(relative);
            if file_type.is_dir() {
                fs::create_dir_all(&target).map_err(io_err(&target))?;
            } else if file_type.is_file() {
                if sqlite::is_side_file(entry.path()) {
                    continue; // its content is inside the database's backup copy
                }
                if sqlite::is_database(entry.path()) {
                    // Unlike a hard link, the backup copy takes real room on the volume; at most
                    // the database plus what its WAL still holds.
                    let needed =
                        file_len(entry.path()) + file_len(&side_file(entry.path(), "-wal"));
                    if let Some(low) = guard.check(staged.dir.path(), needed)? {
                        return Ok(Staging::LowSpace(low));
                    }
                    sqlite::backup(entry.path(), &target)?;
                } else if let Err(e) = link_or_copy(entry.path(), &target) {
                    if e.kind() == io::ErrorKind::NotFound {
                        continue;
                    }
                    return Err(SnapshotError::Io {
                        path: entry.path().to_owned(),
                        source: e,
                    });
                }
                staged.files += 1;
                staged.bytes += file_len(&target);
            }
            // Symlinks and special files: .claw archives carry neither.
        }
    }
    Ok(Staging::Ready(staged))
}

/// A file's length, 0 when it is gone (the gateway removes files while we walk).
fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// `db` with `suffix` appended to its file name (`x.sqlite` → `x.sqlite-wal`).
fn side_file(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A hard link costs nothing for a large workspace; across devices, copy.
fn link_or_copy(source: &Path, target: &Path) -> io::Result<()> {
    fs::hard_link(source, target).or_else(|_| fs::copy(source, target).map(|_| ()))
}

/// Content digest of a staged tree: every path (with its kind) and every file's bytes, in order.
fn digest(root: &Path) -> Result<String, SnapshotError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    for entry in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|e| SnapshotError::Io {
            path: root.to_owned(),
            source: e.into(),
        })?;
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let kind: &[u8] = if entry.file_type().is_dir() {
            b"d\0"
        } else {
            b"f\0"
        };
        hasher.update(kind);
        hasher.update(relative.as_os_str().as_encoded_bytes());
        hasher.update(b"\0");
        if entry.file_type().is_file() {
            let mut file = fs::File::open(entry.path()).map_err(io_err(entry.path()))?;
            hasher.update(
                file.metadata()
                    .map_err(io_err(entry.path()))?
                    .len()
                    .to_le_bytes(),
            );
            loop {
                let n = file.read(&mut buffer).map_err(io_err(entry.path()))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
            }
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn last_snapshot_path(paths: &Paths) -> PathBuf {
    paths.bookkeeping().join("last-snapshot.json")
}

/// Takes one snapshot of `name`'s volume into `options.out_dir`, unless nothing changed since the
/// last or the volume is too full; applies retention after a write.
pub fn snapshot(
    paths: &Paths,
    name: &KrillName,
    options: &SnapshotOptions,
) -> Result<SnapshotReport, SnapshotError> {
    // One snapshot at a time per volume (the chart's sidecar and a manual run may overlap): the
    // digest record and the retention pass assume nobody else is writing.
    let bookkeeping = paths.bookkeeping();
    fs::create_dir_all(&bookkeeping).map_err(io_err(&bookkeeping))?;
    let lock_path = bookkeeping.join("snapshot.lock");
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    let _serialised = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| SnapshotError::Io {
            path: lock_path.clone(),
            source: errno.into(),
        })?;
    // Under the lock no other snapshot runs, so any staging tree or half-written archive of this
    // krill is a dead run's. Removed before anything else: they take the room this run needs.
    crate::restore::remove_stale(&bookkeeping, "snapshot-").map_err(|e| SnapshotError::Io {
        path: bookkeeping.clone(),
        source: io::Error::other(e.to_string()),
    })?;
    let leftovers_removed = retention::remove_leftovers(&options.out_dir, name)?;
    let outcome = snapshot_locked(paths, name, options)?;
    Ok(SnapshotReport {
        outcome,
        leftovers_removed,
    })
}

fn snapshot_locked(
    paths: &Paths,
    name: &KrillName,
    options: &SnapshotOptions,
) -> Result<SnapshotOutcome, SnapshotError> {
    let staged = match stage(paths, options.space)? {
        Staging::Ready(staged) => staged,
        Staging::LowSpace(low) => return Ok(SnapshotOutcome::SkippedLowSpace(low)),
    };
    let digest = digest(staged.dir.path())?;
    let last: Option<LastSnapshot> = fs::read(last_snapshot_path(paths))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if let Some(last) = &last
        && last.digest == digest
        && !options.force
        && last.path.exists()
    {
        return Ok(SnapshotOutcome::Unchanged {
            digest,
            last: Some(last.path.clone()),
        });
    }

    fs::create_dir_all(&options.out_dir).map_err(io_err(&options.out_dir))?;
    let needed = staged.bytes + staged.files * ARCHIVE_BYTES_PER_FILE + ARCHIVE_BYTES_FIXED;
    if let Some(low) = options.space.check(&options.out_dir, needed)? {
        return Ok(SnapshotOutcome::SkippedLowSpace(low));
    }
    fs::create_dir_all(&options.out_dir).map_err(io_err(&options.out_dir))?;
    let (stamp, at) = timestamp_now();
    // Several snapshots in one second get `-N` suffixes, always above any left from that second
    // (retention may have removed a lower one), so names keep sorting in creation order.
    let base = format!("{}-{stamp}", name.as_str());
    let same_second: Vec<u64> = list(&options.out_dir, name)?
        .iter()
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .filter_map(|stem| match stem.strip_prefix(&base) {
            Some("") => Some(0),
            Some(rest) => rest.strip_prefix('-').and_then(|n| n.parse().ok()),
            None => None,
        })
        .collect();
    let path = match same_second.iter().max() {
        None => options.out_dir.join(format!("{base}.claw")),
        Some(highest) => options.out_dir.join(format!("{base}-{}.claw", highest + 1)),
    };
    let export_options = krill_claw::ExportOptions {
        generated_by: format!(
            "krill {} snapshot of {}",
            env!("CARGO_PKG_VERSION"),
            name.as_str()
        ),
        progress: false,
        left_out: staged
            .excluded
            .iter()
            .map(|e| krill_claw::LeftOut {
                path: e.path.clone(),
                reason: e.reason.as_str().to_owned(),
            })
            .collect(),
        ..Default::default()
    };
    // export() writes to a temporary name and renames when complete and synced: atomic.
    let summary =
        krill_claw::export(staged.dir.path(), &path, &export_options).map_err(|source| {
            SnapshotError::Export {
                path: path.clone(),
                source,
            }
        })?;

    let record = LastSnapshot {
        digest: digest.clone(),
        path: path.clone(),
        at,
    };
    let record_path = last_snapshot_path(paths);
    let bytes = serde_json::to_vec_pretty(&record).map_err(|e| SnapshotError::Io {
        path: record_path.clone(),
        source: e.into(),
    })?;
    crate::fsops::write_atomically(&record_path, &bytes).map_err(|e| SnapshotError::Io {
        path: record_path.clone(),
        source: io::Error::other(format!("{e:#}")),
    })?;

    let removed = retention::apply(&options.out_dir, name, &path, options.retention)?;
    Ok(SnapshotOutcome::Written {
        path,
        bytes: summary.archive_bytes,
        files: staged.files,
        digest,
        excluded: staged.excluded.clone(),
        removed,
    })
}
