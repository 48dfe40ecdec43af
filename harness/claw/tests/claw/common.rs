//! Shared test helpers: a raw zip builder for hand-made (hostile) archives, tree comparison,
//! and the way to find claw.py.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One entry of a hand-built archive. Every field can lie.
#[derive(Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    /// Name written in the local header (defaults to `name`).
    pub local_name: Option<Vec<u8>>,
    /// Bytes stored as the entry's data (already compressed if `method` is 8).
    pub data: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub made_by: u16,
    pub external_attr: u32,
    pub crc: u32,
    pub uncompressed: u32,
    /// Reuse the local header of an earlier entry (index) instead of writing one.
    pub share_local_with: Option<usize>,
}

impl RawEntry {
    /// A stored regular file with correct CRC and sizes.
    pub fn file(name: impl AsRef<[u8]>, content: &[u8]) -> Self {
        RawEntry {
            name: name.as_ref().to_vec(),
            local_name: None,
            data: content.to_vec(),
            method: 0,
            flags: 0x0800,
            made_by: (3 << 8) | 20,
            external_attr: 0o100644 << 16,
            crc: crc32fast::hash(content),
            uncompressed: content.len() as u32,
            share_local_with: None,
        }
    }

    /// A deflated regular file with correct CRC and sizes.
    pub fn deflated(name: impl AsRef<[u8]>, content: &[u8]) -> Self {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(content).expect("deflate");
        let data = enc.finish().expect("deflate");
        RawEntry {
            data,
            method: 8,
            ..RawEntry::file(name, content)
        }
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.external_attr = mode << 16;
        self
    }
}

/// Builds a zip from raw entries (no zip64; small test archives only).
pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        if let Some(i) = e.share_local_with {
            offsets.push(offsets[i]);
            continue;
        }
        offsets.push(out.len() as u32);
        let lname = e.local_name.as_ref().unwrap_or(&e.name);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&e.flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.uncompressed.to_le_bytes());
        out.extend_from_slice(&(lname.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(lname);
        out.extend_from_slice(&e.data);
    }
    let cd_start = out.len() as u32;
    for (e, off) in entries.iter().zip(&offsets) {
        let data_len = match e.share_local_with {
            Some(i) => entries[i].data.len(),
            None => e.data.len(),
        };
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&e.made_by.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&e.flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(data_len as u32).to_le_bytes());
        out.extend_from_slice(&e.uncompressed.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // extra, comment, disk, internal
        out.extend_from_slice(&e.external_attr.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&e.name);
    }
    let cd_len = out.len() as u32 - cd_start;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Every file under `root` (relative path -> content), plus empty directories (content None).
pub fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.expect("walk");
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("prefix")
            .to_string_lossy()
            .into_owned();
        if entry.file_type().is_dir() {
            if fs::read_dir(entry.path())
                .expect("read_dir")
                .next()
                .is_none()
            {
                out.insert(rel, None);
            }
        } else {
            out.insert(rel, Some(fs::read(entry.path()).expect("read")));
        }
    }
    out
}

pub fn write_file(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

/// Pseudo-random incompressible bytes (xorshift; no extra dependency).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Compressible text of about `len` bytes.
pub fn prose(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "krill", "agent", "context", "snapshot", "memory", "tool", "session", "gateway", "note",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
        out.push(if x.is_multiple_of(11) { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// Where claw.py is, or why we cannot use it.
pub fn claw_py() -> Result<PathBuf, String> {
    // scripts/dev env exports KRILL_CLAW_PY='' when the submodule is absent: empty means unset.
    let path = match std::env::var_os("KRILL_CLAW_PY").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => krill_test_support::repo_root().join("claw.py/claw.py"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "claw.py not found at {} (set KRILL_CLAW_PY or check out the claw.py submodule)",
            path.display()
        ))
    }
}

/// Names of leftover staging directories/files beside a target (must be none after any import).
pub fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".claw-import-") || n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}
