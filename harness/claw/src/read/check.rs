//! The entry list: the central directory and every local header read and checked against the
//! hostile-archive rules (names, overlaps, sizes, limits) before anything is extracted.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{ClawError, Refusal};
use crate::limits::Limits;
use crate::zipfmt::{self, ParseError, ReadAt};

/// Longest archive path we accept, and longest single component (Linux NAME_MAX).
pub(crate) const MAX_NAME_BYTES: usize = 4096;
pub(crate) const MAX_COMPONENT_BYTES: usize = 255;

/// A checked entry, ready to extract.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Archive path without a trailing slash.
    pub path: String,
    pub is_dir: bool,
    pub method: u16,
    pub crc: u32,
    pub compressed: u64,
    pub uncompressed: u64,
    pub data_offset: u64,
    pub executable: bool,
}

pub(crate) fn refuse(archive: &Path, entry: Option<&str>, reason: Refusal) -> ClawError {
    ClawError::Refused {
        archive: archive.to_path_buf(),
        entry: entry.map(str::to_owned),
        reason,
    }
}

fn parse_err(archive: &Path, entry: Option<&str>, e: ParseError) -> ClawError {
    match e {
        ParseError::Truncated(detail) => refuse(archive, entry, Refusal::Truncated { detail }),
        ParseError::Corrupt(detail) => refuse(archive, entry, Refusal::Corrupt { detail }),
        ParseError::Io(source) => ClawError::io("reading", archive, source),
    }
}

/// Checks an archive path; returns it without a trailing slash, and whether it names a directory.
pub(crate) fn check_name(raw: &[u8]) -> Result<(String, bool), Refusal> {
    let name = std::str::from_utf8(raw).map_err(|_| Refusal::NotUtf8 {
        lossy: String::from_utf8_lossy(raw).into_owned(),
    })?;
    if name.len() > MAX_NAME_BYTES {
        return Err(Refusal::NameTooLong {
            len: name.len(),
            limit: MAX_NAME_BYTES,
        });
    }
    if name.starts_with('/') {
        return Err(Refusal::AbsolutePath);
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(Refusal::DriveLetter);
    }
    if name.contains('\\') {
        return Err(Refusal::Backslash);
    }
    if name.chars().any(char::is_control) {
        return Err(Refusal::ControlCharacter);
    }
    let is_dir = name.ends_with('/');
    let path = name.strip_suffix('/').unwrap_or(name);
    if path.is_empty() {
        return Err(Refusal::EmptyOrDotComponent);
    }
    for part in path.split('/') {
        match part {
            ".." => return Err(Refusal::ParentComponent),
            "" | "." => return Err(Refusal::EmptyOrDotComponent),
            p if p.len() > MAX_COMPONENT_BYTES => {
                return Err(Refusal::NameTooLong {
                    len: p.len(),
                    limit: MAX_COMPONENT_BYTES,
                });
            }
            _ => {}
        }
    }
    Ok((path.to_owned(), is_dir))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

/// Reads and checks the whole central directory and every local header.
pub(crate) fn scan<R: ReadAt + ?Sized>(
    src: &R,
    archive: &Path,
    limits: &Limits,
) -> Result<Vec<Entry>, ClawError> {
    let cd = zipfmt::locate_central_directory(src).map_err(|e| parse_err(archive, None, e))?;
    if cd.count > limits.max_entries {
        return Err(refuse(
            archive,
            None,
            Refusal::TooManyEntries {
                count: cd.count,
                limit: limits.max_entries,
            },
        ));
    }
    let raw = zipfmt::read_central_entries(src, &cd).map_err(|e| parse_err(archive, None, e))?;

    let mut entries = Vec::with_capacity(raw.len());
    let mut explicit: HashSet<&[u8]> = HashSet::with_capacity(raw.len());
    // lowercase path -> (path as spelled, kind, entry that introduced it)
    let mut seen: HashMap<String, (String, Kind)> = HashMap::with_capacity(raw.len() * 2);
    let mut total: u64 = 0;

    for ce in &raw {
        let lossy = String::from_utf8_lossy(&ce.raw_name).into_owned();
        let fail = |reason| refuse(archive, Some(&lossy), reason);
        let (path, named_dir) = check_name(&ce.raw_name).map_err(fail)?;
        if ce.flags
            & (zipfmt::FLAG_ENCRYPTED | zipfmt::FLAG_STRONG_ENCRYPTION | zipfmt::FLAG_MASKED_HEADER)
            != 0
            || ce.method == 99
        {
            return Err(fail(Refusal::Encrypted));
        }
        if ce.method != zipfmt::METHOD_STORED && ce.method != zipfmt::METHOD_DEFLATE {
            return Err(fail(Refusal::UnsupportedMethod(ce.method)));
        }
        if ce.disk_start != 0 {
            return Err(fail(Refusal::Corrupt {
                detail: "entry claims to start on another volume".into(),
            }));
        }
        let host = ce.made_by >> 8;
        let unix_mode = if host == 3 || host == 19 {
            ce.external_attr >> 16
        } else {
            0
        };
        let is_dir = match unix_mode & 0o170000 {
            0 => named_dir,
            0o100000 => {
                if named_dir {
                    return Err(fail(Refusal::Corrupt {
                        detail: "regular-file mode on a directory name".into(),
                    }));
                }
                false
            }
            0o040000 => {
                if !named_dir {
                    return Err(fail(Refusal::Corrupt {
                        detail: "directory mode on a name without a trailing slash".into(),
                    }));
                }
                true
            }
            0o120000 => return Err(fail(Refusal::Symlink)),
            0o010000 => {
                return Err(fail(Refusal::SpecialFile {
                    kind: "named pipe (FIFO)",
                }));
            }
            0o020000 => {
                return Err(fail(Refusal::SpecialFile {
                    kind: "character device",
                }));
            }
            0o060000 => {
                return Err(fail(Refusal::SpecialFile {
                    kind: "block device",
                }));
            }
            0o140000 => return Err(fail(Refusal::SpecialFile { kind: "socket" })),
            _ => {
                return Err(fail(Refusal::SpecialFile {
                    kind: "file of unknown type",
                }));
            }
        };
        if is_dir && (ce.uncompressed != 0 || ce.compressed > 2) {
            return Err(fail(Refusal::DirectoryWithData));
        }
        if !explicit.insert(&ce.raw_name) {
            return Err(fail(Refusal::Duplicate));
        }
        // Every ancestor is an implied directory; they must not clash with files or with other
        // spellings of the same path.
        let mut check = |p: &str, kind: Kind| -> Result<(), ClawError> {
            let key = p.to_lowercase();
            match seen.get(&key) {
                None => {
                    seen.insert(key, (p.to_owned(), kind));
                    Ok(())
                }
                Some((orig, _)) if orig != p => Err(fail(Refusal::CaseCollision {
                    other: orig.clone(),
                })),
                Some((_, Kind::Dir)) if kind == Kind::Dir => Ok(()),
                Some((_, Kind::File)) if kind == Kind::File => Err(fail(Refusal::Duplicate)),
                Some((orig, _)) => Err(fail(Refusal::FileDirectoryClash {
                    other: orig.clone(),
                })),
            }
        };
        let mut idx = 0;
        while let Some(slash) = path[idx..].find('/') {
            check(&path[..idx + slash], Kind::Dir)?;
            idx += slash + 1;
        }
        check(&path, if is_dir { Kind::Dir } else { Kind::File })?;

        if ce.method == zipfmt::METHOD_STORED && ce.compressed != ce.uncompressed {
            return Err(fail(Refusal::StoredSizeMismatch));
        }
        total = total.saturating_add(ce.uncompressed);
        if total > limits.max_total_bytes {
            return Err(fail(Refusal::TotalTooLarge {
                total,
                limit: limits.max_total_bytes,
            }));
        }
        if ce.uncompressed >= limits.ratio_min_bytes {
            let ratio = ce.uncompressed / ce.compressed.max(1);
            if ratio > limits.max_ratio {
                return Err(fail(Refusal::RatioTooHigh {
                    ratio,
                    limit: limits.max_ratio,
                }));
            }
        }
        entries.push(Entry {
            path,
            is_dir,
            method: ce.method,
            crc: ce.crc,
            compressed: ce.compressed,
            uncompressed: ce.uncompressed,
            data_offset: 0,
            executable: unix_mode & 0o111 != 0,
        });
    }

    // Local headers: must agree with the central directory, and entries' data must neither
    // overlap (the trick behind non-recursive zip bombs) nor run into the central directory.
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by_key(|&i| raw[i].local_offset);
    let mut prev_end = 0u64;
    let mut prev_name: Option<&str> = None;
    for &i in &order {
        let ce = &raw[i];
        let name = entries[i].path.clone();
        let fail = |reason| refuse(archive, Some(&name), reason);
        if ce.local_offset < prev_end {
            return Err(fail(Refusal::Overlapping {
                other: prev_name.unwrap_or("").to_owned(),
            }));
        }
        let lh = zipfmt::read_local_header(src, ce.local_offset)
            .map_err(|e| parse_err(archive, Some(&name), e))?;
        if lh.raw_name != ce.raw_name {
            return Err(fail(Refusal::LocalHeaderMismatch { field: "name" }));
        }
        if lh.method != ce.method {
            return Err(fail(Refusal::LocalHeaderMismatch {
                field: "compression method",
            }));
        }
        if lh.flags & (zipfmt::FLAG_ENCRYPTED | zipfmt::FLAG_STRONG_ENCRYPTION) != 0 {
            return Err(fail(Refusal::Encrypted));
        }
        if lh.flags & zipfmt::FLAG_DATA_DESCRIPTOR == 0 {
            if lh.crc != ce.crc {
                return Err(fail(Refusal::LocalHeaderMismatch { field: "CRC-32" }));
            }
            if (lh.compressed != u32::MAX && lh.compressed as u64 != ce.compressed)
                || (lh.uncompressed != u32::MAX && lh.uncompressed as u64 != ce.uncompressed)
            {
                return Err(fail(Refusal::LocalHeaderMismatch { field: "sizes" }));
            }
        }
        let end = lh.data_offset.checked_add(ce.compressed);
        match end {
            Some(end) if end <= cd.offset => prev_end = end,
            _ => return Err(fail(Refusal::DataOutOfBounds)),
        }
        entries[i].data_offset = lh.data_offset;
        prev_name = Some(&entries[i].path);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(b"context/a.md", "context/a.md", false)]
    #[case(b"context/", "context", true)]
    #[case("context/ünï code.md".as_bytes(), "context/ünï code.md", false)]
    #[case(b"..foo/bar..", "..foo/bar..", false)]
    fn accepts_plain_names(#[case] raw: &[u8], #[case] path: &str, #[case] dir: bool) {
        assert_eq!(check_name(raw), Ok((path.to_owned(), dir)));
    }

    #[rstest]
    #[case(b"../x", Refusal::ParentComponent)]
    #[case(b"a/../../x", Refusal::ParentComponent)]
    #[case(b"/etc/passwd", Refusal::AbsolutePath)]
    #[case(b"C:/x", Refusal::DriveLetter)]
    #[case(b"c:x", Refusal::DriveLetter)]
    #[case(b"a\\..\\x", Refusal::Backslash)]
    #[case(b"a//b", Refusal::EmptyOrDotComponent)]
    #[case(b"./a", Refusal::EmptyOrDotComponent)]
    #[case(b"", Refusal::EmptyOrDotComponent)]
    #[case(b"a\0b", Refusal::ControlCharacter)]
    #[case(b"a\nb", Refusal::ControlCharacter)]
    fn refuses_bad_names(#[case] raw: &[u8], #[case] reason: Refusal) {
        assert_eq!(check_name(raw), Err(reason));
    }

    #[test]
    fn refuses_non_utf8() {
        assert!(matches!(check_name(b"a\xff"), Err(Refusal::NotUtf8 { .. })));
    }
}
