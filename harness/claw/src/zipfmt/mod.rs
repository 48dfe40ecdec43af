//! Just enough of the zip format (APPNOTE 6.3) to write and strictly read `.claw` archives.
//!
//! We write our own records instead of going through the `zip` crate's writer because export
//! compresses entries on several threads ahead of time and then needs to emit already-deflated
//! bytes under a header with known CRC and sizes; the reader is ours so that every hostile shape
//! (overlaps, header disagreement, lying sizes) is checked before a byte is extracted.
//!
//! [`format`] holds the record layouts both halves share, [`read`] the strict reader and
//! [`write`] the writer.

mod format;
mod read;
mod write;

pub(crate) use format::{
    FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, FLAG_MASKED_HEADER, FLAG_STRONG_ENCRYPTION,
    METHOD_DEFLATE, METHOD_STORED,
};
pub(crate) use read::{
    ParseError, RangeReader, ReadAt, locate_central_directory, read_central_entries,
    read_local_header,
};
pub(crate) use write::{EntryMeta, ZipWriter};

/// What the writer produces, read back by the reader.
#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::format::EOCD_LEN;
    use super::*;

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
