//! Brings a `.claw` archive back into a krill's volume, all or nothing.
//!
//! The archive is unpacked and checked (every SQLite database must pass `integrity_check`) in a
//! staging directory on the same volume; only then are `workspace/` and `state/` swapped in by
//! renames. A journal written before the first rename lets the next start finish an interrupted
//! swap, so a crash leaves either the old or the new context, never a mix.
//!
//! Archive layout: `context/workspace/...` and `context/state/...`. An archive with neither
//! (e.g. `claw.py export` of a bare workspace) is taken as a workspace only.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::Paths;
use crate::sqlite;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{archive} cannot be restored: {source}")]
    Archive {
        archive: PathBuf,
        source: krill_claw::ClawError,
    },
    #[error("{archive} cannot be restored: {source}")]
    Database {
        archive: PathBuf,
        source: sqlite::SqliteError,
    },
    #[error("{archive} cannot be restored: it has no context/ folder")]
    NoContext { archive: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io {
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreSummary {
    pub archive: PathBuf,
    /// Which of `workspace`, `state` the archive replaced.
    pub replaced: Vec<String>,
    pub databases_checked: usize,
}

/// One pending rename pair of a swap: `staged` becomes `target`, the old `target` goes to `old`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Swap {
    staged: PathBuf,
    target: PathBuf,
    old: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    staging: PathBuf,
    swaps: Vec<Swap>,
}

fn journal_path(paths: &Paths) -> PathBuf {
    paths.bookkeeping().join("restore-journal.json")
}

/// Unpacks `archive` and swaps it into the volume. The caller makes sure no gateway runs.
pub fn restore(paths: &Paths, archive: &Path) -> Result<RestoreSummary, RestoreError> {
    let bookkeeping = paths.bookkeeping();
    fs::create_dir_all(&bookkeeping).map_err(io_err(&bookkeeping))?;
    let staging = tempfile::Builder::new()
        .prefix("restore-")
        .tempdir_in(&bookkeeping)
        .map_err(io_err(&bookkeeping))?;
    let unpacked = staging.path().join("unpacked");
    // durable: the journal lets a restore cut short by a killed process finish on the next
    // start, but after a node losing power only fsynced files are there to swap in.
    let options = krill_claw::ImportOptions {
        progress: false,
        durable: true,
        ..Default::default()
    };
    krill_claw::import(archive, &unpacked, &options).map_err(|source| RestoreError::Archive {
        archive: archive.to_owned(),
        source,
    })?;

    let context = unpacked.join("context");
    if !context.is_dir() {
        return Err(RestoreError::NoContext {
            archive: archive.to_owned(),
        });
    }
    let parts: Vec<(&str, PathBuf)> =
        if context.join("workspace").is_dir() || context.join("state").is_dir() {
            ["workspace", "state"]
                .into_iter()
                .map(|p| (p, context.join(p)))
                .filter(|(_, dir)| dir.is_dir())
                .collect()
        } else {
            vec![("workspace", context.clone())]
        };

    let mut databases_checked = 0;
    for (_, dir) in &parts {
        for entry in walkdir::WalkDir::new(dir).follow_links(false) {
            let entry = entry.map_err(|e| RestoreError::Io {
                path: dir.clone(),
                source: e.into(),
            })?;
            if entry.file_type().is_file() && sqlite::is_database(entry.path()) {
                sqlite::integrity_check(entry.path()).map_err(|source| RestoreError::Database {
                    archive: archive.to_owned(),
                    source,
                })?;
                databases_checked += 1;
            }
        }
    }

    // From here on the volume changes; the journal makes the swap finishable after a crash.
    let staging = staging.keep();
    let swaps: Vec<Swap> = parts
        .iter()
        .map(|(part, staged)| Swap {
            staged: staged.clone(),
            target: paths.data.join(part),
            old: staging.join(format!("old-{part}")),
        })
        .collect();
    let journal = Journal {
        staging: staging.clone(),
        swaps,
    };
    let journal_file = journal_path(paths);
    let text = serde_json::to_vec(&journal).map_err(|e| RestoreError::Io {
        path: journal_file.clone(),
        source: e.into(),
    })?;
    crate::fsops::write_atomically(&journal_file, &text).map_err(|e| RestoreError::Io {
        path: journal_file.clone(),
        source: io::Error::other(format!("{e:#}")),
    })?;
    finish(&journal, &journal_file)?;
    Ok(RestoreSummary {
        archive: archive.to_owned(),
        replaced: parts.iter().map(|(p, _)| (*p).to_owned()).collect(),
        databases_checked,
    })
}

/// Completes a swap a crash interrupted, if any, and removes staging directories a crash left
/// behind before its swap began. Idempotent. Call with the gateway lock held.
pub fn recover(paths: &Paths) -> Result<bool, RestoreError> {
    let journal_file = journal_path(paths);
    let text = match fs::read(&journal_file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            remove_stale(&paths.bookkeeping(), "restore-")?;
            return Ok(false);
        }
        Err(e) => return Err(io_err(&journal_file)(e)),
    };
    let journal: Journal = serde_json::from_slice(&text).map_err(|e| RestoreError::Io {
        path: journal_file.clone(),
        source: e.into(),
    })?;
    finish(&journal, &journal_file)?;
    Ok(true)
}

fn finish(journal: &Journal, journal_file: &Path) -> Result<(), RestoreError> {
    for swap in &journal.swaps {
        if !swap.staged.exists() {
            continue; // already swapped in
        }
        if swap.target.exists() && !swap.old.exists() {
            fs::rename(&swap.target, &swap.old).map_err(io_err(&swap.target))?;
        } else if swap.target.exists() {
            // Both exist: the old copy was moved aside and a fresh empty dir was created since
            // (a crash, then `mkdir` by a layout step). Only an empty one may be replaced.
            fs::remove_dir(&swap.target).map_err(io_err(&swap.target))?;
        }
        fs::rename(&swap.staged, &swap.target).map_err(io_err(&swap.staged))?;
    }
    fs::remove_file(journal_file).map_err(io_err(journal_file))?;
    remove_tree(&journal.staging)
}

/// Removes `dir/<prefix>*` directories: staging trees of runs that died before cleaning up.
pub(crate) fn remove_stale(dir: &Path, prefix: &str) -> Result<(), RestoreError> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(prefix))
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if stale {
            remove_tree(&entry.path())?;
        }
    }
    Ok(())
}

fn remove_tree(path: &Path) -> Result<(), RestoreError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A crash after the first rename of a swap: workspace moved aside, new one not yet in place.
    #[test]
    fn recover_finishes_a_swap_cut_short() {
        let root = tempfile::tempdir().expect("tempdir");
        let env: BTreeMap<String, String> =
            [("KRILL_DATA".to_owned(), root.path().display().to_string())].into();
        let paths = Paths::from_env(&env);
        let staging = paths.bookkeeping().join("restore-crashed");
        for dir in [
            staging.join("new-workspace"),
            staging.join("new-state"),
            paths.state(),
        ] {
            fs::create_dir_all(&dir).expect("mkdir");
        }
        fs::write(staging.join("new-workspace/NOTES.md"), "restored").expect("write");
        fs::write(staging.join("new-state/db"), "restored state").expect("write");
        fs::write(paths.state().join("db"), "old state").expect("write");
        // The old workspace already went to `old`; a layout step then created an empty one.
        fs::create_dir_all(staging.join("old-workspace")).expect("mkdir");
        fs::create_dir_all(paths.workspace()).expect("mkdir");
        let journal = Journal {
            staging: staging.clone(),
            swaps: vec![
                Swap {
                    staged: staging.join("new-workspace"),
                    target: paths.workspace(),
                    old: staging.join("old-workspace"),
                },
                Swap {
                    staged: staging.join("new-state"),
                    target: paths.state(),
                    old: staging.join("old-state"),
                },
            ],
        };
        fs::write(
            journal_path(&paths),
            serde_json::to_vec(&journal).expect("json"),
        )
        .expect("journal");

        assert!(recover(&paths).expect("recover"));
        assert_eq!(
            fs::read_to_string(paths.workspace().join("NOTES.md")).expect("read"),
            "restored"
        );
        assert_eq!(
            fs::read_to_string(paths.state().join("db")).expect("read"),
            "restored state"
        );
        assert!(!staging.exists() && !journal_path(&paths).exists());
        assert!(
            !recover(&paths).expect("idempotent"),
            "nothing left to recover"
        );
    }
}
