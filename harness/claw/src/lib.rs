//! `.claw` archives: OpenClaw context snapshots, interchangeable with claw.py's.
//!
//! A `.claw` file is a zip holding `manifest.json`, `README.md`, `SKILL.md`, optionally a copy
//! of `claw.py`, and `context/`. [`export`] writes one atomically and fast (parallel deflate,
//! bounded memory); [`import`] refuses hostile or broken archives before touching the target
//! and moves a fully extracted staging directory into place; [`info`] lists one.
//! The format and our guarantees are described in docs/claw.md.

mod error;
mod export;
mod import;
mod limits;
mod manifest;
mod progress;
mod read;
mod texts;
mod zipfmt;

#[cfg(feature = "cli")]
pub mod cli;

pub use error::{ClawError, Refusal};
pub use export::{
    DEFAULT_LEVEL, ExportOptions, ExportSummary, GENERATED_NAMES, Level, export, locate_claw_py,
};
pub use import::{
    ArchiveInfo, EntryInfo, ImportOptions, ImportSummary, import, info, verify_bytes,
};
pub use limits::{Limits, parse_size};
pub use manifest::{FORMAT_NAME, FORMAT_VERSION, LeftOut, Manifest};
