//! The producer: walks the items in archive order and turns each into jobs (small files are read
//! by the workers, large ones here, chunk by chunk) or straight into results for the writer. It
//! reads ahead only while it holds a free buffer, which bounds memory.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};
use libdeflater::Compressor;

use super::compress::{level_one, looks_compressed, sample_compresses};
use super::pipeline::{Buffers, CHUNK, DICT, Done, Job, fill};
use super::scan::{Item, Source};
use crate::error::ClawError;
use crate::zipfmt::{METHOD_DEFLATE, METHOD_STORED};

pub(super) struct Producer<'a> {
    items: &'a [Item],
    /// What the items' names under `context/` are relative to.
    root: &'a Path,
    jobs: Sender<Job>,
    done: Sender<(u64, Done)>,
    /// Free buffers, returned by the writer once it has written what they held.
    tokens: Receiver<Buffers>,
    /// The next result's place in archive order.
    seq: u64,
}

impl<'a> Producer<'a> {
    pub fn new(
        items: &'a [Item],
        root: &'a Path,
        jobs: Sender<Job>,
        done: Sender<(u64, Done)>,
        tokens: Receiver<Buffers>,
    ) -> Self {
        Producer {
            items,
            root,
            jobs,
            done,
            tokens,
            seq: 0,
        }
    }

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

    /// A whole entry for a worker; with `read_from` the worker reads the file itself.
    fn send_whole(&mut self, item: usize, bufs: Buffers, read_from: Option<PathBuf>) -> bool {
        self.send_job(|seq| Job::Whole {
            seq,
            item,
            bufs,
            read_from,
        })
    }

    /// Feeds every item to the pipeline; returns when done or when the other side hung up.
    pub fn run(mut self) {
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
                    if !self.send_whole(idx, bufs, None) {
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
                if !self.send_whole(idx, bufs, Some(path)) {
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
                if !self.send_whole(idx, bufs, None) {
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
