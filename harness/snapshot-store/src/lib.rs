//! Copies of a krill's snapshots in S3-compatible object storage (docs/helper.md, "Copies off
//! the node").
//!
//! Layout: `<prefix>/<release>/<krill>/<stamp>.claw`, one object per snapshot, its SHA-256 in the
//! object's own metadata (`x-amz-meta-sha256`). An archive is uploaded as a multipart upload read
//! from the file one part at a time, so memory stays at one part whatever the archive's size, and
//! the object (with its hash) only appears when the upload completes: nobody ever lists a
//! half-written archive, or an archive without its hash. A download is streamed to a temporary file
//! beside its destination, hashed on the way, and only renamed into place when the hash matches
//! the recorded one; an object without a recorded hash is refused.
//!
//! The library is `object_store` (Apache Arrow's): signing, retries and multipart bookkeeping are
//! its business, not ours.

mod config;
mod error;
mod key;
mod store;

pub use config::{Credentials, StoreConfig};
pub use error::StoreError;
pub use key::{SnapshotKey, archive_name_from_file};
pub use store::{Downloaded, SnapshotStore, Stored, Uploaded};

/// The object metadata entry holding an archive's SHA-256 (lowercase hex).
pub const SHA256_METADATA: &str = "sha256";
/// S3's smallest part (every part but the last must be at least this big).
pub const MIN_PART_SIZE: usize = 5 << 20;
