//! Strict archive reading: every entry is checked against the hostile-archive rules before
//! anything is extracted, and data is checked again (size, CRC) while it is decompressed.
//!
//! [`check`] lists and checks the entries, [`extract`] decompresses one of them.

mod check;
mod extract;

pub(crate) use check::{Entry, check_name, scan};
pub(crate) use extract::{ExtractError, Scratch, extract, extract_err, read_small};
