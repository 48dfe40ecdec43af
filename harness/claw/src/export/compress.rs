//! The compression workers: CRC and deflate for each job, whole files with libdeflate, chunks of
//! large files with zlib-rs (sync flush, primed with the previous chunk's end) so the chunks
//! concatenate into one stream; data deflate would not shrink is stored.

use std::io;

use crossbeam_channel::{Receiver, Sender};
use flate2::{Compress, Compression, FlushCompress};
use libdeflater::{CompressionLvl, Compressor};

use super::level::Level;
use super::pipeline::{Done, Job, read_small_file};
use super::scan::Item;
use crate::error::ClawError;
use crate::zipfmt::{METHOD_DEFLATE, METHOD_STORED};

/// How much of a file the quick compressibility test deflates.
const SAMPLE: usize = 64 << 10;

/// Whether a file is already entropy-coded (by extension or magic bytes), so deflating it is waste.
pub(super) fn looks_compressed(name: &str, head: &[u8]) -> bool {
    // Zip containers (zip, jar, docx, npz, .claw itself, ...) are left out on purpose: their
    // members may be stored rather than deflated (numpy's savez, `jar -0`), so they go through
    // the sample test like any other file.
    const EXTENSIONS: &[&str] = &[
        "7z", "avif", "br", "bz2", "flac", "gif", "gz", "heic", "jpeg", "jpg", "lz", "lz4", "lzma",
        "m4a", "mkv", "mov", "mp3", "mp4", "ogg", "opus", "png", "rar", "tgz", "txz", "webm",
        "webp", "woff", "woff2", "xz", "zst",
    ];
    if let Some((_, ext)) = name.rsplit_once('.')
        && EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    {
        return true;
    }
    const MAGIC: &[&[u8]] = &[
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
pub(super) fn level_one() -> CompressionLvl {
    CompressionLvl::new(1).unwrap_or_default()
}

/// Quick test on a sample: does deflate shrink this data by at least 3%?
pub(super) fn sample_compresses(fast: &mut Compressor, data: &[u8], scratch: &mut Vec<u8>) -> bool {
    let sample = &data[..data.len().min(SAMPLE)];
    scratch.resize(fast.deflate_compress_bound(sample.len()), 0);
    match fast.deflate_compress(sample, scratch) {
        Ok(n) => (n as u64) * 100 < (sample.len() as u64) * 97,
        Err(_) => false,
    }
}

/// Runs jobs until the producer hangs up, sending each result tagged with its place in archive
/// order (the writer reorders them).
pub(super) fn worker(jobs: Receiver<Job>, done: Sender<(u64, Done)>, items: &[Item], level: Level) {
    let mut full =
        Compressor::new(CompressionLvl::new(i32::from(level.whole())).unwrap_or_default());
    let mut fast = Compressor::new(level_one());
    let mut sample_buf = Vec::new();
    // One zlib-rs stream per worker, reset per chunk, instead of allocating its tables per chunk.
    let mut chunker = Compress::new(Compression::new(u32::from(level.chunked())), false);
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::super::pipeline::{CHUNK, DICT};
    use super::*;

    #[test]
    fn recognises_compressed_formats() {
        assert!(looks_compressed("a/photo.JPG", b""));
        assert!(looks_compressed("blob", b"\x1f\x8b\x08\x00"));
        assert!(looks_compressed("movie", b"\0\0\0\x20ftypisom"));
        assert!(!looks_compressed("notes.md", b"# hello"));
        // Containers may hold stored members: the sample test decides for them.
        assert!(!looks_compressed("features.npz", b"PK\x03\x04"));
        assert!(!looks_compressed("lib.jar", b"PK\x03\x04"));
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
