//! File operations every command shares. A module of its own so that `run`, `restore`,
//! `snapshot` and `first_start` can all use them without reaching into each other.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file operation that failed, and on what.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{path}: path has no parent directory")]
    NoParent { path: PathBuf },
    /// `action` says what we were doing, as in "writing {path}".
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// For `map_err`: an I/O error while `action`ing `path` (`io_err("reading", path)`).
pub fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |source| FsError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Removes the tree at `path`; one that is not there is not an error.
pub fn remove_tree_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes `path` through a temporary file and a rename, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let dir = path.parent().ok_or_else(|| FsError::NoParent {
        path: path.to_owned(),
    })?;
    let mut file = tempfile::Builder::new()
        .prefix(".krill-tmp")
        .tempfile_in(dir)
        .map_err(io_err("creating a temporary file in", dir))?;
    file.write_all(bytes).map_err(io_err("writing", path))?;
    file.as_file().sync_all().map_err(io_err("syncing", path))?;
    file.persist(path)
        .map_err(|e| io_err("replacing", path)(e.error))?;
    Ok(())
}
