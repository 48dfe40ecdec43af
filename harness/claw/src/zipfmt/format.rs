//! The zip records' signatures, flags and fixed sizes (APPNOTE 6.3), shared by the reader and
//! the writer so that both speak of one format.

/// Record signatures.
pub(crate) const SIG_LOCAL: u32 = 0x0403_4b50;
pub(crate) const SIG_CENTRAL: u32 = 0x0201_4b50;
pub(crate) const SIG_EOCD: u32 = 0x0605_4b50;
pub(crate) const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
pub(crate) const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;

/// Compression methods: the only two `.claw` archives use.
pub(crate) const METHOD_STORED: u16 = 0;
pub(crate) const METHOD_DEFLATE: u16 = 8;

/// General-purpose flag bits.
pub(crate) const FLAG_ENCRYPTED: u16 = 0x0001;
pub(crate) const FLAG_DATA_DESCRIPTOR: u16 = 0x0008;
pub(crate) const FLAG_STRONG_ENCRYPTION: u16 = 0x0040;
pub(crate) const FLAG_UTF8: u16 = 0x0800;
pub(crate) const FLAG_MASKED_HEADER: u16 = 0x2000;

/// Fixed parts of the records, before their variable-length names and extras.
pub(crate) const LOCAL_HEADER_LEN: usize = 30;
pub(crate) const CENTRAL_HEADER_LEN: usize = 46;
pub(crate) const EOCD_LEN: usize = 22;
pub(crate) const ZIP64_EOCD_LEN: usize = 56;
pub(crate) const ZIP64_LOCATOR_LEN: usize = 20;
pub(crate) const ZIP64_EXTRA_ID: u16 = 0x0001;
/// A 32-bit size or offset at this value means "see the zip64 extra".
pub(crate) const U32_MAX: u64 = 0xFFFF_FFFF;

/// Unix host in "version made by", spec version 4.5 (zip64).
pub(crate) const MADE_BY_UNIX: u16 = (3 << 8) | 45;
pub(crate) const NEEDS_DEFAULT: u16 = 20;
pub(crate) const NEEDS_ZIP64: u16 = 45;
