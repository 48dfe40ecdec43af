//! Writing zip records: entries whose data was compressed ahead of time, local headers patched
//! once a streamed entry's CRC and sizes are known, then the central directory and end records.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::format::{
    CENTRAL_HEADER_LEN, EOCD_LEN, FLAG_UTF8, LOCAL_HEADER_LEN, MADE_BY_UNIX, NEEDS_DEFAULT,
    NEEDS_ZIP64, SIG_CENTRAL, SIG_EOCD, SIG_LOCAL, SIG_ZIP64_EOCD, SIG_ZIP64_LOCATOR, U32_MAX,
    ZIP64_EOCD_LEN, ZIP64_EXTRA_ID, ZIP64_LOCATOR_LEN,
};

/// MS-DOS date and time for an mtime; the format cannot express dates before 1980.
fn dos_datetime(unix_seconds: i64) -> (u16, u16) {
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

/// An entry as the central directory records it.
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
    /// Entry in progress (CRC and sizes still zero) and whether its header reserved zip64 fields.
    open: Option<(Written, bool)>,
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

    fn local_header(&mut self, entry: &Written, zip64: bool) -> io::Result<()> {
        let meta = &entry.meta;
        let (method, crc) = (entry.method, entry.crc);
        let (compressed, uncompressed) = (entry.compressed, entry.uncompressed);
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
        let entry = Written {
            compressed: data.len() as u64,
            offset: self.pos(),
            meta,
            method,
            crc,
            uncompressed,
        };
        let zip64 = entry.compressed >= U32_MAX || uncompressed >= U32_MAX;
        self.local_header(&entry, zip64)?;
        self.write_data(data)?;
        self.done.push(entry);
        Ok(())
    }

    /// Starts an entry whose data arrives in pieces; `size_hint` (the file's size when we
    /// looked) decides whether the local header reserves zip64 fields.
    pub fn begin_entry(&mut self, meta: EntryMeta, method: u16, size_hint: u64) -> io::Result<()> {
        // CRC and sizes are patched in by `finish_entry`.
        let entry = Written {
            offset: self.pos(),
            meta,
            method,
            crc: 0,
            compressed: 0,
            uncompressed: 0,
        };
        // Deflate can expand incompressible data slightly; leave headroom below 4 GiB.
        let zip64 = size_hint >= U32_MAX - (U32_MAX >> 4);
        self.local_header(&entry, zip64)?;
        self.open = Some((entry, zip64));
        Ok(())
    }

    pub fn finish_entry(&mut self, crc: u32, compressed: u64, uncompressed: u64) -> io::Result<()> {
        let Some((mut entry, zip64)) = self.open.take() else {
            return Err(io::Error::other("finish_entry without begin_entry"));
        };
        if !zip64 && (compressed >= U32_MAX || uncompressed >= U32_MAX) {
            return Err(io::Error::other(format!(
                "{} grew past 4 GiB while being archived",
                entry.meta.name
            )));
        }
        self.flush_buf()?;
        let offset = entry.offset;
        let mut fields = Vec::with_capacity(12);
        fields.extend_from_slice(&crc.to_le_bytes());
        if zip64 {
            self.file.write_all_at(&fields, offset + 14)?;
            let mut sizes = Vec::with_capacity(16);
            sizes.extend_from_slice(&uncompressed.to_le_bytes());
            sizes.extend_from_slice(&compressed.to_le_bytes());
            let extra_body = offset + LOCAL_HEADER_LEN as u64 + entry.meta.name.len() as u64 + 4;
            self.file.write_all_at(&sizes, extra_body)?;
        } else {
            fields.extend_from_slice(&(compressed as u32).to_le_bytes());
            fields.extend_from_slice(&(uncompressed as u32).to_le_bytes());
            self.file.write_all_at(&fields, offset + 14)?;
        }
        entry.crc = crc;
        entry.compressed = compressed;
        entry.uncompressed = uncompressed;
        self.done.push(entry);
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
}
