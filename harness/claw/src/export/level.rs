//! Which deflate level each file gets. The default policy's figures are documented once, on
//! [`DEFAULT_LEVEL`](super::DEFAULT_LEVEL).

/// How hard export compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Chosen per file by how the file is compressed: whole ([`Level::whole`]) or in chunks
    /// ([`Level::chunked`]), two libraries whose level numbers do not mean the same thing.
    Auto,
    /// One level, 1 (fastest) to 9 (smallest), for every file (`--level`).
    Fixed(u8),
}

/// libdeflate level for files compressed whole: its first level with lazy matching, which is
/// what brings small source and markdown files level with zlib -6.
const AUTO_WHOLE: u8 = 5;
/// zlib-rs level for the chunks of large files: its levels 2-3 find short matches only, which
/// loses 10-30% against zlib -6 on repetitive logs, tar files and UTF-16 text; 4 is the first
/// level that searches lazily.
const AUTO_CHUNKED: u8 = 4;

impl Level {
    /// libdeflate level for a file compressed in one piece.
    pub(super) fn whole(self) -> u8 {
        match self {
            Level::Fixed(l) => l.clamp(1, 9),
            Level::Auto => AUTO_WHOLE,
        }
    }

    /// zlib-rs level for the chunks of a file streamed in pieces.
    pub(super) fn chunked(self) -> u8 {
        match self {
            Level::Fixed(l) => l.clamp(1, 9),
            Level::Auto => AUTO_CHUNKED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_differs_by_how_a_file_is_compressed() {
        assert_eq!(Level::Auto.whole(), 5);
        assert_eq!(Level::Auto.chunked(), 4);
    }

    #[test]
    fn fixed_applies_to_every_file() {
        for l in 1..=9 {
            assert_eq!(Level::Fixed(l).whole(), l);
            assert_eq!(Level::Fixed(l).chunked(), l);
        }
        assert_eq!(Level::Fixed(0).whole(), 1);
        assert_eq!(Level::Fixed(12).chunked(), 9);
    }
}
