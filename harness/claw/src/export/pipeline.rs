//! What moves through the export pipeline: recycled buffers, the jobs that carry them to the
//! workers and the results that carry them on to the writer, and the bounded reads that fill them.
//! A buffer is never larger than about one chunk, so memory does not grow with the files.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::ClawError;

/// Files smaller than this are compressed whole; larger ones are streamed in chunks of it.
pub(super) const CHUNK: usize = 512 << 10;
/// How much of the previous chunk primes the next one's deflate (deflate's whole window).
pub(super) const DICT: usize = 32 << 10;

/// One unit of the pipeline's memory, handed round as a token: the producer may only read
/// ahead while it holds one.
#[derive(Default)]
pub(super) struct Buffers {
    /// Uncompressed bytes.
    pub raw: Vec<u8>,
    /// Deflated bytes.
    pub out: Vec<u8>,
    /// The end of the previous chunk, priming this chunk's deflate.
    pub dict: Vec<u8>,
}

/// Work for a compression worker; `seq` is the result's place in archive order.
pub(super) enum Job {
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

/// What the writer receives, by `seq`: compressed data or what to record instead.
pub(super) enum Done {
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

/// Reads a file that was smaller than a chunk when scanned. Returns false if it has grown past
/// a chunk since: then only its first chunk is kept (a prefix, as any snapshot of a file being
/// appended to is), so memory stays bounded.
pub(super) fn read_small_file(path: &Path, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut file = File::open(path)?;
    fill(&mut file, buf, CHUNK)?;
    if buf.len() < CHUNK {
        return Ok(true);
    }
    let mut probe = [0u8; 1];
    Ok(file.read(&mut probe)? == 0)
}

/// Reads up to `buf`'s target length; returns fewer bytes only at end of file.
pub(super) fn fill(file: &mut File, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    buf.clear();
    buf.reserve_exact(want);
    let mut taken = (&mut *file).take(want as u64);
    taken.read_to_end(buf)
}
