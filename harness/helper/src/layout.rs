//! Lays out the krill's volume and makes it usable by the gateway's user.
//!
//! Two ways a pod can get there (docs/helper.md): as root (an init step), the helper chowns the
//! volume to 1000:1000; as 1000 with `fsGroup`, it makes the directories it owns group-writable.
//! Either way it proves every directory writable before the gateway starts, and fails naming the
//! path and the uid otherwise, instead of letting OpenClaw crash-loop on a chmod.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};

use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "{path} is not writable by uid {uid} gid {gid} (it is owned by {owner_uid}:{owner_gid}, mode {mode:o}): \
         set the pod's securityContext.fsGroup to {gid}, or run `krill prepare` as root in an init container ({source})"
    )]
    NotWritable {
        path: PathBuf,
        uid: u32,
        gid: u32,
        owner_uid: u32,
        owner_gid: u32,
        mode: u32,
        source: io::Error,
    },
    #[error("cannot create {path} as uid {uid}: {source}")]
    Create {
        path: PathBuf,
        uid: u32,
        source: io::Error,
    },
    #[error("cannot hand {path} to {uid}:{gid}: {source}")]
    Chown {
        path: PathBuf,
        uid: u32,
        gid: u32,
        source: io::Error,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Directories the gateway writes, in creation order.
pub fn directories(paths: &Paths) -> Vec<PathBuf> {
    vec![
        paths.data.clone(),
        paths.state(),
        paths.workspace(),
        paths.bookkeeping(),
        paths.config_home(),
        paths.run.clone(),
    ]
}

/// Creates the layout and checks it is writable. As root, also hands everything under the data
/// volume (and the run dir) to `uid:gid`, so what a restore unpacked is usable by the gateway.
pub fn prepare(paths: &Paths, uid: u32, gid: u32) -> Result<(), LayoutError> {
    let me = Uid::effective();
    for dir in directories(paths) {
        if let Err(source) = fs::create_dir_all(&dir) {
            let parent = dir.parent().unwrap_or(&dir);
            return Err(match fs::metadata(parent) {
                Ok(_) if source.kind() == io::ErrorKind::PermissionDenied => {
                    not_writable(parent, source)
                }
                _ => LayoutError::Create {
                    path: dir.clone(),
                    uid: me.as_raw(),
                    source,
                },
            });
        }
    }
    if me.is_root() {
        for root in [&paths.data, &paths.run] {
            chown_tree(root, uid, gid)?;
        }
    } else {
        for dir in directories(paths) {
            make_group_writable(&dir, me)?;
        }
    }
    for dir in directories(paths) {
        check_writable(&dir)?;
    }
    Ok(())
}

/// Hands a tree to `uid:gid`, touching only entries not already owned that way.
pub fn chown_tree(root: &Path, uid: u32, gid: u32) -> Result<(), LayoutError> {
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.map_err(|e| LayoutError::Io {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.to_path_buf()),
            source: e.into(),
        })?;
        let meta = entry.metadata().map_err(|e| LayoutError::Io {
            path: entry.path().to_owned(),
            source: e.into(),
        })?;
        if meta.uid() != uid || meta.gid() != gid {
            // lchown: a symlink in the workspace must not let us chown its target.
            std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid)).map_err(|source| {
                LayoutError::Chown {
                    path: entry.path().to_owned(),
                    uid,
                    gid,
                    source,
                }
            })?;
        }
    }
    Ok(())
}

/// With fsGroup the volume root is group-owned and setgid; directories we create inherit the
/// group, and g+rwx plus setgid keeps them usable by any uid of that group after a change of uid.
fn make_group_writable(dir: &Path, me: Uid) -> Result<(), LayoutError> {
    let meta = fs::metadata(dir).map_err(|source| LayoutError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if meta.uid() != me.as_raw() {
        return Ok(()); // not ours to chmod; the writability check speaks for it
    }
    let mode = meta.permissions().mode() & 0o7777;
    let wanted = mode | 0o2070;
    if mode != wanted {
        fs::set_permissions(dir, fs::Permissions::from_mode(wanted)).map_err(|source| {
            LayoutError::Io {
                path: dir.to_owned(),
                source,
            }
        })?;
    }
    Ok(())
}

/// Proves `dir` writable by creating and removing a file in it, which is what the gateway needs;
/// mode bits alone would miss read-only mounts and ACLs.
pub fn check_writable(dir: &Path) -> Result<(), LayoutError> {
    match tempfile::Builder::new()
        .prefix(".krill-write-probe")
        .tempfile_in(dir)
    {
        Ok(probe) => probe.close().map_err(|source| LayoutError::Io {
            path: dir.to_owned(),
            source,
        }),
        Err(source) => Err(not_writable(dir, source)),
    }
}

fn not_writable(path: &Path, source: io::Error) -> LayoutError {
    let meta = fs::metadata(path).ok();
    LayoutError::NotWritable {
        path: path.to_owned(),
        uid: Uid::effective().as_raw(),
        gid: Gid::effective().as_raw(),
        owner_uid: meta.as_ref().map_or(0, MetadataExt::uid),
        owner_gid: meta.as_ref().map_or(0, MetadataExt::gid),
        mode: meta.as_ref().map_or(0, |m| m.permissions().mode() & 0o7777),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::{fixture, rstest};
    use std::collections::BTreeMap;

    #[fixture]
    fn volume() -> (tempfile::TempDir, Paths) {
        let root = tempfile::tempdir().expect("tempdir");
        let env: BTreeMap<String, String> = [
            (
                "KRILL_DATA".to_owned(),
                root.path().join("data").display().to_string(),
            ),
            (
                "KRILL_RUN_DIR".to_owned(),
                root.path().join("run").display().to_string(),
            ),
        ]
        .into();
        let paths = Paths::from_env(&env);
        (root, paths)
    }

    #[rstest]
    fn creates_the_contract_layout(volume: (tempfile::TempDir, Paths)) {
        let (_root, paths) = volume;
        let me = Uid::effective().as_raw();
        let group = Gid::effective().as_raw();
        prepare(&paths, me, group).expect("prepares");
        for dir in directories(&paths) {
            let meta = fs::metadata(&dir).expect("exists");
            assert!(meta.is_dir(), "{}", dir.display());
            assert_eq!(meta.uid(), me);
        }
        if !Uid::effective().is_root() {
            let mode = fs::metadata(paths.state())
                .expect("state")
                .permissions()
                .mode();
            assert_eq!(mode & 0o2070, 0o2070, "group-writable and setgid: {mode:o}");
        }
    }

    #[rstest]
    fn restored_files_end_up_owned_by_the_gateway_user(volume: (tempfile::TempDir, Paths)) {
        let (_root, paths) = volume;
        fs::create_dir_all(paths.workspace().join("memory")).expect("mkdir");
        fs::write(paths.workspace().join("memory/notes.md"), "x").expect("write");
        prepare(&paths, 1000, 1000).expect("prepares");
        // Only root can chown; anyone else keeps ownership and relies on fsGroup.
        let expected = if Uid::effective().is_root() {
            (1000, 1000)
        } else {
            (
                Uid::effective().as_raw(),
                fs::metadata(&paths.data).expect("data").gid(),
            )
        };
        for path in [
            paths.data.clone(),
            paths.workspace().join("memory/notes.md"),
            paths.run.clone(),
        ] {
            let meta = fs::metadata(&path).expect("exists");
            assert_eq!((meta.uid(), meta.gid()), expected, "{}", path.display());
        }
    }
}
