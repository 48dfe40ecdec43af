//! Export: walk the source, compress on every core, write one archive atomically.
//!
//! Pipeline (all bounded):
//!   [`scan`]         -- lists what goes into the archive, refusing what importers would refuse
//!   producer thread  -- ([`produce`]) reads files in archive order into recycled buffers (at most
//!                       `in_flight` buffers exist, so memory does not grow with the archive)
//!   N workers        -- ([`compress`]) CRC + compress: small files whole with libdeflate; files
//!                       larger than one chunk in chunks with zlib-rs (sync flush, primed with the
//!                       previous 32 KiB), so a 300 MB file never sits in memory
//!   writer (caller)  -- ([`write`]) puts results back in order and writes them, patching the
//!                       local header of chunked entries once their CRC and sizes are known.
//! [`pipeline`] holds what passes between them.

mod compress;
mod level;
mod pipeline;
mod produce;
mod scan;
mod write;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{bounded, unbounded};

use crate::error::ClawError;
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::texts;
use crate::zipfmt::ZipWriter;
use pipeline::{Buffers, Done, Job};
use produce::Producer;
use scan::{Item, Source, scan_source};
use write::{PendingArchive, Tally, write_in_order, write_manifest};

pub use level::Level;
pub use scan::GENERATED_NAMES;

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Written to the manifest's `generated_by`.
    pub generated_by: String,
    /// claw.py to bundle into the archive; `None` leaves it out (noted once on stderr).
    pub claw_py: Option<PathBuf>,
    /// Compression threads (0 = all available cores).
    pub threads: usize,
    /// Show a progress bar, if stderr is a terminal.
    pub progress: bool,
    /// Deflate level: per file by default, or one for all.
    pub level: Level,
    /// Say once on stderr when `claw_py` is `None` (off when leaving it out on purpose).
    pub note_missing_claw_py: bool,
    /// Recorded in the manifest's `left_out`: what the caller kept out of the source on purpose.
    pub left_out: Vec<crate::LeftOut>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            generated_by: format!("krill-claw {}", env!("CARGO_PKG_VERSION")),
            claw_py: locate_claw_py(),
            threads: 0,
            progress: true,
            level: DEFAULT_LEVEL,
            note_missing_claw_py: true,
            left_out: Vec::new(),
        }
    }
}

/// Per file ([`Level::Auto`]): the only default that kept archives within 5% of claw.py's on
/// every workspace shape in docs/benchmarks.md; a fixed level 2 was 6.6% larger on a mixed
/// workspace made by another generator.
pub const DEFAULT_LEVEL: Level = Level::Auto;

/// What an export did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub output: PathBuf,
    pub manifest: Manifest,
    /// Entries in the archive, generated files included.
    pub entries: u64,
    /// Entries written uncompressed because deflate would not shrink them.
    pub stored_entries: u64,
    pub bytes_read: u64,
    pub archive_bytes: u64,
    pub claw_py_included: bool,
    /// Things skipped (symlinks, special files, files that vanished mid-export).
    pub warnings: Vec<String>,
}

/// Finds claw.py: `$KRILL_CLAW_PY`, then the submodule next to this crate's sources, then the
/// copy installed in the image.
pub fn locate_claw_py() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("KRILL_CLAW_PY").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../claw.py/claw.py")),
        Some(PathBuf::from("/usr/local/bin/claw.py")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

static CLAW_PY_NOTED: AtomicBool = AtomicBool::new(false);

fn note_once(message: &str) {
    if !CLAW_PY_NOTED.swap(true, Ordering::Relaxed) {
        eprintln!("krill claw: {message}");
    }
}

/// README.md, SKILL.md and (when found) claw.py, as the archive's first entries; and whether
/// claw.py is among them.
fn generated_items(opts: &ExportOptions, now: i64) -> (Vec<Item>, bool) {
    let generated = |name: &str, bytes: Vec<u8>| Item {
        name: name.into(),
        size: bytes.len() as u64,
        source: Source::Memory(bytes),
        mtime: now,
        mode: 0o100644,
    };
    let mut items = vec![
        generated("README.md", texts::readme().into_bytes()),
        generated("SKILL.md", texts::skill().into_bytes()),
    ];
    let mut claw_py_included = false;
    match &opts.claw_py {
        Some(path) => match fs::read(path) {
            Ok(bytes) => {
                let mut item = generated("claw.py", bytes);
                if let Ok(m) = fs::metadata(path) {
                    item.mtime = m.mtime();
                    item.mode = 0o100000 | (m.mode() & 0o777);
                }
                items.push(item);
                claw_py_included = true;
            }
            Err(e) => note_once(&format!(
                "cannot read claw.py at {} ({e}); archives are written without it",
                path.display()
            )),
        },
        None if !opts.note_missing_claw_py => {}
        None => note_once(
            "claw.py not found ($KRILL_CLAW_PY, the claw.py submodule, /usr/local/bin/claw.py); \
             archives are written without it",
        ),
    }
    (items, claw_py_included)
}

/// Writes `source_dir` as a `.claw` archive at exactly `output` (no extension added: that is
/// the CLI's job). The archive appears under its final name only when complete and synced.
pub fn export(
    source_dir: &Path,
    output: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, ClawError> {
    if !source_dir.is_dir() {
        return Err(ClawError::SourceNotADirectory(source_dir.to_path_buf()));
    }
    let out_dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let out_name = output
        .file_name()
        .ok_or_else(|| ClawError::unexportable(output, "output path has no file name"))?
        .to_string_lossy()
        .into_owned();
    let skip_inode = fs::metadata(output).ok().map(|m| (m.dev(), m.ino()));
    let (root, context_items, mut warnings) = scan_source(source_dir, skip_inode)?;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (mut items, claw_py_included) = generated_items(opts, now);
    items.extend(context_items);

    let (archive, mut zip) = PendingArchive::create(&out_dir, &out_name)?;
    let tally = pack(&items, &root, opts, &mut zip, archive.path())?;
    warnings.extend(tally.warnings);

    let mut manifest = Manifest::new(&opts.generated_by, tally.context_files);
    manifest.left_out = opts.left_out.clone();
    write_manifest(&mut zip, &manifest, now, archive.path())?;
    let archive_bytes = archive.commit(zip, output)?;
    Ok(ExportSummary {
        output: output.to_path_buf(),
        manifest,
        // The manifest is the last entry.
        entries: tally.entries + 1,
        stored_entries: tally.stored_entries,
        bytes_read: tally.bytes_read,
        archive_bytes,
        claw_py_included,
        warnings,
    })
}

/// Runs the producer and the workers and writes what they make into `zip`, in archive order.
fn pack(
    items: &[Item],
    root: &Path,
    opts: &ExportOptions,
    zip: &mut ZipWriter,
    archive: &Path,
) -> Result<Tally, ClawError> {
    let threads = match opts.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let total_bytes: u64 = items.iter().map(|i| i.size).sum();
    let progress = Progress::new(opts.progress, total_bytes, "packing");
    // Enough buffers to keep every worker busy while the producer fills the next one; each costs
    // about two chunks of memory, so this is what bounds peak RSS (docs/benchmarks.md).
    let in_flight = threads + 2;
    let (token_tx, token_rx) = bounded::<Buffers>(in_flight);
    for _ in 0..in_flight {
        let _ = token_tx.send(Buffers::default());
    }
    let (job_tx, job_rx) = bounded::<Job>(in_flight);
    let (done_tx, done_rx) = unbounded::<(u64, Done)>();
    let tally = std::thread::scope(|s| {
        for _ in 0..threads {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            let level = opts.level;
            s.spawn(move || compress::worker(rx, tx, items, level));
        }
        let producer = Producer::new(items, root, job_tx, done_tx, token_rx);
        s.spawn(move || producer.run());
        drop(job_rx);
        // Moved into the writer so that an early error return drops them, which unblocks the
        // producer (waiting for a buffer) and the workers (sending results) before the scope
        // joins them.
        write_in_order(zip, items, done_rx, token_tx, &progress, archive)
    })?;
    progress.finish();
    Ok(tally)
}
