//! Strict reading of the zip structure: the end records, the central directory and local
//! headers, each checked against the file's real size before anything is allocated or trusted.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::format::{
    CENTRAL_HEADER_LEN, EOCD_LEN, LOCAL_HEADER_LEN, SIG_CENTRAL, SIG_EOCD, SIG_LOCAL,
    SIG_ZIP64_EOCD, SIG_ZIP64_LOCATOR, U32_MAX, ZIP64_EOCD_LEN, ZIP64_EXTRA_ID, ZIP64_LOCATOR_LEN,
};

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

/// Refuses archives split over several disks (the end records name a disk other than the first).
fn single_volume(disk: u32, cd_disk: u32) -> Result<(), ParseError> {
    if disk != 0 || cd_disk != 0 {
        return Err(ParseError::Corrupt(
            "multi-volume archives are not supported".into(),
        ));
    }
    Ok(())
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
    single_volume(disk.into(), cd_disk.into())?;
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
        single_volume(disk, cd_disk)?;
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
