//! Import: check everything, extract into a staging directory beside the target, then move
//! into place. The target never sees a partial file.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::ClawError;
use crate::limits::Limits;
use crate::manifest::{FORMAT_NAME, Manifest};
use crate::progress::Progress;
use crate::read::{self, Entry, Scratch};
use crate::zipfmt::ReadAt;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub limits: Limits,
    /// Show a progress bar, if stderr is a terminal.
    pub progress: bool,
    /// Extraction threads (0 = all available cores).
    pub threads: usize,
    /// Allow a non-empty target: files from the archive replace same-named files there, others
    /// stay (claw.py's behaviour). Off by default, because it overwrites.
    pub merge: bool,
    /// fsync every extracted file and directory before moving them into place, so the import
    /// also survives a power cut, not only a killed process. Costs about a second per GiB.
    pub durable: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            limits: Limits::default(),
            progress: true,
            threads: 0,
            merge: false,
            durable: false,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub target: PathBuf,
    /// `None` when the archive carries no manifest.json (allowed, with a warning).
    pub manifest: Option<Manifest>,
    pub files: u64,
    pub directories: u64,
    pub bytes: u64,
    /// Whether the archive was merged into an existing non-empty directory.
    pub merged: bool,
    pub warnings: Vec<String>,
}

/// One entry as `info` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryInfo {
    /// Archive path; directories end with `/`.
    pub name: String,
    /// Uncompressed size in bytes.
    pub size: u64,
    pub compressed_size: u64,
}

/// What `info` reports: the manifest (if any) and every entry, sorted by name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchiveInfo {
    pub archive: PathBuf,
    pub manifest: Option<Manifest>,
    pub entries: Vec<EntryInfo>,
}

/// Entries handed to an extraction thread at a time.
const BATCH: usize = 16;

fn open_archive(archive: &Path) -> Result<File, ClawError> {
    let file = File::open(archive).map_err(|e| ClawError::io("opening", archive, e))?;
    let meta = file
        .metadata()
        .map_err(|e| ClawError::io("reading metadata of", archive, e))?;
    if !meta.is_file() {
        return Err(ClawError::io(
            "opening",
            archive,
            io::Error::other("not a regular file"),
        ));
    }
    Ok(file)
}

fn load_manifest<R: ReadAt + ?Sized>(
    src: &R,
    archive: &Path,
    entries: &[Entry],
) -> Result<Option<Manifest>, ClawError> {
    let Some(entry) = entries
        .iter()
        .find(|e| e.path == "manifest.json" && !e.is_dir)
    else {
        return Ok(None);
    };
    let bytes = read::read_small(src, archive, entry, 64 << 20)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ClawError::Manifest {
            archive: archive.to_path_buf(),
            detail: format!("not a valid manifest: {e}"),
        })
}

fn entry_infos(entries: &[Entry]) -> Vec<EntryInfo> {
    let mut out: Vec<EntryInfo> = entries
        .iter()
        .map(|e| EntryInfo {
            name: if e.is_dir {
                format!("{}/", e.path)
            } else {
                e.path.clone()
            },
            size: e.uncompressed,
            compressed_size: e.compressed,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Lists an archive without extracting it. Structural checks (names, types, overlaps) apply;
/// size limits do not, so you can inspect an archive that import would refuse as too large.
pub fn info(archive: &Path) -> Result<ArchiveInfo, ClawError> {
    let file = open_archive(archive)?;
    let entries = read::scan(&file, archive, &Limits::unlimited())?;
    let manifest = load_manifest(&file, archive, &entries)?;
    Ok(ArchiveInfo {
        archive: archive.to_path_buf(),
        manifest,
        entries: entry_infos(&entries),
    })
}

/// Fully checks an in-memory archive: structure, limits, and every entry's data (decompressed
/// to nowhere, size and CRC verified). Used by the fuzzer; handy for any caller holding bytes.
pub fn verify_bytes(bytes: &[u8], limits: &Limits) -> Result<ArchiveInfo, ClawError> {
    let name = Path::new("<memory>");
    let entries = read::scan(bytes, name, limits)?;
    let mut scratch = Scratch::new();
    for entry in entries.iter().filter(|e| !e.is_dir) {
        read::extract(bytes, entry, &mut io::sink(), &mut scratch, |_| {})
            .map_err(|e| read::extract_err(name, &entry.path, e))?;
    }
    let manifest = load_manifest(bytes, name, &entries)?;
    Ok(ArchiveInfo {
        archive: name.to_path_buf(),
        manifest,
        entries: entry_infos(&entries),
    })
}

fn absolute(path: &Path) -> Result<PathBuf, ClawError> {
    std::path::absolute(path).map_err(|e| ClawError::io("resolving", path, e))
}

fn is_empty_dir(path: &Path) -> Result<bool, ClawError> {
    let mut it = fs::read_dir(path).map_err(|e| ClawError::io("listing", path, e))?;
    Ok(it.next().is_none())
}

/// Extracts `archive` into `target_dir`. See docs/claw.md for the exact semantics:
/// missing or empty target -> atomic rename of a fully extracted staging directory;
/// non-empty target -> refused unless `opts.merge`.
pub fn import(
    archive: &Path,
    target_dir: &Path,
    opts: &ImportOptions,
) -> Result<ImportSummary, ClawError> {
    let file = open_archive(archive)?;
    let entries = read::scan(&file, archive, &opts.limits)?;
    let manifest = load_manifest(&file, archive, &entries)?;
    let mut warnings = Vec::new();
    match &manifest {
        None => warnings.push("archive has no manifest.json".to_owned()),
        Some(m) if m.format != FORMAT_NAME => warnings.push(format!(
            "manifest format is {:?}, expected {FORMAT_NAME:?}",
            m.format
        )),
        Some(_) => {}
    }

    let mut target = absolute(target_dir)?;
    let existed = match fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            target =
                fs::canonicalize(&target).map_err(|e| ClawError::io("resolving", &target, e))?;
            true
        }
        Ok(_) => return Err(ClawError::TargetNotADirectory(target)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(ClawError::io("inspecting", &target, e)),
    };
    let empty = existed && is_empty_dir(&target)?;
    if existed && !empty && !opts.merge {
        return Err(ClawError::TargetNotEmpty(target));
    }
    let parent = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    fs::create_dir_all(&parent).map_err(|e| ClawError::io("creating", &parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{base}.claw-import-"))
        .tempdir_in(&parent)
        .map_err(|e| ClawError::io("creating a staging directory in", &parent, e))?;
    let stage = staging.path().to_path_buf();

    let mut dirs: BTreeSet<&str> = BTreeSet::new();
    for e in &entries {
        if e.is_dir {
            dirs.insert(&e.path);
        }
        let mut p = e.path.as_str();
        while let Some(pos) = p.rfind('/') {
            p = &p[..pos];
            if !dirs.insert(p) {
                break;
            }
        }
    }
    for d in &dirs {
        let path = stage.join(d);
        fs::create_dir_all(&path).map_err(|e| ClawError::io("creating", &path, e))?;
    }

    let mut files: Vec<&Entry> = entries.iter().filter(|e| !e.is_dir).collect();
    files.sort_by_key(|e| e.data_offset);
    let bytes: u64 = files.iter().map(|e| e.uncompressed).sum();
    let progress = Progress::new(opts.progress, bytes, "unpacking");
    let threads = match opts.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    }
    .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let failure: Mutex<Option<ClawError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut scratch = Scratch::new();
                // Batches of neighbouring entries (usually one directory) per thread, so the
                // threads rarely create files in the same directory at once (its lock).
                loop {
                    let first = next.fetch_add(BATCH, Ordering::Relaxed);
                    if first >= files.len() {
                        return;
                    }
                    for entry in &files[first..(first + BATCH).min(files.len())] {
                        if abort.load(Ordering::Relaxed) {
                            return;
                        }
                        if let Err(e) = extract_one(
                            &file,
                            archive,
                            entry,
                            &stage,
                            opts.durable,
                            &mut scratch,
                            &progress,
                        ) {
                            abort.store(true, Ordering::Relaxed);
                            let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                            slot.get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    progress.finish();
    if opts.durable {
        for d in dirs.iter().map(|d| stage.join(d)).chain([stage.clone()]) {
            File::open(&d)
                .and_then(|f| f.sync_all())
                .map_err(|e| ClawError::io("syncing", &d, e))?;
        }
    }

    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| fs::canonicalize(c).ok());
    let merged = existed && !empty;
    if !existed || (empty && cwd.as_deref() != Some(target.as_path())) {
        // rename(2) replaces an empty directory atomically. The staging directory was created
        // private (0700); give the result the mode of the directory it replaces, or 0755.
        let mode = if existed {
            fs::metadata(&target)
                .map(|m| m.permissions().mode())
                .unwrap_or(0o755)
        } else {
            0o755
        };
        fs::set_permissions(&stage, fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| ClawError::io("setting permissions of", &stage, e))?;
        let kept = staging.keep();
        fs::rename(&kept, &target).map_err(|e| {
            let _ = fs::remove_dir_all(&kept);
            ClawError::io("moving the extracted archive into", &target, e)
        })?;
    } else {
        // Non-empty target (merge) or the process's own working directory (replacing it would
        // leave the shell in a deleted directory): move file by file, each rename atomic.
        move_into(&stage, &target, &entries)?;
    }
    if opts.durable {
        File::open(&parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| ClawError::io("syncing", &parent, e))?;
    }
    Ok(ImportSummary {
        target,
        manifest,
        files: files.len() as u64,
        directories: dirs.len() as u64,
        bytes,
        merged,
        warnings,
    })
}

fn extract_one(
    src: &File,
    archive: &Path,
    entry: &Entry,
    stage: &Path,
    durable: bool,
    scratch: &mut Scratch,
    progress: &Progress,
) -> Result<(), ClawError> {
    let path = stage.join(&entry.path);
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if entry.executable { 0o755 } else { 0o644 })
        .open(&path)
        .map_err(|e| ClawError::io("creating", &path, e))?;
    read::extract(src, entry, &mut out, scratch, |n| progress.advance(n)).map_err(|e| match e {
        read::ExtractError::Write(source) => ClawError::io("writing", &path, source),
        other => read::extract_err(archive, &entry.path, other),
    })?;
    if durable {
        out.sync_all()
            .map_err(|e| ClawError::io("syncing", &path, e))?;
    }
    Ok(())
}

/// Moves every staged entry into `target`, after checking that none would replace a directory
/// with a file (or the reverse) or pass through a symlink in the target.
fn move_into(stage: &Path, target: &Path, entries: &[Entry]) -> Result<(), ClawError> {
    let kind = |p: &Path| -> Option<&'static str> {
        let m = fs::symlink_metadata(p).ok()?;
        Some(if m.file_type().is_symlink() {
            "symbolic link"
        } else if m.is_dir() {
            "directory"
        } else if m.is_file() {
            "file"
        } else {
            "special file"
        })
    };
    let conflict = |path: &str, existing, incoming| ClawError::MergeConflict {
        target: target.to_path_buf(),
        path: path.to_owned(),
        existing,
        incoming,
    };
    for e in entries {
        let mut prefix = String::new();
        for part in e.path.split('/').take(e.path.split('/').count() - 1) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            match kind(&target.join(&prefix)) {
                None | Some("directory") => {}
                Some(k) => return Err(conflict(&prefix, k, "directory")),
            }
        }
        match (kind(&target.join(&e.path)), e.is_dir) {
            (None, _) | (Some("directory"), true) | (Some("file"), false) => {}
            (Some(k), true) => return Err(conflict(&e.path, k, "directory")),
            (Some(k), false) => return Err(conflict(&e.path, k, "file")),
        }
    }
    for e in entries {
        let dest = target.join(&e.path);
        if e.is_dir {
            fs::create_dir_all(&dest).map_err(|err| ClawError::io("creating", &dest, err))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|err| ClawError::io("creating", parent, err))?;
        }
        let from = stage.join(&e.path);
        fs::rename(&from, &dest).map_err(|err| ClawError::io("moving into place", &dest, err))?;
    }
    Ok(())
}
