use std::io;
use std::path::PathBuf;

/// Every error names the bucket, the key (or the krill's folder) and the endpoint it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object storage setting {what}: {why}")]
    Config { what: &'static str, why: String },
    #[error("setting up the client for bucket {bucket} at {endpoint}: {source}")]
    Client {
        bucket: String,
        endpoint: String,
        source: Box<object_store::Error>,
    },
    #[error("{action} s3://{bucket}/{key} at {endpoint}: {source}{hint}", hint = hint(source))]
    Request {
        action: &'static str,
        bucket: String,
        key: String,
        endpoint: String,
        // Boxed: object_store's error is large, and every Result here carries it.
        source: Box<object_store::Error>,
    },
    #[error("s3://{bucket}/{key} at {endpoint} does not exist")]
    NotFound {
        bucket: String,
        key: String,
        endpoint: String,
    },
    #[error("s3://{bucket}/{dir} at {endpoint} holds no snapshot")]
    NoSnapshots {
        bucket: String,
        dir: String,
        endpoint: String,
    },
    #[error(
        "s3://{bucket}/{key} at {endpoint} has no recorded SHA-256 (metadata `sha256`): \
         refused, an archive whose hash cannot be checked is not trusted"
    )]
    NoHash {
        bucket: String,
        key: String,
        endpoint: String,
    },
    #[error(
        "s3://{bucket}/{key} at {endpoint} does not match its recorded SHA-256 (recorded \
         {recorded}, downloaded {actual}): refused, nothing was written"
    )]
    HashMismatch {
        bucket: String,
        key: String,
        endpoint: String,
        recorded: String,
        actual: String,
    },
    #[error(
        "{path} changed while it was uploaded to s3://{bucket}/{key} (SHA-256 {before} before, \
         {after} during): the upload was abandoned"
    )]
    Changed {
        path: PathBuf,
        bucket: String,
        key: String,
        before: String,
        after: String,
    },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// What the usual failures mean for someone reading the sidecar's log.
fn hint(source: &object_store::Error) -> &'static str {
    // The cause that says what happened (refused connection, DNS) sits deep in the chain.
    let mut text = source.to_string();
    let mut cause = std::error::Error::source(source);
    while let Some(inner) = cause {
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    if text.contains("403")
        || text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("AccessDenied")
    {
        " (the storage refused the credentials: check the access key and secret in \
         snapshots.objectStore.existingSecret)"
    } else if text.contains("NoSuchBucket") {
        " (the bucket does not exist: create it, krill never does)"
    } else if ["connect", "timed out", "dns", "error sending request"]
        .iter()
        .any(|t| text.contains(t))
    {
        " (the endpoint did not answer: check snapshots.objectStore.endpoint and that the \
         NetworkPolicy lets the pod reach it)"
    } else {
        ""
    }
}
