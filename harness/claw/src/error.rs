use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing a `.claw` archive.
#[derive(Debug, thiserror::Error)]
pub enum ClawError {
    /// An operating-system call failed; `action` says what we were doing.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The archive is hostile, broken or over a limit. Nothing was changed on disk.
    #[error("refusing {archive}: {}{reason}", entry_prefix(.entry))]
    Refused {
        archive: PathBuf,
        /// The entry at fault, when the problem is tied to one.
        entry: Option<String>,
        reason: Refusal,
    },

    #[error("source {0} does not exist or is not a directory")]
    SourceNotADirectory(PathBuf),

    /// The export source holds something the format cannot carry faithfully.
    #[error("cannot export {path}: {reason}")]
    Unexportable { path: PathBuf, reason: String },

    #[error(
        "target {0} exists and is not empty; refusing to mix the archive into it \
         (pass --merge / ImportOptions::merge to overwrite files in place like claw.py does)"
    )]
    TargetNotEmpty(PathBuf),

    #[error("target {0} exists and is not a directory")]
    TargetNotADirectory(PathBuf),

    /// In merge mode, an archive file would replace a directory (or the other way round).
    #[error(
        "cannot merge into {target}: {path} is a {existing} in the target but a {incoming} in the archive"
    )]
    MergeConflict {
        target: PathBuf,
        path: String,
        existing: &'static str,
        incoming: &'static str,
    },

    #[error("manifest.json in {archive}: {detail}")]
    Manifest { archive: PathBuf, detail: String },
}

fn entry_prefix(entry: &Option<String>) -> String {
    match entry {
        Some(name) => format!("entry {name:?}: "),
        None => String::new(),
    }
}

impl ClawError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ClawError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn unexportable(path: &std::path::Path, reason: impl Into<String>) -> Self {
        ClawError::Unexportable {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// The refusal reason, if this is a refusal (handy in tests and callers that map exit codes).
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ClawError::Refused { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// Why an archive (or one entry of it) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    ParentComponent,
    AbsolutePath,
    Backslash,
    DriveLetter,
    EmptyOrDotComponent,
    ControlCharacter,
    NameTooLong { len: usize, limit: usize },
    NotUtf8 { lossy: String },
    Symlink,
    SpecialFile { kind: &'static str },
    Duplicate,
    CaseCollision { other: String },
    FileDirectoryClash { other: String },
    DirectoryWithData,
    TooManyEntries { count: u64, limit: u64 },
    TotalTooLarge { total: u64, limit: u64 },
    RatioTooHigh { ratio: u64, limit: u64 },
    Encrypted,
    UnsupportedMethod(u16),
    StoredSizeMismatch,
    Overlapping { other: String },
    LocalHeaderMismatch { field: &'static str },
    DataOutOfBounds,
    SizeMismatch { declared: u64, actual: String },
    CrcMismatch { declared: u32, actual: u32 },
    BadDeflate { detail: String },
    Truncated { detail: String },
    Corrupt { detail: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Refusal::*;
        match self {
            ParentComponent => write!(
                f,
                "path contains a `..` component and would escape the target"
            ),
            AbsolutePath => write!(f, "absolute path would escape the target"),
            Backslash => write!(
                f,
                "path contains a backslash (a Windows separator that could escape the target)"
            ),
            DriveLetter => write!(
                f,
                "path starts with a drive letter and would escape the target"
            ),
            EmptyOrDotComponent => write!(f, "path has an empty or `.` component"),
            ControlCharacter => write!(f, "path contains a control character"),
            NameTooLong { len, limit } => {
                write!(f, "name is {len} bytes long, over the limit of {limit}")
            }
            NotUtf8 { lossy } => write!(f, "name is not valid UTF-8 (shown lossily as {lossy:?})"),
            Symlink => write!(f, "entry is a symbolic link; links are never extracted"),
            SpecialFile { kind } => write!(f, "entry is a {kind}, not a regular file or directory"),
            Duplicate => write!(f, "name appears more than once"),
            CaseCollision { other } => write!(
                f,
                "name differs only in letter case from {other:?} (they would collide on case-insensitive filesystems)"
            ),
            FileDirectoryClash { other } => write!(
                f,
                "path is both a file and a directory (clashes with {other:?})"
            ),
            DirectoryWithData => write!(f, "directory entry carries data"),
            TooManyEntries { count, limit } => write!(
                f,
                "archive has {count} entries, over the limit of {limit} (raise it with --max-entries)"
            ),
            TotalTooLarge { total, limit } => write!(
                f,
                "archive would extract to {total} bytes, over the limit of {limit} (raise it with --max-total-bytes)"
            ),
            RatioTooHigh { ratio, limit } => write!(
                f,
                "compression ratio {ratio}:1 is over the limit of {limit}:1, a zip bomb sign (raise it with --max-ratio)"
            ),
            Encrypted => write!(
                f,
                "entry is encrypted; encrypted archives are not supported"
            ),
            UnsupportedMethod(m) => write!(
                f,
                "compression method {m} is not supported (only stored and deflate)"
            ),
            StoredSizeMismatch => write!(
                f,
                "stored entry has different compressed and uncompressed sizes"
            ),
            Overlapping { other } => write!(
                f,
                "entry data overlaps entry {other:?} (a zip bomb technique)"
            ),
            LocalHeaderMismatch { field } => write!(
                f,
                "local header disagrees with the central directory on the {field}"
            ),
            DataOutOfBounds => write!(f, "entry data lies outside the archive's data area"),
            SizeMismatch { declared, actual } => write!(
                f,
                "declared size {declared} bytes but the data holds {actual}"
            ),
            CrcMismatch { declared, actual } => write!(
                f,
                "CRC-32 mismatch (declared {declared:08x}, data has {actual:08x}): corrupt data"
            ),
            BadDeflate { detail } => write!(f, "invalid deflate data: {detail}"),
            Truncated { detail } => write!(f, "archive is truncated: {detail}"),
            Corrupt { detail } => write!(f, "archive is corrupt: {detail}"),
        }
    }
}
