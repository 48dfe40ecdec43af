//! The context a krill starts with: `/krill/context/init.claw` and `/krill/context/AGENTS.md`,
//! applied on the first start only (or when forced), so a restart never clobbers what the agent
//! has done since.

use std::fs;
use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::paths::Paths;
use crate::restore;

/// Written to `.krill/initialized` once the first start has set the volume up.
#[derive(Debug, Serialize, Deserialize)]
pub struct Initialized {
    pub at: String,
    pub how: String,
}

fn marker(paths: &Paths) -> PathBuf {
    paths.bookkeeping().join("initialized")
}

pub fn recover(paths: &Paths) -> Result<()> {
    if restore::recover(paths)? {
        eprintln!("krill: finished a restore an earlier start left half done");
    }
    Ok(())
}

fn is_empty_dir(dir: &std::path::Path) -> io::Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

/// Applies init.claw and AGENTS.md if this is the volume's first start (or `force`). Returns a
/// line for the log when it did something.
pub fn restore_on_first_start(paths: &Paths, force: bool) -> Result<Option<String>> {
    if marker(paths).exists() && !force {
        return Ok(None);
    }
    let has_data = !is_empty_dir(&paths.workspace())? || !is_empty_dir(&paths.state())?;
    let init_claw = paths.init_claw();
    let agents_md = paths.agents_md();
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
        }
        if agents_md.is_file() {
            let text =
                fs::read(&agents_md).with_context(|| format!("reading {}", agents_md.display()))?;
            fs::create_dir_all(paths.workspace())
                .with_context(|| format!("creating {}", paths.workspace().display()))?;
            crate::fsops::write_atomically(&paths.workspace().join("AGENTS.md"), &text)?;
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
    mark_initialized(paths, &how)?;
    Ok(Some(how))
}

/// Records that the volume is set up, so later starts leave it alone.
pub fn mark_initialized(paths: &Paths, how: &str) -> Result<()> {
    let record = Initialized {
        at: crate::snapshot::timestamp_now().1,
        how: how.to_owned(),
    };
    crate::fsops::write_atomically(&marker(paths), &serde_json::to_vec_pretty(&record)?)
}
