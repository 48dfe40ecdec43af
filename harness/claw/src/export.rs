//! Export: walk the source, compress on every core, write one archive atomically.
//!
//! Pipeline (all bounded):
//!   producer thread  -- reads files in archive order into recycled buffers (at most
//!                       `in_flight` buffers exist, so memory does not grow with the archive)
//!   N workers        -- CRC + compress: small files whole with libdeflate; files larger than
//!                       one chunk in 1 MiB chunks with zlib-rs (sync flush, primed with the
//!                       previous 32 KiB), so a 300 MB file never sits in memory
//!   writer (caller)  -- puts results back in order and writes them, patching the local header
//!                       of chunked entries once their CRC and sizes are known.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use flate2::{Compress, Compression, FlushCompress};
use libdeflater::{CompressionLvl, Compressor};

use crate::error::ClawError;
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::read::check_name;
use crate::texts;
use crate::zipfmt::{EntryMeta, METHOD_DEFLATE, METHOD_STORED, ZipWriter};

/// Root-level names claw.py regenerates and therefore never copies from a source without `context/`.
pub const GENERATED_NAMES: [&str; 4] = ["manifest.json", "README.md", "claw.py", "SKILL.md"];

const CHUNK: usize = 512 << 10;
const DICT: usize = 32 << 10;
const SAMPLE: usize = 64 << 10;

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
    /// Deflate level, 1 (fastest) to 9 (smallest).
    pub level: u8,
    /// Say once on stderr when `claw_py` is `None` (off when leaving it out on purpose).
    pub note_missing_claw_py: bool,
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
        }
    }
}

/// Chosen in docs/benchmarks.md: on 1 GiB of mixed text and binary, level 2 gives archives
/// ~2.4% larger than claw.py's (zlib -6) for about half the CPU of level 6; level 3 is +1.2%
/// for 12% more CPU; level 1 would be +7% (zlib-rs level 1 is its much weaker "quick" mode).
pub const DEFAULT_LEVEL: u8 = 2;

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

enum Source {
    Memory(Vec<u8>),
    /// A file under the scan root; its path is rebuilt from the name (saves memory on big trees).
    File,
    Dir,
}

struct Item {
    name: Arc<str>,
    source: Source,
    size: u64,
    mtime: i64,
    mode: u32,
}

fn unexportable(path: &Path, reason: impl Into<String>) -> ClawError {
    ClawError::Unexportable {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Lists what goes under `context/`, sorted, plus warnings for what is skipped.
fn scan_source(
    source: &Path,
    skip_inode: Option<(u64, u64)>,
) -> Result<(PathBuf, Vec<Item>, Vec<String>), ClawError> {
    let context = source.join("context");
    let (root, top_skip): (&Path, &[&str]) = if context.is_dir() {
        (&context, &[])
    } else {
        (source, &GENERATED_NAMES)
    };
    let root_owned = root.to_path_buf();
    let mut items = Vec::new();
    let mut dirs = Vec::new();
    let mut warnings = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    let mut it = walker.into_iter();
    while let Some(entry) = it.next() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            ClawError::io(
                "reading",
                path,
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("filesystem loop")),
            )
        })?;
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(path);
        if entry.depth() == 1 && top_skip.iter().any(|s| entry.file_name() == *s) {
            if entry.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        let Some(rel_str) = rel.to_str() else {
            return Err(unexportable(
                path,
                "name is not valid UTF-8, which .claw archives cannot carry",
            ));
        };
        let ft = entry.file_type();
        let meta = entry.metadata().map_err(|e| {
            ClawError::io(
                "reading metadata of",
                path,
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("metadata")),
            )
        })?;
        let name = format!("context/{rel_str}");
        if ft.is_symlink() {
            warnings.push(format!("skipped symbolic link {}", path.display()));
            continue;
        }
        if !ft.is_dir() && !ft.is_file() {
            warnings.push(format!("skipped special file {}", path.display()));
            continue;
        }
        let check = if ft.is_dir() {
            format!("{name}/")
        } else {
            name.clone()
        };
        if let Err(reason) = check_name(check.as_bytes()) {
            return Err(unexportable(
                path,
                format!("importers would refuse it: {reason}"),
            ));
        }
        let item = Item {
            name: name.into(),
            source: if ft.is_dir() {
                Source::Dir
            } else {
                Source::File
            },
            size: if ft.is_dir() { 0 } else { meta.len() },
            mtime: meta.mtime(),
            mode: meta.mode(),
        };
        if ft.is_dir() {
            dirs.push(item);
        } else if skip_inode == Some((meta.dev(), meta.ino())) {
            warnings.push(format!(
                "skipped {} (it is the output archive)",
                path.display()
            ));
        } else {
            items.push(item);
        }
    }
    // Directories are recorded only when empty; the others are implied by their files.
    let mut parents: HashSet<&str> = HashSet::new();
    for name in items
        .iter()
        .map(|i| &*i.name)
        .chain(dirs.iter().map(|d| &*d.name))
    {
        let mut n = name;
        while let Some(pos) = n.rfind('/') {
            n = &n[..pos];
            if !parents.insert(n) {
                break;
            }
        }
    }
    let empty: Vec<bool> = dirs.iter().map(|d| !parents.contains(&*d.name)).collect();
    let mut keep = empty.into_iter();
    dirs.retain(|_| keep.next().unwrap_or(false));
    for d in &mut dirs {
        d.name = format!("{}/", d.name).into();
    }
    items.extend(dirs);
    if items.is_empty() {
        // Nothing to pack: still record `context/` so that an import recreates it.
        let meta = fs::metadata(&root_owned)
            .map_err(|e| ClawError::io("reading metadata of", &root_owned, e))?;
        items.push(Item {
            name: Arc::from("context/"),
            source: Source::Dir,
            size: 0,
            mtime: meta.mtime(),
            mode: 0o040755,
        });
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));

    let mut lower: HashMap<String, &str> = HashMap::with_capacity(items.len());
    for item in &items {
        let key = item.name.trim_end_matches('/').to_lowercase();
        if let Some(other) = lower.insert(key, &item.name) {
            return Err(unexportable(
                &source.join(&*item.name),
                format!(
                    "its name differs only in letter case from {other:?}; importers refuse such pairs (rename one)"
                ),
            ));
        }
    }
    Ok((root_owned, items, warnings))
}

struct Buffers {
    raw: Vec<u8>,
    out: Vec<u8>,
    dict: Vec<u8>,
}

enum Job {
    /// A whole entry; `read_from` set means the worker reads the (small) file itself, so file
    /// reads of the many small files run on every worker, not only on the producer.
    Whole {
        seq: u64,
        item: usize,
        bufs: Buffers,
        read_from: Option<PathBuf>,
    },
    Chunk {
        seq: u64,
        item: usize,
        bufs: Buffers,
        deflate: bool,
    },
}

enum Done {
    Whole {
        item: usize,
        method: u16,
        crc: u32,
        raw_len: u64,
        bufs: Buffers,
        warning: Option<String>,
    },
    ChunkStart {
        item: usize,
        method: u16,
        size_hint: u64,
    },
    Chunk {
        method: u16,
        crc: crc32fast::Hasher,
        raw_len: u64,
        bufs: Buffers,
    },
    ChunkEnd {
        item: usize,
    },
    Dir {
        item: usize,
    },
    Skipped {
        warning: String,
        bufs: Option<Buffers>,
    },
    Failed(ClawError),
}

/// Whether a file is already compressed (by extension or magic bytes), so deflating it is waste.
fn looks_compressed(name: &str, head: &[u8]) -> bool {
    const EXTENSIONS: &[&str] = &[
        "7z", "apk", "avif", "br", "bz2", "claw", "docx", "epub", "flac", "gif", "gz", "heic",
        "jar", "jpeg", "jpg", "lz", "lz4", "lzma", "m4a", "mkv", "mov", "mp3", "mp4", "odt", "ogg",
        "opus", "png", "pptx", "rar", "tgz", "txz", "webm", "webp", "whl", "woff", "woff2", "xlsx",
        "xz", "zip", "zst",
    ];
    if let Some((_, ext)) = name.rsplit_once('.')
        && EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    {
        return true;
    }
    const MAGIC: &[&[u8]] = &[
        b"PK\x03\x04",
        b"\x1f\x8b",
        b"BZh",
        b"\xfd7zXZ\x00",
        b"\x28\xb5\x2f\xfd",
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"GIF8",
        b"7z\xbc\xaf\x27\x1c",
        b"Rar!",
        b"OggS",
        b"fLaC",
        b"ID3",
        b"\x04\x22\x4d\x18",
        b"wOFF",
        b"wOF2",
    ];
    MAGIC.iter().any(|m| head.starts_with(m)) || (head.len() >= 12 && &head[4..8] == b"ftyp")
}

/// libdeflate level 1 (its `fastest()` is level 0, which does not compress at all).
fn level_one() -> CompressionLvl {
    CompressionLvl::new(1).unwrap_or_default()
}

/// Quick test on a sample: does deflate shrink this data by at least 3%?
fn sample_compresses(fast: &mut Compressor, data: &[u8], scratch: &mut Vec<u8>) -> bool {
    let sample = &data[..data.len().min(SAMPLE)];
    scratch.resize(fast.deflate_compress_bound(sample.len()), 0);
    match fast.deflate_compress(sample, scratch) {
        Ok(n) => (n as u64) * 100 < (sample.len() as u64) * 97,
        Err(_) => false,
    }
}

fn worker(jobs: Receiver<Job>, done: Sender<(u64, Done)>, items: &[Item], level: u8) {
    let lvl = CompressionLvl::new(level.clamp(1, 12) as i32).unwrap_or_default();
    let mut full = Compressor::new(lvl);
    let mut fast = Compressor::new(level_one());
    let mut sample_buf = Vec::new();
    // One zlib-rs stream per worker, reset per chunk, instead of allocating its tables per chunk.
    let mut chunker = Compress::new(Compression::new(u32::from(level.clamp(1, 9))), false);
    for job in jobs {
        let (seq, result) = match job {
            Job::Whole {
                seq,
                item,
                mut bufs,
                read_from,
            } => {
                let mut warning = None;
                if let Some(path) = read_from {
                    match read_small_file(&path, &mut bufs.raw) {
                        Ok(complete) => {
                            if !complete {
                                warning = Some(format!(
                                    "{} grew while being packed; archived its first {} bytes",
                                    path.display(),
                                    bufs.raw.len()
                                ));
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            let warning =
                                format!("skipped {} (deleted during export)", path.display());
                            if done
                                .send((
                                    seq,
                                    Done::Skipped {
                                        warning,
                                        bufs: Some(bufs),
                                    },
                                ))
                                .is_err()
                            {
                                return;
                            }
                            continue;
                        }
                        Err(e) => {
                            let _ =
                                done.send((seq, Done::Failed(ClawError::io("reading", &path, e))));
                            return;
                        }
                    }
                }
                let raw = &bufs.raw;
                let crc = crc32fast::hash(raw);
                let mut method = METHOD_STORED;
                if !raw.is_empty()
                    && !looks_compressed(&items[item].name, raw)
                    && (raw.len() <= SAMPLE || sample_compresses(&mut fast, raw, &mut sample_buf))
                {
                    let bound = full.deflate_compress_bound(raw.len());
                    bufs.out.clear();
                    bufs.out.reserve_exact(bound);
                    bufs.out.resize(bound, 0);
                    if let Ok(n) = full.deflate_compress(raw, &mut bufs.out)
                        && n < raw.len()
                    {
                        bufs.out.truncate(n);
                        method = METHOD_DEFLATE;
                    }
                }
                let raw_len = bufs.raw.len() as u64;
                (
                    seq,
                    Done::Whole {
                        item,
                        method,
                        crc,
                        raw_len,
                        bufs,
                        warning,
                    },
                )
            }
            Job::Chunk {
                seq,
                item,
                mut bufs,
                deflate,
            } => {
                let mut crc = crc32fast::Hasher::new();
                crc.update(&bufs.raw);
                let raw_len = bufs.raw.len() as u64;
                if deflate {
                    match deflate_chunk(&mut chunker, &bufs.raw, &bufs.dict, &mut bufs.out) {
                        Ok(()) => (
                            seq,
                            Done::Chunk {
                                method: METHOD_DEFLATE,
                                crc,
                                raw_len,
                                bufs,
                            },
                        ),
                        Err(e) => (
                            seq,
                            Done::Failed(ClawError::io("compressing", &*items[item].name, e)),
                        ),
                    }
                } else {
                    (
                        seq,
                        Done::Chunk {
                            method: METHOD_STORED,
                            crc,
                            raw_len,
                            bufs,
                        },
                    )
                }
            }
        };
        if done.send((seq, result)).is_err() {
            return;
        }
    }
}

/// Raw deflate of one chunk, ending byte-aligned and non-final (sync flush), so chunks can be
/// concatenated and closed with an empty final block.
fn deflate_chunk(c: &mut Compress, raw: &[u8], dict: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    c.reset();
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    out.clear();
    out.reserve_exact(raw.len() + raw.len() / 16 + 64);
    loop {
        let consumed = c.total_in() as usize;
        c.compress_vec(&raw[consumed..], out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        if c.total_in() as usize == raw.len() && out.len() < out.capacity() {
            return Ok(());
        }
        // Grow by a fixed step: Vec's doubling would make every recycled buffer twice as big.
        out.reserve_exact(64 << 10);
    }
}

/// Reads a file that was smaller than a chunk when scanned. Returns false if it has grown past
/// a chunk since: then only its first chunk is kept (a prefix, as any snapshot of a file being
/// appended to is), so memory stays bounded.
fn read_small_file(path: &Path, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut file = File::open(path)?;
    fill(&mut file, buf, CHUNK)?;
    if buf.len() < CHUNK {
        return Ok(true);
    }
    let mut probe = [0u8; 1];
    Ok(file.read(&mut probe)? == 0)
}

/// Reads up to `buf`'s target length; returns fewer bytes only at end of file.
fn fill(file: &mut File, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    buf.clear();
    buf.reserve_exact(want);
    let mut taken = (&mut *file).take(want as u64);
    taken.read_to_end(buf)
}

struct Producer<'a> {
    items: &'a [Item],
    root: &'a Path,
    jobs: Sender<Job>,
    done: Sender<(u64, Done)>,
    tokens: Receiver<Buffers>,
    seq: u64,
}

impl Producer<'_> {
    fn send_done(&mut self, d: Done) -> bool {
        let ok = self.done.send((self.seq, d)).is_ok();
        self.seq += 1;
        ok
    }

    fn send_job(&mut self, make: impl FnOnce(u64) -> Job) -> bool {
        let ok = self.jobs.send(make(self.seq)).is_ok();
        self.seq += 1;
        ok
    }

    fn run(mut self) {
        let mut fast = Compressor::new(level_one());
        let mut sample_buf = Vec::new();
        let mut tail = Vec::with_capacity(DICT);
        for (idx, item) in self.items.iter().enumerate() {
            let path = match &item.source {
                Source::Dir => {
                    if !self.send_done(Done::Dir { item: idx }) {
                        return;
                    }
                    continue;
                }
                Source::Memory(bytes) => {
                    let Ok(mut bufs) = self.tokens.recv() else {
                        return;
                    };
                    bufs.raw.clear();
                    bufs.raw.extend_from_slice(bytes);
                    if !self.send_job(|seq| Job::Whole {
                        seq,
                        item: idx,
                        bufs,
                        read_from: None,
                    }) {
                        return;
                    }
                    continue;
                }
                Source::File => self
                    .root
                    .join(item.name.strip_prefix("context/").unwrap_or(&item.name)),
            };
            if item.size < CHUNK as u64 {
                let Ok(bufs) = self.tokens.recv() else { return };
                if !self.send_job(|seq| Job::Whole {
                    seq,
                    item: idx,
                    bufs,
                    read_from: Some(path),
                }) {
                    return;
                }
                continue;
            }
            let path = &path;
            let mut file = match File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let warning = format!("skipped {} (deleted during export)", path.display());
                    if !self.send_done(Done::Skipped {
                        warning,
                        bufs: None,
                    }) {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    self.send_done(Done::Failed(ClawError::io("opening", path, e)));
                    return;
                }
            };
            let Ok(mut bufs) = self.tokens.recv() else {
                return;
            };
            if let Err(e) = fill(&mut file, &mut bufs.raw, CHUNK) {
                self.send_done(Done::Failed(ClawError::io("reading", path, e)));
                return;
            }
            if bufs.raw.len() < CHUNK {
                if !self.send_job(|seq| Job::Whole {
                    seq,
                    item: idx,
                    bufs,
                    read_from: None,
                }) {
                    return;
                }
                continue;
            }
            // Large file: decide once whether to deflate, then stream it in chunks.
            let deflate = !looks_compressed(&item.name, &bufs.raw)
                && sample_compresses(&mut fast, &bufs.raw, &mut sample_buf);
            let method = if deflate {
                METHOD_DEFLATE
            } else {
                METHOD_STORED
            };
            if !self.send_done(Done::ChunkStart {
                item: idx,
                method,
                size_hint: item.size,
            }) {
                return;
            }
            tail.clear();
            loop {
                bufs.dict.clear();
                bufs.dict.extend_from_slice(&tail);
                if deflate {
                    tail.clear();
                    tail.extend_from_slice(&bufs.raw[bufs.raw.len().saturating_sub(DICT)..]);
                }
                if !self.send_job(|seq| Job::Chunk {
                    seq,
                    item: idx,
                    bufs,
                    deflate,
                }) {
                    return;
                }
                let Ok(next) = self.tokens.recv() else { return };
                bufs = next;
                if let Err(e) = fill(&mut file, &mut bufs.raw, CHUNK) {
                    self.send_done(Done::Failed(ClawError::io("reading", path, e)));
                    return;
                }
                if bufs.raw.is_empty() {
                    // Nothing left: hand the unused buffer back through the writer's path.
                    if !self.send_done(Done::ChunkEnd { item: idx }) {
                        return;
                    }
                    // The writer returns a token per processed buffer; this one never left us.
                    drop(bufs);
                    break;
                }
            }
        }
    }
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
        .ok_or_else(|| unexportable(output, "output path has no file name"))?
        .to_string_lossy()
        .into_owned();
    let skip_inode = fs::metadata(output).ok().map(|m| (m.dev(), m.ino()));
    let (root, context_items, mut warnings) = scan_source(source_dir, skip_inode)?;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
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
    items.extend(context_items);

    let threads = match opts.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let total_bytes: u64 = items.iter().map(|i| i.size).sum();
    let progress = Progress::new(opts.progress, total_bytes, "packing");

    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{out_name}."))
        .suffix(".tmp")
        .tempfile_in(&out_dir)
        .map_err(|e| ClawError::io("creating a temporary file in", &out_dir, e))?;
    let file = tmp
        .as_file()
        .try_clone()
        .map_err(|e| ClawError::io("opening", tmp.path(), e))?;
    let mut zip = ZipWriter::new(file);
    let tmp_path = tmp.path().to_path_buf();
    let wio = |e: io::Error| ClawError::io("writing", &tmp_path, e);

    // Enough buffers to keep every worker busy while the producer fills the next one; each costs
    // about two chunks of memory, so this is what bounds peak RSS (docs/benchmarks.md).
    let in_flight = threads + 2;
    let (token_tx, token_rx) = bounded::<Buffers>(in_flight);
    for _ in 0..in_flight {
        let _ = token_tx.send(Buffers {
            raw: Vec::new(),
            out: Vec::new(),
            dict: Vec::new(),
        });
    }
    let (job_tx, job_rx) = bounded::<Job>(in_flight);
    let (done_tx, done_rx) = unbounded::<(u64, Done)>();

    let mut context_files = Vec::new();
    let mut stored_entries = 0u64;
    let mut bytes_read = 0u64;
    let meta_of = |item: &Item| EntryMeta {
        name: item.name.clone(),
        mtime: item.mtime,
        mode: item.mode,
    };

    let mut entries = 0u64;
    let result: Result<(), ClawError> = std::thread::scope(|s| {
        // Owned here so that an early error return drops them, which unblocks the producer
        // (waiting for a buffer) and the workers (sending results) before the scope joins.
        let token_tx = token_tx;
        let done_rx = done_rx;
        let items = &items;
        for _ in 0..threads {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            let level = opts.level;
            s.spawn(move || worker(rx, tx, items, level));
        }
        let producer = Producer {
            items,
            root: &root,
            jobs: job_tx,
            done: done_tx,
            tokens: token_rx,
            seq: 0,
        };
        s.spawn(move || producer.run());
        drop(job_rx);

        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next = 0u64;
        // Chunked entry in progress: (crc, compressed, uncompressed, method)
        let mut open: Option<(crc32fast::Hasher, u64, u64, u16)> = None;
        for (seq, d) in done_rx.iter() {
            pending.insert(seq, d);
            while let Some(d) = pending.remove(&next) {
                next += 1;
                match d {
                    Done::Whole {
                        item,
                        method,
                        crc,
                        raw_len,
                        bufs,
                        warning,
                    } => {
                        warnings.extend(warning);
                        let data = if method == METHOD_DEFLATE {
                            &bufs.out
                        } else {
                            &bufs.raw
                        };
                        zip.add_entry(meta_of(&items[item]), method, crc, raw_len, data)
                            .map_err(wio)?;
                        entries += 1;
                        if method == METHOD_STORED {
                            stored_entries += 1;
                        }
                        if items[item].name.starts_with("context/") {
                            context_files.push(items[item].name.to_string());
                        }
                        bytes_read += raw_len;
                        progress.advance(raw_len);
                        let _ = token_tx.send(bufs);
                    }
                    Done::ChunkStart {
                        item,
                        method,
                        size_hint,
                    } => {
                        zip.begin_entry(meta_of(&items[item]), method, size_hint)
                            .map_err(wio)?;
                        open = Some((crc32fast::Hasher::new(), 0, 0, method));
                    }
                    Done::Chunk {
                        method,
                        crc,
                        raw_len,
                        bufs,
                    } => {
                        let data = if method == METHOD_DEFLATE {
                            &bufs.out
                        } else {
                            &bufs.raw
                        };
                        zip.write_data(data).map_err(wio)?;
                        if let Some((h, c, u, _)) = open.as_mut() {
                            h.combine(&crc);
                            *c += data.len() as u64;
                            *u += raw_len;
                        }
                        bytes_read += raw_len;
                        progress.advance(raw_len);
                        let _ = token_tx.send(bufs);
                    }
                    Done::ChunkEnd { item } => {
                        let Some((h, mut c, u, method)) = open.take() else {
                            return Err(unexportable(
                                Path::new(&*items[item].name),
                                "internal: chunk end without start",
                            ));
                        };
                        if method == METHOD_DEFLATE {
                            // Empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, EOB.
                            zip.write_data(&[0x03, 0x00]).map_err(wio)?;
                            c += 2;
                        } else {
                            stored_entries += 1;
                        }
                        zip.finish_entry(h.finalize(), c, u).map_err(wio)?;
                        entries += 1;
                        context_files.push(items[item].name.to_string());
                        // The producer kept one buffer to discover end of file; replace it.
                        let _ = token_tx.send(Buffers {
                            raw: Vec::new(),
                            out: Vec::new(),
                            dict: Vec::new(),
                        });
                    }
                    Done::Dir { item } => {
                        zip.add_entry(meta_of(&items[item]), METHOD_STORED, 0, 0, &[])
                            .map_err(wio)?;
                        entries += 1;
                    }
                    Done::Skipped { warning, bufs } => {
                        warnings.push(warning);
                        if let Some(bufs) = bufs {
                            let _ = token_tx.send(bufs);
                        }
                    }
                    Done::Failed(e) => return Err(e),
                }
            }
        }
        Ok(())
    });
    // Dropping the receivers above unblocks any thread still sending; scope joined them.
    result?;
    progress.finish();

    let manifest = Manifest::new(&opts.generated_by, context_files);
    let json = manifest.to_json();
    let mut deflater = Compressor::new(CompressionLvl::default());
    let mut packed = vec![0u8; deflater.deflate_compress_bound(json.len())];
    let n = deflater.deflate_compress(&json, &mut packed).map_err(|e| {
        ClawError::io(
            "compressing",
            "manifest.json",
            io::Error::other(e.to_string()),
        )
    })?;
    packed.truncate(n);
    let manifest_meta = EntryMeta {
        name: Arc::from("manifest.json"),
        mtime: now,
        mode: 0o100644,
    };
    zip.add_entry(
        manifest_meta,
        METHOD_DEFLATE,
        crc32fast::hash(&json),
        json.len() as u64,
        &packed,
    )
    .map_err(wio)?;
    entries += 1;

    let (file, archive_bytes) = zip.finish().map_err(wio)?;
    file.sync_all().map_err(wio)?;
    drop(file);
    let _ = fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644));
    tmp.persist(output)
        .map_err(|e| ClawError::io("renaming the finished archive to", output, e.error))?;
    if let Ok(dir) = File::open(&out_dir) {
        // Make the rename itself durable.
        let _ = dir.sync_all();
    }
    Ok(ExportSummary {
        output: output.to_path_buf(),
        manifest,
        entries,
        stored_entries,
        bytes_read,
        archive_bytes,
        claw_py_included,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_compressed_formats() {
        assert!(looks_compressed("a/photo.JPG", b""));
        assert!(looks_compressed("blob", b"\x1f\x8b\x08\x00"));
        assert!(looks_compressed("movie", b"\0\0\0\x20ftypisom"));
        assert!(!looks_compressed("notes.md", b"# hello"));
    }

    #[test]
    fn chunks_concatenate_into_one_valid_stream() {
        let text: Vec<u8> = (0..3 * CHUNK + 123)
            .map(|i| b"lorem ipsum dolor "[i % 18] ^ (i / 7919) as u8)
            .collect();
        let mut stream = Vec::new();
        let mut out = Vec::new();
        let mut dict: &[u8] = &[];
        let mut c = Compress::new(Compression::new(6), false);
        for chunk in text.chunks(CHUNK) {
            deflate_chunk(&mut c, chunk, dict, &mut out).expect("deflate");
            stream.extend_from_slice(&out);
            dict = &chunk[chunk.len().saturating_sub(DICT)..];
        }
        stream.extend_from_slice(&[0x03, 0x00]);
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&stream[..])
            .read_to_end(&mut back)
            .expect("inflate");
        assert_eq!(back, text);
    }
}
