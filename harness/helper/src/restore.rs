//! Brings a `.claw` archive back into a krill's volume, all or nothing.
//!
//! The archive is unpacked and checked (every SQLite database must pass `integrity_check`, and
//! loses the process leases of the gateway it was taken from) in a staging directory on the same
//! volume; only then are `workspace/` and `state/` swapped in by
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
    #[error(
        "{journal} names {named}, which is not where a restore of this volume moves things \
         ({why}); nothing was moved. The journal is on the krill's own volume, so an agent may \
         have written it: inspect it, and delete it if no restore was in progress"
    )]
    Journal {
        journal: PathBuf,
        named: PathBuf,
        why: &'static str,
    },
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
    /// Process leases of the snapshotted gateway dropped from the restored databases
    /// ([`sqlite::release_leases`]).
    pub leases_released: usize,
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
    let mut leases_released = 0;
    for (_, dir) in &parts {
        for entry in walkdir::WalkDir::new(dir).follow_links(false) {
            let entry = entry.map_err(|e| RestoreError::Io {
                path: dir.clone(),
                source: e.into(),
            })?;
            if entry.file_type().is_file() && sqlite::is_database(entry.path()) {
                let database_err = |source| RestoreError::Database {
                    archive: archive.to_owned(),
                    source,
                };
                sqlite::integrity_check(entry.path()).map_err(database_err)?;
                leases_released += sqlite::release_leases(entry.path()).map_err(database_err)?;
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
        leases_released,
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
    check_journal(paths, &journal, &journal_file)?;
    finish(&journal, &journal_file)?;
    Ok(true)
}

/// The journal lives on the volume, which the agent can write, and recovery may run as root: it
/// must only ever rename a staging tree of `.krill/` over `workspace/` or `state/`. Anything else
/// (another path, `..`, a symlink on the way) is refused before a single rename.
fn check_journal(paths: &Paths, journal: &Journal, file: &Path) -> Result<(), RestoreError> {
    let refuse = |named: &Path, why| RestoreError::Journal {
        journal: file.to_owned(),
        named: named.to_owned(),
        why,
    };
    let bookkeeping = paths.bookkeeping();
    let staging = &journal.staging;
    let staging_name_ok = staging.parent() == Some(bookkeeping.as_path())
        && staging
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("restore-"));
    if !staging_name_ok {
        return Err(refuse(staging, "the staging tree must be .krill/restore-*"));
    }
    for dir in [&paths.data, &bookkeeping, staging] {
        if is_symlink(dir) {
            return Err(refuse(dir, "it is a symbolic link"));
        }
    }
    for swap in &journal.swaps {
        let Some(part) = [paths.workspace(), paths.state()]
            .into_iter()
            .find(|t| *t == swap.target)
        else {
            return Err(refuse(
                &swap.target,
                "only workspace/ and state/ are replaced",
            ));
        };
        let part_name = part.file_name().unwrap_or_default().to_string_lossy();
        if swap.old != staging.join(format!("old-{part_name}")) {
            return Err(refuse(
                &swap.old,
                "the old tree must go to the staging tree",
            ));
        }
        let inside = swap
            .staged
            .strip_prefix(staging)
            .ok()
            .filter(|rest| {
                rest.components().count() > 0
                    && rest
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)))
            })
            .ok_or_else(|| refuse(&swap.staged, "the new tree must come from the staging tree"))?;
        let mut walked = staging.clone();
        for component in inside.components() {
            walked.push(component);
            if is_symlink(&walked) {
                return Err(refuse(&walked, "it is a symbolic link"));
            }
        }
    }
    Ok(())
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
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
    crate::fsops::remove_tree_if_present(path).map_err(io_err(path))
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

    /// A volume with a journal written by hand (what an agent could do) and a file that must
    /// survive whatever the journal says.
    fn hostile(make: impl FnOnce(&Paths, &Path, &Path) -> Journal) -> (tempfile::TempDir, Paths) {
        let root = tempfile::tempdir().expect("tempdir");
        let env: BTreeMap<String, String> = [(
            "KRILL_DATA".to_owned(),
            root.path().join("data").display().to_string(),
        )]
        .into();
        let paths = Paths::from_env(&env);
        let staging = paths.bookkeeping().join("restore-evil");
        fs::create_dir_all(staging.join("new")).expect("mkdir");
        fs::create_dir_all(paths.workspace()).expect("mkdir");
        let outside = root.path().join("outside");
        fs::create_dir_all(&outside).expect("mkdir");
        fs::write(outside.join("precious"), "keep me").expect("write");
        fs::write(paths.workspace().join("AGENTS.md"), "mine").expect("write");
        let journal = make(&paths, &staging, &outside);
        fs::write(
            journal_path(&paths),
            serde_json::to_vec(&journal).expect("json"),
        )
        .expect("journal");
        (root, paths)
    }

    fn assert_refused(root: &tempfile::TempDir, paths: &Paths, expected: &str) {
        let err = recover(paths).expect_err("a hostile journal must be refused");
        let message = err.to_string();
        assert!(
            matches!(err, RestoreError::Journal { .. }) && message.contains(expected),
            "{message}"
        );
        assert_eq!(
            fs::read_to_string(root.path().join("outside/precious")).expect("outside untouched"),
            "keep me"
        );
        assert_eq!(
            fs::read_to_string(paths.workspace().join("AGENTS.md")).expect("workspace untouched"),
            "mine"
        );
        assert!(
            journal_path(paths).exists(),
            "the journal stays for inspection"
        );
    }

    #[test]
    fn a_journal_naming_a_target_outside_the_volume_is_refused() {
        let (root, paths) = hostile(|_, staging, outside| Journal {
            staging: staging.to_owned(),
            swaps: vec![Swap {
                staged: staging.join("new"),
                target: outside.to_owned(),
                old: staging.join("old-outside"),
            }],
        });
        assert_refused(&root, &paths, "only workspace/ and state/ are replaced");
    }

    #[test]
    fn a_journal_whose_staging_tree_is_elsewhere_is_refused() {
        let (root, paths) = hostile(|paths, _, outside| Journal {
            staging: outside.to_owned(),
            swaps: vec![Swap {
                staged: outside.join("precious"),
                target: paths.workspace(),
                old: outside.join("old-workspace"),
            }],
        });
        assert_refused(&root, &paths, "the staging tree must be .krill/restore-*");
    }

    #[test]
    fn a_journal_climbing_out_with_dot_dot_is_refused() {
        let (root, paths) = hostile(|paths, staging, _| Journal {
            staging: staging.to_owned(),
            swaps: vec![Swap {
                staged: staging.join("../../../outside"),
                target: paths.workspace(),
                old: staging.join("old-workspace"),
            }],
        });
        assert_refused(
            &root,
            &paths,
            "the new tree must come from the staging tree",
        );
    }

    #[test]
    fn a_journal_through_a_symlink_is_refused() {
        let (root, paths) = hostile(|paths, staging, outside| {
            std::os::unix::fs::symlink(outside, staging.join("link")).expect("symlink");
            Journal {
                staging: staging.to_owned(),
                swaps: vec![Swap {
                    staged: staging.join("link"),
                    target: paths.workspace(),
                    old: staging.join("old-workspace"),
                }],
            }
        });
        assert_refused(&root, &paths, "symbolic link");
    }
}
