//! `krill restore`: an archive into a krill's volume by hand or from an init container, while no
//! gateway runs. The volume then counts as set up, and ends up owned by the gateway's user.

use std::fs;
use std::path::Path;

use crate::first_start::{self, FirstStartError};
use crate::fsops::{FsError, io_err};
use crate::gateway::{GatewayError, GatewayLock};
use crate::layout::{self, LayoutError};
use crate::paths::{Paths, Settings};
use crate::restore::{self, RestoreError, RestoreSummary};

#[derive(Debug, thiserror::Error)]
pub enum ManualRestoreError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(
        "refusing to restore while the gateway runs: stop the pod, or restore from an init \
         container: {0}"
    )]
    /// The gateway lock: held by a running gateway, or not to be taken.
    GatewayLock(#[source] GatewayError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    MarkInitialized(#[from] FirstStartError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// Restores `archive` into the volume `paths` describes. Fails without touching the volume when a
/// gateway holds it.
pub fn restore_stopped(
    paths: &Paths,
    settings: &Settings,
    archive: &Path,
) -> Result<RestoreSummary, ManualRestoreError> {
    let bookkeeping = paths.bookkeeping();
    fs::create_dir_all(&bookkeeping).map_err(io_err("creating", &bookkeeping))?;
    // Holding the gateway lock for the whole restore also keeps a gateway from starting.
    let lock = GatewayLock::acquire(paths).map_err(ManualRestoreError::GatewayLock)?;
    restore::recover(paths)?;
    let summary = restore::restore(paths, archive)?;
    // A restored volume counts as set up: the next start must not import init.claw over it.
    first_start::mark_initialized(paths, &format!("restored from {}", archive.display()))?;
    drop(lock);
    layout::prepare(paths, settings.uid, settings.gid)?;
    Ok(summary)
}
