//! Where the copies go, from the environment the chart sets on the snapshot sidecar (and on the
//! init container that fetches an `initClaw` from a bucket): never on the krill's own container.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::MIN_PART_SIZE;
use crate::error::StoreError;

pub const ENV_ENDPOINT: &str = "KRILL_OBJECT_STORE_ENDPOINT";
pub const ENV_BUCKET: &str = "KRILL_OBJECT_STORE_BUCKET";
pub const ENV_REGION: &str = "KRILL_OBJECT_STORE_REGION";
pub const ENV_PREFIX: &str = "KRILL_OBJECT_STORE_PREFIX";
pub const ENV_FORCE_PATH_STYLE: &str = "KRILL_OBJECT_STORE_FORCE_PATH_STYLE";
pub const ENV_KEEP: &str = "KRILL_OBJECT_STORE_KEEP";
pub const ENV_RELEASE: &str = "KRILL_RELEASE";
/// The usual AWS names, so the Secret's keys map one to one onto what every S3 tool reads.
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// Static credentials. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `http(s)://host:port` of an S3-compatible server; `None` is AWS itself (from `region`).
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    /// Put before `<release>/<krill>/` in every key; no leading or trailing `/`, may be empty.
    pub prefix: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`: what most
    /// S3-compatible servers (and any endpoint given as an IP) need.
    pub force_path_style: bool,
    pub credentials: Credentials,
    /// How many copies of each krill the bucket keeps (the oldest deleted first); `None`: all.
    pub keep: Option<usize>,
    /// Bytes per multipart part, and so the upload's memory: at least [`MIN_PART_SIZE`].
    pub part_size: usize,
    /// One request's limit; an unreachable endpoint fails after `connect_timeout` per try.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Tries after the first for a failed request, and the time all tries may take together.
    pub max_retries: usize,
    pub retry_timeout: Duration,
}

impl StoreConfig {
    /// A config with the defaults for everything but where and who.
    pub fn new(bucket: impl Into<String>, credentials: Credentials) -> Self {
        StoreConfig {
            endpoint: None,
            bucket: bucket.into(),
            region: "us-east-1".to_owned(),
            prefix: String::new(),
            force_path_style: true,
            credentials,
            keep: None,
            part_size: 8 << 20,
            request_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            retry_timeout: Duration::from_secs(120),
        }
    }

    /// The config from `KRILL_OBJECT_STORE_*` and `AWS_*`; `None` when no bucket is set (no
    /// copies off the node). A bucket without credentials is an error naming what is missing.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Option<Self>, StoreError> {
        let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let Some(bucket) = get(ENV_BUCKET) else {
            return Ok(None);
        };
        let required = |name: &'static str| {
            get(name).map(str::to_owned).ok_or(StoreError::Config {
                what: name,
                why: format!(
                    "{ENV_BUCKET}={bucket} is set, so {name} must be too (the chart takes it from \
                     snapshots.objectStore.existingSecret)"
                ),
            })
        };
        let credentials = Credentials {
            access_key_id: required(ENV_ACCESS_KEY_ID)?,
            secret_access_key: required(ENV_SECRET_ACCESS_KEY)?,
            session_token: get(ENV_SESSION_TOKEN).map(str::to_owned),
        };
        let mut config = StoreConfig::new(bucket, credentials);
        config.endpoint = get(ENV_ENDPOINT).map(str::to_owned);
        if let Some(region) = get(ENV_REGION) {
            config.region = region.to_owned();
        }
        config.prefix = get(ENV_PREFIX).unwrap_or_default().to_owned();
        if let Some(value) = get(ENV_FORCE_PATH_STYLE) {
            config.force_path_style = match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(StoreError::Config {
                        what: ENV_FORCE_PATH_STYLE,
                        why: format!("{value:?} is not true or false"),
                    });
                }
            };
        }
        if let Some(value) = get(ENV_KEEP) {
            let keep: usize = value.parse().map_err(|_| StoreError::Config {
                what: ENV_KEEP,
                why: format!("{value:?} is not a count (0 keeps every copy)"),
            })?;
            config.keep = (keep > 0).then_some(keep);
        }
        config.validate()?;
        Ok(Some(config))
    }

    /// The release the chart runs this krill in (`KRILL_RELEASE`): the second part of every key.
    pub fn release_from_env(env: &BTreeMap<String, String>) -> Result<String, StoreError> {
        let release = env
            .get(ENV_RELEASE)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or(StoreError::Config {
                what: ENV_RELEASE,
                why: "not set: the chart sets it to the Helm release's name".to_owned(),
            })?;
        crate::key::check_segment(ENV_RELEASE, release)?;
        Ok(release.to_owned())
    }

    /// Checks what S3 would refuse later, or what would make keys ambiguous.
    pub fn validate(&self) -> Result<(), StoreError> {
        let bucket_ok = (3..=63).contains(&self.bucket.len())
            && self
                .bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(StoreError::Config {
                what: ENV_BUCKET,
                why: format!(
                    "{:?} is not a bucket name (3-63 lowercase letters, digits, '-' and '.')",
                    self.bucket
                ),
            });
        }
        if self.prefix.starts_with('/')
            || self.prefix.ends_with('/')
            || self.prefix.contains("//")
            || self.prefix.split('/').any(|s| s == "." || s == "..")
        {
            return Err(StoreError::Config {
                what: ENV_PREFIX,
                why: format!(
                    "{:?}: no leading or trailing '/', no empty, '.' or '..' segment",
                    self.prefix
                ),
            });
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(StoreError::Config {
                what: ENV_ENDPOINT,
                why: format!("{endpoint:?} must start with http:// or https://"),
            });
        }
        if self.part_size < MIN_PART_SIZE {
            return Err(StoreError::Config {
                what: "part size",
                why: format!(
                    "{} bytes is below S3's smallest part ({MIN_PART_SIZE} bytes)",
                    self.part_size
                ),
            });
        }
        Ok(())
    }

    /// Where errors say they were talking to.
    pub fn endpoint_for_messages(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("AWS S3 ({})", self.region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn no_bucket_means_no_copies() {
        assert_eq!(StoreConfig::from_env(&env(&[])).expect("ok"), None);
    }

    #[test]
    fn a_bucket_without_credentials_names_what_is_missing() {
        let err = StoreConfig::from_env(&env(&[(ENV_BUCKET, "snaps")])).unwrap_err();
        assert!(err.to_string().contains(ENV_ACCESS_KEY_ID), "{err}");
    }

    #[test]
    fn reads_everything() {
        let config = StoreConfig::from_env(&env(&[
            (ENV_BUCKET, "snaps"),
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_SECRET_ACCESS_KEY, "secret"),
            (ENV_ENDPOINT, "http://10.0.0.1:8333"),
            (ENV_PREFIX, "team/a"),
            (ENV_KEEP, "3"),
            (ENV_FORCE_PATH_STYLE, "false"),
        ]))
        .expect("ok")
        .expect("configured");
        assert_eq!(config.endpoint.as_deref(), Some("http://10.0.0.1:8333"));
        assert_eq!(config.prefix, "team/a");
        assert_eq!(config.keep, Some(3));
        assert!(!config.force_path_style);
        assert!(!format!("{config:?}").contains("secret\""), "{config:?}");
    }

    #[test]
    fn refuses_bad_values() {
        let base = [
            (ENV_BUCKET, "snaps"),
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_SECRET_ACCESS_KEY, "secret"),
        ];
        for (name, value) in [
            (ENV_PREFIX, "/abs"),
            (ENV_PREFIX, "a/../b"),
            (ENV_ENDPOINT, "10.0.0.1:8333"),
            (ENV_KEEP, "-1"),
            (ENV_FORCE_PATH_STYLE, "maybe"),
            (ENV_BUCKET, "Has_Upper"),
        ] {
            let mut e = env(&base);
            e.insert(name.to_owned(), value.to_owned());
            let err = StoreConfig::from_env(&e).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
