//! Just enough of the zip format (APPNOTE 6.3) to write and strictly read `.claw` archives.
//!
//! We write our own records instead of going through the `zip` crate's writer because export
//! compresses entries on several threads ahead of time and then needs to emit already-deflated
//! bytes under a header with known CRC and sizes; the reader is ours so that every hostile shape
//! (overlaps, header disagreement, lying sizes) is checked before a byte is extracted.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

pub(crate) const SIG_LOCAL: u32 = 0x0403_4b50;
pub(crate) const SIG_CENTRAL: u32 = 0x0201_4b50;
pub(crate) const SIG_EOCD: u32 = 0x0605_4b50;
pub(crate) const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
pub(crate) const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;

pub(crate) const METHOD_STORED: u16 = 0;
pub(crate) const METHOD_DEFLATE: u16 = 8;

pub(crate) const FLAG_ENCRYPTED: u16 = 0x0001;
pub(crate) const FLAG_DATA_DESCRIPTOR: u16 = 0x0008;
pub(crate) const FLAG_STRONG_ENCRYPTION: u16 = 0x0040;
pub(crate) const FLAG_UTF8: u16 = 0x0800;
pub(crate) const FLAG_MASKED_HEADER: u16 = 0x2000;

pub(crate) const LOCAL_HEADER_LEN: usize = 30;
const CENTRAL_HEADER_LEN: usize = 46;
const EOCD_LEN: usize = 22;
const ZIP64_EOCD_LEN: usize = 56;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const U32_MAX: u64 = 0xFFFF_FFFF;

/// Unix host in "version made by", spec version 4.5 (zip64).
const MADE_BY_UNIX: u16 = (3 << 8) | 45;
const NEEDS_DEFAULT: u16 = 20;
const NEEDS_ZIP64: u16 = 45;

/// Positioned reads, so several extraction threads can share one archive handle (and the fuzzer
/// can read from memory).
pub(crate) trait ReadAt: Sync {
    fn size(&self) -> u64;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for File {
    fn size(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let src = self.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Sequential reader over a byte range of a `ReadAt`.
pub(crate) struct RangeReader<'a, R: ReadAt + ?Sized> {
    pub src: &'a R,
    pub pos: u64,
    pub end: u64,
}

impl<R: ReadAt + ?Sized> io::Read for RangeReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.src.read_exact_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Little-endian cursor over a parsed record.

pub(crate) struct Le<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Le<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Le { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    }
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        self.take(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// One central-directory record, sizes already widened from zip64 extras.
#[derive(Debug, Clone)]
pub(crate) struct CentralEntry {
    pub raw_name: Vec<u8>,
    pub made_by: u16,
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub compressed: u64,
    pub uncompressed: u64,
    pub local_offset: u64,
    pub external_attr: u32,
    pub disk_start: u32,
}

/// Where the central directory sits; entries are parsed lazily by [`CentralDirectory::entries`].
pub(crate) struct CentralDirectory {
    pub count: u64,
    pub offset: u64,
    pub size: u64,
}

/// Problems found while parsing the archive structure (mapped to `Refusal` by the caller).
#[derive(Debug)]
pub(crate) enum ParseError {
    Truncated(String),
    Corrupt(String),
    Io(io::Error),
}

fn read_vec<R: ReadAt + ?Sized>(src: &R, offset: u64, len: usize) -> Result<Vec<u8>, ParseError> {
    let end = offset.checked_add(len as u64);
    if end.is_none_or(|e| e > src.size()) {
        return Err(ParseError::Truncated(format!(
            "{len} bytes at offset {offset} run past the end of the file ({} bytes)",
            src.size()
        )));
    }
    let mut buf = vec![0u8; len];
    src.read_exact_at(&mut buf, offset)
        .map_err(ParseError::Io)?;
    Ok(buf)
}

/// Finds the end-of-central-directory record (and its zip64 twin) and returns where the
/// central directory is.
pub(crate) fn locate_central_directory<R: ReadAt + ?Sized>(
    src: &R,
) -> Result<CentralDirectory, ParseError> {
    let len = src.size();
    if len < EOCD_LEN as u64 {
        return Err(ParseError::Truncated(format!(
            "{len} bytes is too short to be a zip archive"
        )));
    }
    let tail_len = len.min((EOCD_LEN + 0xFFFF) as u64) as usize;
    let tail_start = len - tail_len as u64;
    let tail = read_vec(src, tail_start, tail_len)?;
    let mut found = None;
    for pos in (0..=tail_len - EOCD_LEN).rev() {
        if tail[pos..pos + 4] == SIG_EOCD.to_le_bytes() {
            let comment_len = u16::from_le_bytes([tail[pos + 20], tail[pos + 21]]) as usize;
            if pos + EOCD_LEN + comment_len == tail_len {
                found = Some(pos);
                break;
            }
        }
    }
    let Some(pos) = found else {
        return Err(ParseError::Truncated(
            "no end-of-central-directory record (not a zip file, or cut off)".into(),
        ));
    };
    let eocd_offset = tail_start + pos as u64;
    let mut r = Le::new(&tail[pos + 4..]);
    let disk = r.u16().unwrap_or(0);
    let cd_disk = r.u16().unwrap_or(0);
    let _entries_this_disk = r.u16().unwrap_or(0);
    let mut count = r.u16().unwrap_or(0) as u64;
    let mut size = r.u32().unwrap_or(0) as u64;
    let mut offset = r.u32().unwrap_or(0) as u64;
    if disk != 0 || cd_disk != 0 {
        return Err(ParseError::Corrupt(
            "multi-volume archives are not supported".into(),
        ));
    }
    let mut cd_end_limit = eocd_offset;
    if count == 0xFFFF || size == U32_MAX || offset == U32_MAX {
        let loc_offset = eocd_offset
            .checked_sub(ZIP64_LOCATOR_LEN as u64)
            .ok_or_else(|| ParseError::Corrupt("zip64 markers without a zip64 locator".into()))?;
        let loc = read_vec(src, loc_offset, ZIP64_LOCATOR_LEN)?;
        let mut r = Le::new(&loc);
        if r.u32() != Some(SIG_ZIP64_LOCATOR) {
            return Err(ParseError::Corrupt(
                "zip64 markers without a zip64 locator".into(),
            ));
        }
        let _disk = r.u32();
        let z_offset = r.u64().unwrap_or(u64::MAX);
        if z_offset
            .checked_add(ZIP64_EOCD_LEN as u64)
            .is_none_or(|e| e > loc_offset)
        {
            return Err(ParseError::Corrupt(
                "zip64 end record lies outside the archive".into(),
            ));
        }
        let rec = read_vec(src, z_offset, ZIP64_EOCD_LEN)?;
        let mut r = Le::new(&rec);
        if r.u32() != Some(SIG_ZIP64_EOCD) {
            return Err(ParseError::Corrupt(
                "bad zip64 end-of-central-directory signature".into(),
            ));
        }
        let _rec_size = r.u64();
        let _made = r.u16();
        let _needed = r.u16();
        let disk = r.u32().unwrap_or(1);
        let cd_disk = r.u32().unwrap_or(1);
        if disk != 0 || cd_disk != 0 {
            return Err(ParseError::Corrupt(
                "multi-volume archives are not supported".into(),
            ));
        }
        let _this_disk = r.u64();
        count = r.u64().unwrap_or(0);
        size = r.u64().unwrap_or(0);
        offset = r.u64().unwrap_or(0);
        cd_end_limit = z_offset;
    }
    match offset.checked_add(size) {
        Some(end) if end == cd_end_limit => {}
        Some(end) if end < cd_end_limit => {
            return Err(ParseError::Corrupt(format!(
                "{} unexplained bytes between the central directory and its end record",
                cd_end_limit - end
            )));
        }
        _ => {
            return Err(ParseError::Truncated(format!(
                "central directory (offset {offset}, {size} bytes) runs past its end record at {cd_end_limit}; \
                 the file is cut off or has data prepended"
            )));
        }
    }
    Ok(CentralDirectory {
        count,
        offset,
        size,
    })
}

/// Parses all central-directory records. `max_entries` is checked before allocating anything
/// proportional to the declared count.
pub(crate) fn read_central_entries<R: ReadAt + ?Sized>(
    src: &R,
    cd: &CentralDirectory,
) -> Result<Vec<CentralEntry>, ParseError> {
    let size = usize::try_from(cd.size)
        .map_err(|_| ParseError::Corrupt("central directory too large".into()))?;
    let raw = read_vec(src, cd.offset, size)?;
    let mut entries = Vec::with_capacity(cd.count.min(1 << 16) as usize);
    let mut pos = 0usize;
    while pos < raw.len() {
        let mut r = Le::new(&raw[pos..]);
        let bad = || {
            ParseError::Corrupt(format!(
                "central directory record at offset {} is cut short",
                cd.offset + pos as u64
            ))
        };
        if r.u32().ok_or_else(bad)? != SIG_CENTRAL {
            return Err(ParseError::Corrupt(format!(
                "bad central directory signature at offset {}",
                cd.offset + pos as u64
            )));
        }
        let made_by = r.u16().ok_or_else(bad)?;
        let _needed = r.u16().ok_or_else(bad)?;
        let flags = r.u16().ok_or_else(bad)?;
        let method = r.u16().ok_or_else(bad)?;
        let _time = r.u16().ok_or_else(bad)?;
        let _date = r.u16().ok_or_else(bad)?;
        let crc = r.u32().ok_or_else(bad)?;
        let mut compressed = r.u32().ok_or_else(bad)? as u64;
        let mut uncompressed = r.u32().ok_or_else(bad)? as u64;
        let name_len = r.u16().ok_or_else(bad)? as usize;
        let extra_len = r.u16().ok_or_else(bad)? as usize;
        let comment_len = r.u16().ok_or_else(bad)? as usize;
        let mut disk_start = r.u16().ok_or_else(bad)? as u32;
        let _internal = r.u16().ok_or_else(bad)?;
        let external_attr = r.u32().ok_or_else(bad)?;
        let mut local_offset = r.u32().ok_or_else(bad)? as u64;
        let raw_name = r.bytes(name_len).ok_or_else(bad)?.to_vec();
        let extra = r.bytes(extra_len).ok_or_else(bad)?;
        r.bytes(comment_len).ok_or_else(bad)?;
        // Zip64 extra carries only the fields whose 32-bit slot is saturated, in this order.
        let mut x = Le::new(extra);
        while let (Some(id), Some(len)) = (x.u16(), x.u16()) {
            let body = x.bytes(len as usize).ok_or_else(bad)?;
            if id == ZIP64_EXTRA_ID {
                let mut z = Le::new(body);
                let short = || {
                    ParseError::Corrupt(format!(
                        "zip64 extra field of {:?} is too short",
                        String::from_utf8_lossy(&raw_name)
                    ))
                };
                if uncompressed == U32_MAX {
                    uncompressed = z.u64().ok_or_else(short)?;
                }
                if compressed == U32_MAX {
                    compressed = z.u64().ok_or_else(short)?;
                }
                if local_offset == U32_MAX {
                    local_offset = z.u64().ok_or_else(short)?;
                }
                if disk_start == 0xFFFF {
                    disk_start = z.u32().ok_or_else(short)?;
                }
            }
        }
        entries.push(CentralEntry {
            raw_name,
            made_by,
            flags,
            method,
            crc,
            compressed,
            uncompressed,
            local_offset,
            external_attr,
            disk_start,
        });
        pos += CENTRAL_HEADER_LEN + name_len + extra_len + comment_len;
        if entries.len() as u64 > cd.count {
            break;
        }
    }
    if entries.len() as u64 != cd.count {
        return Err(ParseError::Corrupt(format!(
            "end record announces {} entries but the central directory holds {}",
            cd.count,
            entries.len()
        )));
    }
    Ok(entries)
}

/// The local file header fields we cross-check against the central directory.
pub(crate) struct LocalHeader {
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub compressed: u32,
    pub uncompressed: u32,
    pub raw_name: Vec<u8>,
    /// Offset of the first data byte.
    pub data_offset: u64,
}

pub(crate) fn read_local_header<R: ReadAt + ?Sized>(
    src: &R,
    offset: u64,
) -> Result<LocalHeader, ParseError> {
    let fixed = read_vec(src, offset, LOCAL_HEADER_LEN)?;
    let mut r = Le::new(&fixed);
    if r.u32() != Some(SIG_LOCAL) {
        return Err(ParseError::Corrupt(format!(
            "no local file header at offset {offset}"
        )));
    }
    let _needed = r.u16();
    let flags = r.u16().unwrap_or(0);
    let method = r.u16().unwrap_or(0);
    let _time = r.u16();
    let _date = r.u16();
    let crc = r.u32().unwrap_or(0);
    let compressed = r.u32().unwrap_or(0);
    let uncompressed = r.u32().unwrap_or(0);
    let name_len = r.u16().unwrap_or(0) as usize;
    let extra_len = r.u16().unwrap_or(0) as usize;
    let raw_name = read_vec(src, offset + LOCAL_HEADER_LEN as u64, name_len)?;
    let data_offset = offset + (LOCAL_HEADER_LEN + name_len + extra_len) as u64;
    Ok(LocalHeader {
        flags,
        method,
        crc,
        compressed,
        uncompressed,
        raw_name,
        data_offset,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// MS-DOS date and time for an mtime; the format cannot express dates before 1980.
pub(crate) fn dos_datetime(unix_seconds: i64) -> (u16, u16) {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix_seconds) else {
        return (0, (1 << 5) | 1);
    };
    if t.year() < 1980 {
        return (0, (1 << 5) | 1);
    }
    let year = (t.year().min(2107) - 1980) as u16;
    let date = (year << 9) | ((t.month() as u16) << 5) | t.day() as u16;
    let time = ((t.hour() as u16) << 11) | ((t.minute() as u16) << 5) | (t.second() as u16 / 2);
    (time, date)
}

/// Metadata of one entry as the writer records it.
pub(crate) struct EntryMeta {
    /// Shared with the exporter's file list: 20k names are not worth copying twice.
    pub name: std::sync::Arc<str>,
    pub mtime: i64,
    /// Unix mode including the file-type bits (`S_IFREG | 0o644`, `S_IFDIR | 0o755`).
    pub mode: u32,
}

struct Written {
    meta: EntryMeta,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    offset: u64,
}

/// Buffered zip writer with patchable local headers.
pub(crate) struct ZipWriter {
    file: File,
    buf: Vec<u8>,
    /// Bytes already handed to the file.
    flushed: u64,
    done: Vec<Written>,
    /// Entry in progress whose sizes are patched in on `finish_entry`.
    open: Option<(EntryMeta, u16, u64, bool)>,
}

const WRITE_BUF: usize = 1 << 20;

impl ZipWriter {
    pub fn new(file: File) -> Self {
        ZipWriter {
            file,
            buf: Vec::with_capacity(WRITE_BUF),
            flushed: 0,
            done: Vec::new(),
            open: None,
        }
    }

    fn pos(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all_at(&self.buf, self.flushed)?;
            self.flushed += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    pub fn write_data(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() > WRITE_BUF {
            self.flush_buf()?;
            if data.len() >= WRITE_BUF {
                self.file.write_all_at(data, self.flushed)?;
                self.flushed += data.len() as u64;
                return Ok(());
            }
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn local_header(
        &mut self,
        meta: &EntryMeta,
        method: u16,
        crc: u32,
        compressed: u64,
        uncompressed: u64,
        zip64: bool,
    ) -> io::Result<()> {
        let (time, date) = dos_datetime(meta.mtime);
        let mut h = Vec::with_capacity(LOCAL_HEADER_LEN + meta.name.len() + 20);
        h.extend_from_slice(&SIG_LOCAL.to_le_bytes());
        h.extend_from_slice(&(if zip64 { NEEDS_ZIP64 } else { NEEDS_DEFAULT }).to_le_bytes());
        h.extend_from_slice(&FLAG_UTF8.to_le_bytes());
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&time.to_le_bytes());
        h.extend_from_slice(&date.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        if zip64 {
            h.extend_from_slice(&u32::MAX.to_le_bytes());
            h.extend_from_slice(&u32::MAX.to_le_bytes());
        } else {
            h.extend_from_slice(&(compressed as u32).to_le_bytes());
            h.extend_from_slice(&(uncompressed as u32).to_le_bytes());
        }
        h.extend_from_slice(&(meta.name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(meta.name.as_bytes());
        if zip64 {
            h.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&uncompressed.to_le_bytes());
            h.extend_from_slice(&compressed.to_le_bytes());
        }
        self.write_data(&h)
    }

    /// Writes a complete entry whose data is already compressed.
    pub fn add_entry(
        &mut self,
        meta: EntryMeta,
        method: u16,
        crc: u32,
        uncompressed: u64,
        data: &[u8],
    ) -> io::Result<()> {
        let offset = self.pos();
        let compressed = data.len() as u64;
        let zip64 = compressed >= U32_MAX || uncompressed >= U32_MAX;
        self.local_header(&meta, method, crc, compressed, uncompressed, zip64)?;
        self.write_data(data)?;
        self.done.push(Written {
            meta,
            method,
            crc,
            compressed,
            uncompressed,
            offset,
        });
        Ok(())
    }

    /// Starts an entry whose data arrives in pieces; `size_hint` (the file's size when we
    /// looked) decides whether the local header reserves zip64 fields.
    pub fn begin_entry(&mut self, meta: EntryMeta, method: u16, size_hint: u64) -> io::Result<()> {
        let offset = self.pos();
        // Deflate can expand incompressible data slightly; leave headroom below 4 GiB.
        let zip64 = size_hint >= U32_MAX - (U32_MAX >> 4);
        self.local_header(&meta, method, 0, 0, 0, zip64)?;
        self.open = Some((meta, method, offset, zip64));
        Ok(())
    }

    pub fn finish_entry(&mut self, crc: u32, compressed: u64, uncompressed: u64) -> io::Result<()> {
        let Some((meta, method, offset, zip64)) = self.open.take() else {
            return Err(io::Error::other("finish_entry without begin_entry"));
        };
        if !zip64 && (compressed >= U32_MAX || uncompressed >= U32_MAX) {
            return Err(io::Error::other(format!(
                "{} grew past 4 GiB while being archived",
                meta.name
            )));
        }
        self.flush_buf()?;
        let mut fields = Vec::with_capacity(12);
        fields.extend_from_slice(&crc.to_le_bytes());
        if zip64 {
            self.file.write_all_at(&fields, offset + 14)?;
            let mut sizes = Vec::with_capacity(16);
            sizes.extend_from_slice(&uncompressed.to_le_bytes());
            sizes.extend_from_slice(&compressed.to_le_bytes());
            let extra_body = offset + LOCAL_HEADER_LEN as u64 + meta.name.len() as u64 + 4;
            self.file.write_all_at(&sizes, extra_body)?;
        } else {
            fields.extend_from_slice(&(compressed as u32).to_le_bytes());
            fields.extend_from_slice(&(uncompressed as u32).to_le_bytes());
            self.file.write_all_at(&fields, offset + 14)?;
        }
        self.done.push(Written {
            meta,
            method,
            crc,
            compressed,
            uncompressed,
            offset,
        });
        Ok(())
    }

    /// Writes the central directory and end records; returns the file, flushed (not synced).
    pub fn finish(mut self) -> io::Result<(File, u64)> {
        let cd_offset = self.pos();
        let done = std::mem::take(&mut self.done);
        for w in &done {
            let (time, date) = dos_datetime(w.meta.mtime);
            let mut extra = Vec::new();
            let field = |v: u64, extra: &mut Vec<u8>| -> u32 {
                if v >= U32_MAX {
                    extra.extend_from_slice(&v.to_le_bytes());
                    u32::MAX
                } else {
                    v as u32
                }
            };
            let usize32 = field(w.uncompressed, &mut extra);
            let csize32 = field(w.compressed, &mut extra);
            let off32 = field(w.offset, &mut extra);
            let zip64 = !extra.is_empty();
            let mut h = Vec::with_capacity(CENTRAL_HEADER_LEN + w.meta.name.len() + 32);
            h.extend_from_slice(&SIG_CENTRAL.to_le_bytes());
            h.extend_from_slice(&MADE_BY_UNIX.to_le_bytes());
            h.extend_from_slice(&(if zip64 { NEEDS_ZIP64 } else { NEEDS_DEFAULT }).to_le_bytes());
            h.extend_from_slice(&FLAG_UTF8.to_le_bytes());
            h.extend_from_slice(&w.method.to_le_bytes());
            h.extend_from_slice(&time.to_le_bytes());
            h.extend_from_slice(&date.to_le_bytes());
            h.extend_from_slice(&w.crc.to_le_bytes());
            h.extend_from_slice(&csize32.to_le_bytes());
            h.extend_from_slice(&usize32.to_le_bytes());
            h.extend_from_slice(&(w.meta.name.len() as u16).to_le_bytes());
            let extra_len = if zip64 { extra.len() + 4 } else { 0 };
            h.extend_from_slice(&(extra_len as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // comment
            h.extend_from_slice(&0u16.to_le_bytes()); // disk
            h.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
            let dos_dir = if w.meta.mode & 0o170000 == 0o040000 {
                0x10
            } else {
                0
            };
            h.extend_from_slice(&((w.meta.mode << 16) | dos_dir).to_le_bytes());
            h.extend_from_slice(&off32.to_le_bytes());
            h.extend_from_slice(w.meta.name.as_bytes());
            if zip64 {
                h.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
                h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
                h.extend_from_slice(&extra);
            }
            self.write_data(&h)?;
        }
        let cd_size = self.pos() - cd_offset;
        let count = done.len() as u64;
        let need64 = count >= 0xFFFF || cd_size >= U32_MAX || cd_offset >= U32_MAX;
        if need64 {
            let z_offset = self.pos();
            let mut z = Vec::with_capacity(ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN);
            z.extend_from_slice(&SIG_ZIP64_EOCD.to_le_bytes());
            z.extend_from_slice(&((ZIP64_EOCD_LEN - 12) as u64).to_le_bytes());
            z.extend_from_slice(&MADE_BY_UNIX.to_le_bytes());
            z.extend_from_slice(&NEEDS_ZIP64.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&cd_size.to_le_bytes());
            z.extend_from_slice(&cd_offset.to_le_bytes());
            z.extend_from_slice(&SIG_ZIP64_LOCATOR.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&z_offset.to_le_bytes());
            z.extend_from_slice(&1u32.to_le_bytes());
            self.write_data(&z)?;
        }
        let mut e = Vec::with_capacity(EOCD_LEN);
        e.extend_from_slice(&SIG_EOCD.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        let count16 = if need64 { 0xFFFF } else { count as u16 };
        e.extend_from_slice(&count16.to_le_bytes());
        e.extend_from_slice(&count16.to_le_bytes());
        e.extend_from_slice(&(if need64 { u32::MAX } else { cd_size as u32 }).to_le_bytes());
        e.extend_from_slice(&(if need64 { u32::MAX } else { cd_offset as u32 }).to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        self.write_data(&e)?;
        self.flush_buf()?;
        let total = self.flushed;
        Ok((self.file, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_datetime_clamps_pre_1980() {
        assert_eq!(dos_datetime(0), (0, (1 << 5) | 1));
    }

    #[test]
    fn dos_datetime_encodes_fields() {
        // 2026-11-21 08:41:42 UTC
        let (t, d) = dos_datetime(1_795_250_502);
        assert_eq!(d >> 9, 2026 - 1980);
        assert_eq!((d >> 5) & 0xF, 11);
        assert_eq!(d & 0x1F, 21);
        assert_eq!(t >> 11, 8);
        assert_eq!((t >> 5) & 0x3F, 41);
        assert_eq!((t & 0x1F) * 2, 42);
    }

    #[test]
    fn more_than_65535_entries_use_zip64_end_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("many.zip");
        let mut w = ZipWriter::new(File::create(&path).expect("create"));
        let n = 70_000u64;
        for i in 0..n {
            let meta = EntryMeta {
                name: format!("context/{i}").into(),
                mtime: 0,
                mode: 0o100644,
            };
            w.add_entry(meta, METHOD_STORED, crc32fast::hash(b"x"), 1, b"x")
                .expect("add");
        }
        w.finish().expect("finish");
        let f = File::open(&path).expect("open");
        let cd = locate_central_directory(&f).expect("zip64 end record");
        assert_eq!(cd.count, n);
        let entries = read_central_entries(&f, &cd).expect("cd");
        assert_eq!(entries.len() as u64, n);
        assert_eq!(entries[69_999].raw_name, b"context/69999");
    }

    #[test]
    fn large_sizes_and_offsets_go_to_the_zip64_extra() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.zip");
        let mut w = ZipWriter::new(File::create(&path).expect("create"));
        // A chunked entry whose size hint asks for zip64; sizes patched in afterwards.
        let meta = EntryMeta {
            name: "context/huge".into(),
            mtime: 0,
            mode: 0o100644,
        };
        w.begin_entry(meta, METHOD_STORED, 5 << 30).expect("begin");
        w.write_data(b"abc").expect("data");
        w.finish_entry(crc32fast::hash(b"abc"), 3, 3)
            .expect("finish entry");
        w.finish().expect("finish");
        let f = File::open(&path).expect("open");
        let cd = locate_central_directory(&f).expect("eocd");
        let entries = read_central_entries(&f, &cd).expect("cd");
        assert_eq!((entries[0].compressed, entries[0].uncompressed), (3, 3));
        let lh = read_local_header(&f, 0).expect("local header");
        assert_eq!(
            (lh.compressed, lh.uncompressed),
            (u32::MAX, u32::MAX),
            "zip64 markers in the local header"
        );
        let mut data = [0u8; 3];
        ReadAt::read_exact_at(&f, &mut data, lh.data_offset).expect("data");
        assert_eq!(&data, b"abc");
    }

    #[test]
    fn empty_archive_round_trips_through_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.zip");
        let f = File::create(&path).expect("create");
        let (_, len) = ZipWriter::new(f).finish().expect("finish");
        assert_eq!(len, EOCD_LEN as u64);
        let f = File::open(&path).expect("open");
        let cd = locate_central_directory(&f).expect("eocd");
        assert_eq!(cd.count, 0);
        assert!(read_central_entries(&f, &cd).expect("cd").is_empty());
    }
}
