use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, AttributeValue, Attributes, ClientOptions, MultipartUpload, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutPayload, RetryConfig,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::SHA256_METADATA;
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::key::{SnapshotKey, archive_order, krill_dir};

/// A krill's snapshots in one bucket.
pub struct SnapshotStore {
    s3: AmazonS3,
    config: StoreConfig,
    endpoint: String,
}

/// One finished upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    pub bucket: String,
    pub key: String,
    pub bytes: u64,
    pub sha256: String,
    pub parts: usize,
}

/// One copy in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub key: String,
    /// `<stamp>[-N].claw`
    pub archive: String,
    pub bytes: u64,
}

/// One verified download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Downloaded {
    pub bucket: String,
    pub key: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_attribute() -> Attribute {
    Attribute::Metadata(SHA256_METADATA.into())
}

impl SnapshotStore {
    pub fn new(config: StoreConfig) -> Result<Self, StoreError> {
        config.validate()?;
        let endpoint = config.endpoint_for_messages();
        let client = ClientOptions::new()
            .with_timeout(config.request_timeout)
            .with_connect_timeout(config.connect_timeout)
            .with_allow_http(
                config
                    .endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://")),
            );
        let retry = RetryConfig {
            max_retries: config.max_retries,
            retry_timeout: config.retry_timeout,
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.credentials.access_key_id)
            .with_secret_access_key(&config.credentials.secret_access_key)
            .with_virtual_hosted_style_request(!config.force_path_style)
            .with_client_options(client)
            .with_retry(retry);
        if let Some(token) = &config.credentials.session_token {
            builder = builder.with_token(token);
        }
        if let Some(url) = &config.endpoint {
            builder = builder.with_endpoint(url);
        }
        let s3 = builder.build().map_err(|source| StoreError::Client {
            bucket: config.bucket.clone(),
            endpoint: endpoint.clone(),
            source: Box::new(source),
        })?;
        Ok(SnapshotStore {
            s3,
            config,
            endpoint,
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// The full key of `key` in this bucket (with the prefix).
    pub fn key_of(&self, key: &SnapshotKey) -> String {
        key.to_key(&self.config.prefix)
    }

    fn request(
        &self,
        action: &'static str,
        key: &str,
    ) -> impl FnOnce(object_store::Error) -> StoreError {
        let (bucket, key, endpoint) = (
            self.config.bucket.clone(),
            key.to_owned(),
            self.endpoint.clone(),
        );
        move |source| match source {
            object_store::Error::NotFound { .. } => StoreError::NotFound {
                bucket,
                key,
                endpoint,
            },
            source => StoreError::Request {
                action,
                bucket,
                key,
                endpoint,
                source: Box::new(source),
            },
        }
    }

    fn object_path(&self, key: &str) -> Result<ObjectPath, StoreError> {
        ObjectPath::parse(key).map_err(|e| StoreError::Config {
            what: "object key",
            why: format!("{key:?}: {e}"),
        })
    }

    /// Uploads `file` as `key`: a multipart upload, one part in memory at a time, the SHA-256 in
    /// the object's metadata. The object appears only when the upload completes; on any failure
    /// the upload is aborted and nothing is visible.
    pub async fn upload(&self, file: &Path, key: &SnapshotKey) -> Result<Uploaded, StoreError> {
        let full_key = self.key_of(key);
        let location = self.object_path(&full_key)?;
        // The hash goes into the metadata the upload starts with, so it is read once first.
        let sha256 = hash_file(file).await?;
        let mut attributes = Attributes::new();
        attributes.insert(sha256_attribute(), AttributeValue::from(sha256.clone()));
        let options = PutMultipartOptions {
            attributes,
            ..Default::default()
        };
        let mut upload = self
            .s3
            .put_multipart_opts(&location, options)
            .await
            .map_err(self.request("starting the upload of", &full_key))?;
        match self.send_parts(file, &mut *upload, &full_key).await {
            Ok((bytes, parts, during)) if during == sha256 => {
                upload
                    .complete()
                    .await
                    .map_err(self.request("completing the upload of", &full_key))?;
                Ok(Uploaded {
                    bucket: self.config.bucket.clone(),
                    key: full_key,
                    bytes,
                    sha256,
                    parts,
                })
            }
            Ok((_, _, during)) => {
                let _ = upload.abort().await;
                Err(StoreError::Changed {
                    path: file.to_owned(),
                    bucket: self.config.bucket.clone(),
                    key: full_key,
                    before: sha256,
                    after: during,
                })
            }
            Err(error) => {
                // Best effort: the bucket's lifecycle rules clear what an abort cannot reach.
                let _ = upload.abort().await;
                Err(error)
            }
        }
    }

    /// Sends `file` in parts of `part_size`; returns its bytes, the parts and its SHA-256.
    async fn send_parts(
        &self,
        file: &Path,
        upload: &mut dyn MultipartUpload,
        key: &str,
    ) -> Result<(u64, usize, String), StoreError> {
        let io = |action| {
            move |source| StoreError::Io {
                action,
                path: file.to_owned(),
                source,
            }
        };
        let mut reader = tokio::fs::File::open(file).await.map_err(io("opening"))?;
        let mut hasher = Sha256::new();
        let (mut bytes, mut parts) = (0u64, 0usize);
        loop {
            let mut part = Vec::with_capacity(self.config.part_size);
            while part.len() < self.config.part_size {
                let read = (&mut reader)
                    .take((self.config.part_size - part.len()) as u64)
                    .read_to_end(&mut part)
                    .await
                    .map_err(io("reading"))?;
                if read == 0 {
                    break;
                }
            }
            // An empty file still gets its one (empty) part: S3 completes no upload without one.
            if part.is_empty() && parts > 0 {
                break;
            }
            let last = part.len() < self.config.part_size;
            hasher.update(&part);
            bytes += part.len() as u64;
            parts += 1;
            upload
                .put_part(PutPayload::from(Bytes::from(part)))
                .await
                .map_err(self.request("uploading a part of", key))?;
            if last {
                break;
            }
        }
        Ok((bytes, parts, hex(&hasher.finalize())))
    }

    /// This krill's copies in the bucket, oldest first; objects that are not copies (by name) are
    /// left out.
    pub async fn list(&self, release: &str, krill: &str) -> Result<Vec<Stored>, StoreError> {
        crate::key::check_segment("release", release)?;
        crate::key::check_segment("krill", krill)?;
        let dir = krill_dir(&self.config.prefix, release, krill);
        let location = self.object_path(dir.trim_end_matches('/'))?;
        let mut listing = self.s3.list(Some(&location));
        let mut found = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(self.request("listing", &dir))?;
            let key = meta.location.to_string();
            let Some(archive) = key.strip_prefix(&dir) else {
                continue;
            };
            if let Some(order) = archive_order(archive) {
                found.push((
                    order,
                    Stored {
                        archive: archive.to_owned(),
                        key: key.clone(),
                        bytes: meta.size,
                    },
                ));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found.into_iter().map(|(_, s)| s).collect())
    }

    /// The newest copy of `krill`.
    pub async fn latest(&self, release: &str, krill: &str) -> Result<Stored, StoreError> {
        self.list(release, krill)
            .await?
            .pop()
            .ok_or_else(|| StoreError::NoSnapshots {
                bucket: self.config.bucket.clone(),
                dir: krill_dir(&self.config.prefix, release, krill),
                endpoint: self.endpoint.clone(),
            })
    }

    /// Deletes the oldest copies of `key`'s krill beyond `keep` (at least one stays), never
    /// `key` itself; returns the deleted keys.
    pub async fn apply_retention(
        &self,
        key: &SnapshotKey,
        keep: usize,
    ) -> Result<Vec<String>, StoreError> {
        let just = self.key_of(key);
        let mut stored = self.list(&key.release, &key.krill).await?;
        let mut deleted = Vec::new();
        while stored.len() > keep.max(1) {
            let Some(oldest) = stored.iter().position(|s| s.key != just) else {
                break;
            };
            let doomed = stored.remove(oldest);
            let location = self.object_path(&doomed.key)?;
            match self.s3.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted.push(doomed.key),
                Err(e) => return Err(self.request("deleting", &doomed.key)(e)),
            }
        }
        Ok(deleted)
    }

    /// Downloads `key` (the full key) to `dest`: streamed into a temporary file beside it, hashed
    /// on the way, renamed to `dest` only when the hash matches the one recorded at upload.
    pub async fn download(&self, key: &str, dest: &Path) -> Result<Downloaded, StoreError> {
        let location = self.object_path(key)?;
        let result = self
            .s3
            .get(&location)
            .await
            .map_err(self.request("downloading", key))?;
        let recorded = result
            .attributes
            .get(&sha256_attribute())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| StoreError::NoHash {
                bucket: self.config.bucket.clone(),
                key: key.to_owned(),
                endpoint: self.endpoint.clone(),
            })?;
        let dir = dest.parent().unwrap_or(Path::new("."));
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        let temp = tempfile::Builder::new()
            .prefix(".download-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io("creating a temporary file in", dir))?;
        let mut out = tokio::fs::File::from_std(
            temp.as_file()
                .try_clone()
                .map_err(io("opening", temp.path()))?,
        );
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(self.request("downloading", key))?;
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            out.write_all(&chunk)
                .await
                .map_err(io("writing", temp.path()))?;
        }
        out.sync_all().await.map_err(io("syncing", temp.path()))?;
        let actual = hex(&hasher.finalize());
        if actual != recorded {
            return Err(StoreError::HashMismatch {
                bucket: self.config.bucket.clone(),
                key: key.to_owned(),
                endpoint: self.endpoint.clone(),
                recorded,
                actual,
            });
        }
        temp.persist(dest)
            .map_err(|e| io("renaming the download to", dest)(e.error))?;
        Ok(Downloaded {
            bucket: self.config.bucket.clone(),
            key: key.to_owned(),
            path: dest.to_owned(),
            bytes,
            sha256: actual,
        })
    }
}

async fn hash_file(file: &Path) -> Result<String, StoreError> {
    let io = |action| {
        move |source| StoreError::Io {
            action,
            path: file.to_owned(),
            source,
        }
    };
    let mut reader = tokio::fs::File::open(file).await.map_err(io("opening"))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buffer).await.map_err(io("reading"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}
