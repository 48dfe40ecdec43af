//! A volume's first start: the context a krill starts with, `/krill/context/init.claw` and
//! `/krill/context/AGENTS.md`, applied on the first start only (or when forced), so a restart
//! never clobbers what the agent has done since.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsops::{FsError, io_err, write_atomically};
use crate::paths::Paths;
use crate::restore::{self, RestoreError};

#[derive(Debug, thiserror::Error)]
pub enum FirstStartError {
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(
        "{path} is missing: initClaw comes from a bucket (KRILL_INIT_CLAW_OBJECT={object}) and \
         the init container `fetch-init-claw` should have downloaded it; nothing was restored"
    )]
    NotFetched { path: PathBuf, object: String },
}

/// Written to `.krill/initialized` once the first start has set the volume up.
#[derive(Debug, Serialize, Deserialize)]
pub struct Initialized {
    pub at: String,
    pub how: String,
    /// The last `--reapply-context` id acted on: the same id never applies twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reapplied: Option<String>,
}

fn read_marker(paths: &Paths) -> Option<Initialized> {
    fs::read(marker(paths))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

fn marker(paths: &Paths) -> PathBuf {
    paths.bookkeeping().join("initialized")
}

/// Finishes a restore an earlier start left half done (see [`restore::recover`]).
pub fn recover(paths: &Paths) -> Result<(), FirstStartError> {
    if restore::recover(paths)? {
        eprintln!("krill: finished a restore an earlier start left half done");
    }
    Ok(())
}

fn is_empty_dir(dir: &Path) -> io::Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

/// Applies init.claw and AGENTS.md if this is the volume's first start, or when `force`, or when
/// `reapply` is an id this volume has not acted on yet (a one-shot a forgotten setting cannot
/// repeat on every restart). Returns a line for the log when it did something.
pub fn restore_on_first_start(
    paths: &Paths,
    force: bool,
    reapply: Option<&str>,
) -> Result<Option<String>, FirstStartError> {
    let reapply = reapply.filter(|id| !id.is_empty());
    let previous = read_marker(paths);
    let new_request = is_new_request(previous.as_ref(), reapply);
    if marker(paths).exists() && !force && !new_request {
        return Ok(None);
    }
    let force = force || new_request;
    let workspace = paths.workspace();
    let state = paths.state();
    let has_data = !is_empty_dir(&workspace).map_err(io_err("reading", &workspace))?
        || !is_empty_dir(&state).map_err(io_err("reading", &state))?;
    let init_claw = paths.init_claw();
    let agents_md = paths.agents_md();
    if let Some(object) = &paths.init_claw_object
        && !init_claw.is_file()
        && (!has_data || force)
    {
        return Err(FirstStartError::NotFetched {
            path: init_claw,
            object: object.clone(),
        });
    }
    let how = if has_data && !force {
        // A volume from before the marker existed: adopt it rather than overwrite it.
        "adopted an existing workspace and state".to_owned()
    } else {
        let mut done = Vec::new();
        if init_claw.is_file() {
            let summary = restore::restore(paths, &init_claw)?;
            done.push(format!(
                "restored {} from {}",
                summary.replaced.join(" and "),
                init_claw.display()
            ));
            if paths.init_claw_object.is_some() {
                // Restored: the download only takes room on the volume now.
                let _ = fs::remove_file(&init_claw);
            }
        }
        if agents_md.is_file() {
            let text = fs::read(&agents_md).map_err(io_err("reading", &agents_md))?;
            inject_agents_md(paths, &text)?;
            done.push(format!(
                "injected {} as the workspace's AGENTS.md",
                agents_md.display()
            ));
        }
        if done.is_empty() {
            "started empty (no init.claw, no AGENTS.md)".to_owned()
        } else {
            done.join("; ")
        }
    };
    let how = match reapply {
        Some(id) if new_request => format!("{how} (reapply request {id:?})"),
        _ => how,
    };
    // Recorded on the first start too: an id set before the volume existed is not a request.
    let reapplied = reapply
        .map(str::to_owned)
        .or_else(|| previous.and_then(|m| m.reapplied));
    write_marker(paths, &how, reapplied)?;
    Ok(Some(how))
}

fn is_new_request(previous: Option<&Initialized>, reapply: Option<&str>) -> bool {
    reapply.is_some_and(|id| previous.is_some_and(|m| m.reapplied.as_deref() != Some(id)))
}

/// Whether [`restore_on_first_start`] would apply the context now, with the same arguments: what
/// `krill fetch-init-claw` asks before downloading anything.
pub fn restore_due(paths: &Paths, force: bool, reapply: Option<&str>) -> bool {
    let reapply = reapply.filter(|id| !id.is_empty());
    !marker(paths).exists() || force || is_new_request(read_marker(paths).as_ref(), reapply)
}

fn agents_md_record(paths: &Paths) -> PathBuf {
    paths.bookkeeping().join("agents-md.sha256")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the chart's AGENTS.md into the workspace and remembers which text it was.
fn inject_agents_md(paths: &Paths, text: &[u8]) -> Result<(), FirstStartError> {
    let workspace = paths.workspace();
    fs::create_dir_all(&workspace).map_err(io_err("creating", &workspace))?;
    write_atomically(&workspace.join("AGENTS.md"), text)?;
    write_atomically(&agents_md_record(paths), sha256_hex(text).as_bytes())?;
    Ok(())
}

/// After the first start: a changed `agentsMd` in the chart (which also rolls the pod) replaces
/// the workspace's AGENTS.md on the next start; an unchanged one leaves the agent's own edits
/// alone. A volume without a record (set up before krill kept one, or adopted) records the
/// current text without writing. Returns a line for the log when it replaced the file.
pub fn sync_agents_md(paths: &Paths) -> Result<Option<String>, FirstStartError> {
    let agents_md = paths.agents_md();
    if !agents_md.is_file() {
        return Ok(None);
    }
    let text = fs::read(&agents_md).map_err(io_err("reading", &agents_md))?;
    let record = agents_md_record(paths);
    match fs::read_to_string(&record) {
        Ok(recorded) if recorded.trim() == sha256_hex(&text) => Ok(None),
        Ok(_) => {
            inject_agents_md(paths, &text)?;
            Ok(Some(format!(
                "{} changed since it was last given to this krill: replaced the workspace's AGENTS.md",
                agents_md.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            write_atomically(&record, sha256_hex(&text).as_bytes())?;
            Ok(None)
        }
        Err(e) => Err(io_err("reading", &record)(e).into()),
    }
}

/// Records that the volume is set up, so later starts leave it alone.
pub fn mark_initialized(paths: &Paths, how: &str) -> Result<(), FirstStartError> {
    let reapplied = read_marker(paths).and_then(|m| m.reapplied);
    write_marker(paths, how, reapplied)
}

fn write_marker(
    paths: &Paths,
    how: &str,
    reapplied: Option<String>,
) -> Result<(), FirstStartError> {
    let record = Initialized {
        at: crate::snapshot::timestamp_now().1,
        how: how.to_owned(),
        reapplied,
    };
    let marker = marker(paths);
    let bytes =
        serde_json::to_vec_pretty(&record).map_err(|e| io_err("encoding", &marker)(e.into()))?;
    Ok(write_atomically(&marker, &bytes)?)
}
