//! Extraction of one checked entry: decompressed and checked again (size, CRC) on the way out,
//! so an archive whose data disagrees with its headers is refused mid-entry.

use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use libdeflater::{DecompressionError, Decompressor};

use super::check::{Entry, refuse};
use crate::error::{ClawError, Refusal};
use crate::zipfmt::{self, RangeReader, ReadAt};

/// Entries up to this size are inflated in one call into a buffer of exactly the declared size.
const WHOLE_ENTRY_MAX: u64 = 1 << 20;
const STREAM_BUF: usize = 256 << 10;

/// Per-thread buffers and decompressor, reused across entries.
pub(crate) struct Scratch {
    input: Vec<u8>,
    output: Vec<u8>,
    stream: Vec<u8>,
    inflater: Decompressor,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            input: Vec::new(),
            output: Vec::new(),
            stream: vec![0; STREAM_BUF],
            inflater: Decompressor::new(),
        }
    }
}

/// Why extracting one entry failed.
pub(crate) enum ExtractError {
    Refused(Refusal),
    Read(io::Error),
    Write(io::Error),
}

/// Decompresses one file entry into `out`, checking size and CRC. Returns the bytes written.
pub(crate) fn extract<R: ReadAt + ?Sized, W: Write>(
    src: &R,
    entry: &Entry,
    out: &mut W,
    scratch: &mut Scratch,
    mut progress: impl FnMut(u64),
) -> Result<u64, ExtractError> {
    let mut hasher = crc32fast::Hasher::new();
    let declared = entry.uncompressed;
    if entry.method == zipfmt::METHOD_DEFLATE
        && declared <= WHOLE_ENTRY_MAX
        && entry.compressed <= 2 * WHOLE_ENTRY_MAX
    {
        scratch.input.resize(entry.compressed as usize, 0);
        src.read_exact_at(&mut scratch.input, entry.data_offset)
            .map_err(ExtractError::Read)?;
        scratch.output.resize(declared as usize, 0);
        let n = match scratch
            .inflater
            .deflate_decompress(&scratch.input, &mut scratch.output)
        {
            Ok(n) => n,
            Err(DecompressionError::InsufficientSpace) => {
                return Err(ExtractError::Refused(Refusal::SizeMismatch {
                    declared,
                    actual: "more".into(),
                }));
            }
            Err(DecompressionError::BadData) => {
                return Err(ExtractError::Refused(Refusal::BadDeflate {
                    detail: "stream does not decode (corrupt or truncated)".into(),
                }));
            }
        };
        if n as u64 != declared {
            return Err(ExtractError::Refused(Refusal::SizeMismatch {
                declared,
                actual: format!("{n} bytes"),
            }));
        }
        hasher.update(&scratch.output[..n]);
        check_crc(entry, hasher.finalize())?;
        out.write_all(&scratch.output[..n])
            .map_err(ExtractError::Write)?;
        progress(n as u64);
        return Ok(n as u64);
    }

    let range = RangeReader {
        src,
        pos: entry.data_offset,
        end: entry.data_offset + entry.compressed,
    };
    let mut reader: Box<dyn Read + '_> = if entry.method == zipfmt::METHOD_DEFLATE {
        Box::new(flate2::bufread::DeflateDecoder::new(
            BufReader::with_capacity(STREAM_BUF, range),
        ))
    } else {
        Box::new(range)
    };
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut scratch.stream) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.kind() == io::ErrorKind::InvalidInput
                    || e.kind() == io::ErrorKind::InvalidData =>
            {
                return Err(ExtractError::Refused(Refusal::BadDeflate {
                    detail: e.to_string(),
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(ExtractError::Refused(Refusal::Truncated {
                    detail: e.to_string(),
                }));
            }
            Err(e) => return Err(ExtractError::Read(e)),
        };
        written += n as u64;
        if written > declared {
            return Err(ExtractError::Refused(Refusal::SizeMismatch {
                declared,
                actual: "more".into(),
            }));
        }
        hasher.update(&scratch.stream[..n]);
        out.write_all(&scratch.stream[..n])
            .map_err(ExtractError::Write)?;
        progress(n as u64);
    }
    if written != declared {
        return Err(ExtractError::Refused(Refusal::SizeMismatch {
            declared,
            actual: format!("{written} bytes"),
        }));
    }
    check_crc(entry, hasher.finalize())?;
    Ok(written)
}

fn check_crc(entry: &Entry, actual: u32) -> Result<(), ExtractError> {
    if actual != entry.crc {
        return Err(ExtractError::Refused(Refusal::CrcMismatch {
            declared: entry.crc,
            actual,
        }));
    }
    Ok(())
}

/// Reads a small entry fully into memory (used for manifest.json).
pub(crate) fn read_small<R: ReadAt + ?Sized>(
    src: &R,
    archive: &Path,
    entry: &Entry,
    cap: u64,
) -> Result<Vec<u8>, ClawError> {
    if entry.uncompressed > cap {
        return Err(ClawError::Manifest {
            archive: archive.to_path_buf(),
            detail: format!(
                "{} bytes is implausibly large for a manifest (limit {cap})",
                entry.uncompressed
            ),
        });
    }
    let mut out = Vec::with_capacity(entry.uncompressed as usize);
    let mut scratch = Scratch::new();
    extract(src, entry, &mut out, &mut scratch, |_| {})
        .map_err(|e| extract_err(archive, &entry.path, e))?;
    Ok(out)
}

pub(crate) fn extract_err(archive: &Path, entry: &str, e: ExtractError) -> ClawError {
    match e {
        ExtractError::Refused(reason) => refuse(archive, Some(entry), reason),
        ExtractError::Read(source) => ClawError::io("reading", archive, source),
        ExtractError::Write(source) => ClawError::io("writing extracted data of", entry, source),
    }
}
