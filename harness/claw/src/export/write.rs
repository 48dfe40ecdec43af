//! The writing end of an export: results put back in archive order and written as zip entries,
//! the manifest last, all into a temporary file that is synced and renamed over the output only
//! once complete.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use libdeflater::{CompressionLvl, Compressor};
use tempfile::NamedTempFile;

use super::pipeline::{Buffers, Done};
use super::scan::Item;
use crate::error::ClawError;
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::zipfmt::{EntryMeta, METHOD_DEFLATE, METHOD_STORED, ZipWriter};

/// What the writer counted, for the summary and the manifest.
#[derive(Default)]
pub(super) struct Tally {
    pub entries: u64,
    /// Entries written uncompressed because deflate would not shrink them.
    pub stored_entries: u64,
    pub bytes_read: u64,
    /// The files under `context/`, in archive order.
    pub context_files: Vec<String>,
    /// Files skipped or cut short while being packed.
    pub warnings: Vec<String>,
}

fn entry_meta(item: &Item) -> EntryMeta {
    EntryMeta {
        name: item.name.clone(),
        mtime: item.mtime,
        mode: item.mode,
    }
}

/// Writes the results arriving on `done` in archive order (`seq`), handing each buffer back on
/// `tokens` once written. Returns at the first failure; dropping both channels then unblocks the
/// producer and the workers.
pub(super) fn write_in_order(
    zip: &mut ZipWriter,
    items: &[Item],
    done: Receiver<(u64, Done)>,
    tokens: Sender<Buffers>,
    progress: &Progress,
    archive: &Path,
) -> Result<Tally, ClawError> {
    let wio = |e: io::Error| ClawError::io("writing", archive, e);
    let mut tally = Tally::default();
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    // Chunked entry in progress: (crc, compressed, uncompressed, method)
    let mut open: Option<(crc32fast::Hasher, u64, u64, u16)> = None;
    for (seq, d) in done.iter() {
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
                    tally.warnings.extend(warning);
                    let data = if method == METHOD_DEFLATE {
                        &bufs.out
                    } else {
                        &bufs.raw
                    };
                    zip.add_entry(entry_meta(&items[item]), method, crc, raw_len, data)
                        .map_err(&wio)?;
                    tally.entries += 1;
                    if method == METHOD_STORED {
                        tally.stored_entries += 1;
                    }
                    if items[item].name.starts_with("context/") {
                        tally.context_files.push(items[item].name.to_string());
                    }
                    tally.bytes_read += raw_len;
                    progress.advance(raw_len);
                    let _ = tokens.send(bufs);
                }
                Done::ChunkStart {
                    item,
                    method,
                    size_hint,
                } => {
                    zip.begin_entry(entry_meta(&items[item]), method, size_hint)
                        .map_err(&wio)?;
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
                    zip.write_data(data).map_err(&wio)?;
                    if let Some((h, c, u, _)) = open.as_mut() {
                        h.combine(&crc);
                        *c += data.len() as u64;
                        *u += raw_len;
                    }
                    tally.bytes_read += raw_len;
                    progress.advance(raw_len);
                    let _ = tokens.send(bufs);
                }
                Done::ChunkEnd { item } => {
                    let Some((h, mut c, u, method)) = open.take() else {
                        return Err(ClawError::unexportable(
                            Path::new(&*items[item].name),
                            "internal: chunk end without start",
                        ));
                    };
                    if method == METHOD_DEFLATE {
                        // Empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, EOB.
                        zip.write_data(&[0x03, 0x00]).map_err(&wio)?;
                        c += 2;
                    } else {
                        tally.stored_entries += 1;
                    }
                    zip.finish_entry(h.finalize(), c, u).map_err(&wio)?;
                    tally.entries += 1;
                    tally.context_files.push(items[item].name.to_string());
                    // The producer kept one buffer to discover end of file; replace it.
                    let _ = tokens.send(Buffers {
                        raw: Vec::new(),
                        out: Vec::new(),
                        dict: Vec::new(),
                    });
                }
                Done::Dir { item } => {
                    zip.add_entry(entry_meta(&items[item]), METHOD_STORED, 0, 0, &[])
                        .map_err(&wio)?;
                    tally.entries += 1;
                }
                Done::Skipped { warning, bufs } => {
                    tally.warnings.push(warning);
                    if let Some(bufs) = bufs {
                        let _ = tokens.send(bufs);
                    }
                }
                Done::Failed(e) => return Err(e),
            }
        }
    }
    Ok(tally)
}

/// Adds `manifest.json`, which lists what was written and so comes last.
pub(super) fn write_manifest(
    zip: &mut ZipWriter,
    manifest: &Manifest,
    mtime: i64,
    archive: &Path,
) -> Result<(), ClawError> {
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
        mtime,
        mode: 0o100644,
    };
    zip.add_entry(
        manifest_meta,
        METHOD_DEFLATE,
        crc32fast::hash(&json),
        json.len() as u64,
        &packed,
    )
    .map_err(|e| ClawError::io("writing", archive, e))
}

/// The archive while it is written: a temporary file beside the output, invisible under the
/// output's name until [`PendingArchive::commit`].
pub(super) struct PendingArchive {
    tmp: NamedTempFile,
    dir: PathBuf,
}

impl PendingArchive {
    pub fn create(dir: &Path, final_name: &str) -> Result<(Self, ZipWriter), ClawError> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{final_name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| ClawError::io("creating a temporary file in", dir, e))?;
        let file = tmp
            .as_file()
            .try_clone()
            .map_err(|e| ClawError::io("opening", tmp.path(), e))?;
        let pending = PendingArchive {
            tmp,
            dir: dir.to_path_buf(),
        };
        Ok((pending, ZipWriter::new(file)))
    }

    /// Where the archive is being written.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Finishes the zip, syncs it and renames it to `output`; returns the archive's size.
    pub fn commit(self, zip: ZipWriter, output: &Path) -> Result<u64, ClawError> {
        let wio = |e: io::Error| ClawError::io("writing", self.tmp.path(), e);
        let (file, archive_bytes) = zip.finish().map_err(wio)?;
        file.sync_all().map_err(wio)?;
        drop(file);
        let _ = fs::set_permissions(self.tmp.path(), fs::Permissions::from_mode(0o644));
        self.tmp
            .persist(output)
            .map_err(|e| ClawError::io("renaming the finished archive to", output, e.error))?;
        if let Ok(dir) = File::open(&self.dir) {
            // Make the rename itself durable.
            let _ = dir.sync_all();
        }
        Ok(archive_bytes)
    }
}
