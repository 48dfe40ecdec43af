//! Copies off the node: after each snapshot round the sidecar uploads this krill's newest local
//! snapshot to the bucket when the bucket does not hold it yet, then applies the bucket's
//! retention; and an `initClaw` can come from a bucket (`krill fetch-init-claw`, the init
//! container). The object storage itself is `krill-snapshot-store`'s.
//!
//! Only the newest local snapshot is ever uploaded: after a failed upload the next round tries
//! again, with whatever is newest by then (it holds everything the older one did). A failure never
//! touches the local copies.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use krill_snapshot_store::{
    Downloaded, SnapshotKey, SnapshotStore, StoreConfig, StoreError, Uploaded,
    archive_name_from_file,
};
use serde::Serialize;

use crate::paths::KrillName;
use crate::retention::{self, RetentionError};

#[derive(Debug, thiserror::Error)]
pub enum OffsiteError {
    // Boxed: a store error names bucket, key and endpoint, and every Result here carries it.
    #[error(transparent)]
    Store(Box<StoreError>),
    #[error(transparent)]
    Retention(#[from] RetentionError),
    /// Why `KRILL_RELEASE` cannot name the keys (the store's message).
    #[error("{0}")]
    Release(String),
    #[error("starting the runtime for object storage requests: {0}")]
    Runtime(std::io::Error),
    #[error(
        "{text:?} is not an object: use s3://BUCKET/KEY.claw, or \
         s3://BUCKET/[PREFIX/]RELEASE/KRILL/latest for a krill's newest copy"
    )]
    BadObject { text: String },
}

impl From<StoreError> for OffsiteError {
    fn from(error: StoreError) -> Self {
        OffsiteError::Store(Box::new(error))
    }
}

/// An archive in a bucket: one key, or the newest copy of a krill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRef {
    Key {
        bucket: String,
        key: String,
    },
    Latest {
        bucket: String,
        prefix: String,
        release: String,
        krill: String,
    },
}

impl ObjectRef {
    /// `s3://bucket/key.claw` or `s3://bucket/[prefix/]release/krill/latest`.
    pub fn parse(text: &str) -> Result<Self, OffsiteError> {
        let bad = || OffsiteError::BadObject {
            text: text.to_owned(),
        };
        let rest = text.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
        if bucket.is_empty()
            || key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(bad());
        }
        if let Some(dir) = key.strip_suffix("/latest") {
            let mut parts: Vec<&str> = dir.rsplitn(3, '/').collect();
            parts.reverse();
            let (prefix, release, krill) = match parts.as_slice() {
                [release, krill] => ("", *release, *krill),
                [prefix, release, krill] => (*prefix, *release, *krill),
                _ => return Err(bad()),
            };
            return Ok(ObjectRef::Latest {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                release: release.to_owned(),
                krill: krill.to_owned(),
            });
        }
        if !key.ends_with(".claw") {
            return Err(bad());
        }
        Ok(ObjectRef::Key {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    fn bucket(&self) -> &str {
        match self {
            ObjectRef::Key { bucket, .. } | ObjectRef::Latest { bucket, .. } => bucket,
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectRef::Key { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            ObjectRef::Latest {
                bucket,
                prefix,
                release,
                krill,
            } if prefix.is_empty() => write!(f, "s3://{bucket}/{release}/{krill}/latest"),
            ObjectRef::Latest {
                bucket,
                prefix,
                release,
                krill,
            } => write!(f, "s3://{bucket}/{prefix}/{release}/{krill}/latest"),
        }
    }
}

/// What one round did in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "offsite", rename_all = "snake_case")]
pub enum SyncReport {
    Uploaded {
        #[serde(flatten)]
        uploaded: Uploaded,
        /// Older copies the bucket's retention deleted.
        deleted: Vec<String>,
    },
    /// The bucket already holds the newest local snapshot.
    UpToDate { key: String },
    /// No local snapshot yet.
    NothingLocal,
}

/// The configured bucket, and the runtime its requests run on (the helper is synchronous).
pub struct Offsite {
    config: StoreConfig,
    store: SnapshotStore,
    /// `KRILL_RELEASE`, or why it cannot be used (reported by the first upload: fetching works
    /// without it).
    release: Result<String, String>,
    runtime: tokio::runtime::Runtime,
}

impl Offsite {
    /// `None` when no bucket is configured. The release (`KRILL_RELEASE`) is needed to upload,
    /// not to fetch.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Option<Self>, OffsiteError> {
        let Some(config) = StoreConfig::from_env(env)? else {
            return Ok(None);
        };
        let release = StoreConfig::release_from_env(env).map_err(|e| e.to_string());
        // One thread: requests are made one at a time, and the snapshot loop's signal mask
        // (watch::stop_signals) is inherited by the threads tokio starts.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OffsiteError::Runtime)?;
        let store = SnapshotStore::new(config.clone())?;
        Ok(Some(Offsite {
            config,
            store,
            release,
            runtime,
        }))
    }

    pub fn describe(&self) -> String {
        let prefix = if self.config.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.config.prefix)
        };
        format!(
            "s3://{}/{prefix}{}/ at {}",
            self.config.bucket,
            self.release.as_deref().unwrap_or("<release>"),
            self.config.endpoint_for_messages()
        )
    }

    /// Uploads `name`'s newest snapshot in `dir` unless the bucket has it, then applies the
    /// bucket's retention.
    pub fn sync(&self, dir: &Path, name: &KrillName) -> Result<SyncReport, OffsiteError> {
        let release = self.release.clone().map_err(OffsiteError::Release)?;
        let Some(newest) = retention::list(dir, name)?.pop() else {
            return Ok(SyncReport::NothingLocal);
        };
        let file_name = newest
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(archive) = archive_name_from_file(name.as_str(), file_name) else {
            return Ok(SyncReport::NothingLocal);
        };
        let key = SnapshotKey::new(&release, name.as_str(), &archive)?;
        self.runtime.block_on(async {
            let held = self.store.list(&release, name.as_str()).await?;
            if held.iter().any(|s| s.archive == archive) {
                return Ok(SyncReport::UpToDate {
                    key: self.store.key_of(&key),
                });
            }
            let uploaded = self.store.upload(&newest, &key).await?;
            let deleted = match self.config.keep {
                Some(keep) => self.store.apply_retention(&key, keep).await?,
                None => Vec::new(),
            };
            Ok(SyncReport::Uploaded { uploaded, deleted })
        })
    }

    /// Downloads `object` to `dest`, verified against its recorded SHA-256 (a different bucket
    /// than the configured one is reached with the same credentials).
    pub fn fetch(&self, object: &ObjectRef, dest: &Path) -> Result<Downloaded, OffsiteError> {
        let mut config = self.config.clone();
        config.bucket = object.bucket().to_owned();
        if let ObjectRef::Latest { prefix, .. } = object {
            config.prefix = prefix.clone();
        }
        let store = SnapshotStore::new(config)?;
        self.runtime.block_on(async {
            let key = match object {
                ObjectRef::Key { key, .. } => key.clone(),
                ObjectRef::Latest { release, krill, .. } => store.latest(release, krill).await?.key,
            };
            Ok(store.download(&key, dest).await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_refs() {
        assert_eq!(
            ObjectRef::parse("s3://snaps/krill/prod/alice/20261201T120000Z.claw").expect("key"),
            ObjectRef::Key {
                bucket: "snaps".to_owned(),
                key: "krill/prod/alice/20261201T120000Z.claw".to_owned()
            }
        );
        let latest = ObjectRef::parse("s3://snaps/team/a/prod/alice/latest").expect("latest");
        assert_eq!(
            latest,
            ObjectRef::Latest {
                bucket: "snaps".to_owned(),
                prefix: "team/a".to_owned(),
                release: "prod".to_owned(),
                krill: "alice".to_owned()
            }
        );
        assert_eq!(latest.to_string(), "s3://snaps/team/a/prod/alice/latest");
        assert_eq!(
            ObjectRef::parse("s3://snaps/prod/alice/latest").expect("latest"),
            ObjectRef::Latest {
                bucket: "snaps".to_owned(),
                prefix: String::new(),
                release: "prod".to_owned(),
                krill: "alice".to_owned()
            }
        );
        for bad in [
            "snaps/x.claw",
            "s3://snaps",
            "s3://snaps/",
            "s3://snaps/x.tar",
            "s3://snaps/a/../x.claw",
            "s3://snaps/alice/latest",
            "s3:///x.claw",
        ] {
            assert!(ObjectRef::parse(bad).is_err(), "{bad}");
        }
    }
}
