//! One LiteLLM virtual key per krill, managed through the proxy's admin API with the master key.
//!
//! The caller (the keeper) chooses each key's value and keeps it in the krill's own Secret; this
//! crate makes LiteLLM's database agree with it. Choosing the value outside LiteLLM is what makes
//! [`ProxyAdmin::ensure_key`] idempotent: LiteLLM stores only a key's SHA-256, so a key it
//! generated could never be handed out again after a restart of whoever asked for it.
//!
//! A krill's key is found by its alias, `krill/<release>/<name>` ([`KrillId::alias`]), which also
//! names it in LiteLLM's UI and spend logs; the metadata carries release and name separately.

mod error;
mod wire;

use std::time::Duration;

use sha2::{Digest, Sha256};

pub use error::ProxyKeysError;
use wire::{ErrorBody, KeyList, KeyRecordWire};

/// Which krill a key belongs to: the Helm release and the krill's name (a fleet pod's name for
/// fleet krills).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrillId {
    pub release: String,
    pub name: String,
}

impl KrillId {
    pub fn new(release: impl Into<String>, name: impl Into<String>) -> Self {
        KrillId {
            release: release.into(),
            name: name.into(),
        }
    }

    /// The key's alias in LiteLLM; unique per release and krill.
    pub fn alias(&self) -> String {
        format!("krill/{}/{}", self.release, self.name)
    }
}

/// What a krill's key may do. `None` means no limit; an empty `models` list means every model
/// (LiteLLM's meaning), so the keeper should always pass the krill's models.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPolicy {
    pub models: Vec<String>,
    /// Spend limit in the proxy's cost units (USD in LiteLLM's cost map).
    pub max_budget: Option<f64>,
    /// Window after which spend resets, LiteLLM's syntax (`30d`, `1h`); `None`: never resets.
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
}

/// What [`ProxyAdmin::ensure_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The krill had no key: it now has the given one.
    Created,
    /// The krill already had this key: its policy was (re)applied, its spend kept.
    Updated,
    /// The krill had another key (its Secret was replaced): the old key is revoked and the given
    /// one created. Spend starts again from zero.
    Replaced,
}

/// A krill's key as LiteLLM's database holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// SHA-256 of the key, hex: LiteLLM never stores the key itself.
    pub hash: String,
    pub alias: String,
    pub spend: f64,
    pub max_budget: Option<f64>,
    pub models: Vec<String>,
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
}

/// A client of one LiteLLM proxy's admin API.
#[derive(Debug, Clone)]
pub struct ProxyAdmin {
    http: reqwest::Client,
    base: String,
    master_key: String,
}

/// The hash LiteLLM keeps of a key (`hash_token` in LiteLLM: SHA-256, lower-case hex).
pub fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// LiteLLM accepts a caller-chosen key only with the `sk-` prefix; short keys are guessable.
pub fn check_key(key: &str) -> Result<(), ProxyKeysError> {
    if !key.starts_with("sk-") || key.len() < 32 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ProxyKeysError::BadKey);
    }
    Ok(())
}

impl ProxyAdmin {
    /// `base_url` is the proxy's root (`http://krill-api-server:4000`), without `/v1`.
    pub fn new(
        base_url: impl Into<String>,
        master_key: impl Into<String>,
    ) -> Result<Self, ProxyKeysError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| ProxyKeysError::Client { source })?;
        Ok(ProxyAdmin {
            http,
            base: base_url.into().trim_end_matches('/').to_owned(),
            master_key: master_key.into(),
        })
    }

    /// Makes `key` the krill's one key with `policy`; safe to call on every reconcile.
    pub async fn ensure_key(
        &self,
        krill: &KrillId,
        key: &str,
        policy: &KeyPolicy,
    ) -> Result<Ensured, ProxyKeysError> {
        check_key(key)?;
        let wanted = key_hash(key);
        let outcome = match self.find(krill).await? {
            Some(existing) if existing.hash == wanted => {
                let mut body = policy_body(krill, policy);
                body["key"] = wanted.into();
                self.post("/key/update", &body).await?;
                return Ok(Ensured::Updated);
            }
            Some(existing) => {
                self.delete_hashes(vec![existing.hash]).await?;
                Ensured::Replaced
            }
            None => Ensured::Created,
        };
        let mut body = policy_body(krill, policy);
        body["key"] = key.into();
        body["key_alias"] = krill.alias().into();
        self.post("/key/generate", &body).await?;
        Ok(outcome)
    }

    /// Revokes the krill's key; `false` when it had none (revoking twice is not an error).
    pub async fn revoke(&self, krill: &KrillId) -> Result<bool, ProxyKeysError> {
        match self.find(krill).await? {
            Some(record) => {
                self.delete_hashes(vec![record.hash]).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The krill's key as stored, spend included; `None` when it has none.
    pub async fn find(&self, krill: &KrillId) -> Result<Option<KeyRecord>, ProxyKeysError> {
        let alias = krill.alias();
        let path = "/key/list";
        let url = reqwest::Url::parse_with_params(
            &format!("{}{path}", self.base),
            [
                ("key_alias", alias.as_str()),
                ("return_full_object", "true"),
                ("size", "100"),
            ],
        )
        .map_err(|e| ProxyKeysError::BadUrl {
            base: self.base.clone(),
            reason: e.to_string(),
        })?;
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.master_key)
            .send()
            .await
            .map_err(|source| ProxyKeysError::Unreachable {
                endpoint: path,
                source,
            })?;
        let list: KeyList = decode(path, response).await?;
        let mut found: Vec<KeyRecord> = list
            .keys
            .into_iter()
            .filter(|k| k.key_alias.as_deref() == Some(alias.as_str()))
            .map(KeyRecordWire::into_record)
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            n => Err(ProxyKeysError::Ambiguous { alias, count: n }),
        }
    }

    /// Spend so far of the krill's key (in its current budget window when `budget_duration` is
    /// set); `None` when it has no key.
    pub async fn spend(&self, krill: &KrillId) -> Result<Option<f64>, ProxyKeysError> {
        Ok(self.find(krill).await?.map(|record| record.spend))
    }

    async fn delete_hashes(&self, hashes: Vec<String>) -> Result<(), ProxyKeysError> {
        self.post("/key/delete", &serde_json::json!({ "keys": hashes }))
            .await
            .map(drop)
    }

    async fn post(
        &self,
        path: &'static str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ProxyKeysError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.master_key)
            .json(body)
            .send()
            .await
            .map_err(|source| ProxyKeysError::Unreachable {
                endpoint: path,
                source,
            })?;
        decode(path, response).await
    }
}

/// The policy as LiteLLM's generate/update body. Limits are sent even when `None`: an update
/// that leaves a field out keeps the old value, and a lifted limit must be lifted.
fn policy_body(krill: &KrillId, policy: &KeyPolicy) -> serde_json::Value {
    serde_json::json!({
        "models": policy.models,
        "max_budget": policy.max_budget,
        "budget_duration": policy.budget_duration,
        "rpm_limit": policy.rpm_limit,
        "tpm_limit": policy.tpm_limit,
        "metadata": {
            "krill": krill.name,
            "release": krill.release,
            "managed-by": "krill",
        },
    })
}

async fn decode<T: serde::de::DeserializeOwned>(
    endpoint: &'static str,
    response: reqwest::Response,
) -> Result<T, ProxyKeysError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|source| ProxyKeysError::Unreachable { endpoint, source })?;
    if !status.is_success() {
        let message = ErrorBody::message(&text);
        // LiteLLM says it three ways: "DB not connected" (key endpoints), "Database not
        // connected" (its auth layer) and "No connected db." (looking up a non-master key).
        if [
            "DB not connected",
            "Database not connected",
            "No connected db",
        ]
        .iter()
        .any(|said| message.contains(said))
        {
            return Err(ProxyKeysError::NoDatabase { endpoint });
        }
        return Err(ProxyKeysError::Refused {
            endpoint,
            status: status.as_u16(),
            message,
        });
    }
    serde_json::from_str(&text).map_err(|source| ProxyKeysError::Malformed {
        endpoint,
        source,
        body: text.chars().take(500).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_litellms_sha256_hex() {
        // hashlib.sha256(b"abc").hexdigest(), the FIPS 180-2 test vector.
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn keys_litellm_would_refuse_or_that_are_guessable_are_refused() {
        assert!(check_key("sk-0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "0123456789abcdef0123456789abcdef0",
            "sk-short",
            "sk-0123456789abcdef 0123456789abcdef",
        ] {
            assert!(
                matches!(check_key(bad), Err(ProxyKeysError::BadKey)),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_alias_names_release_and_krill() {
        assert_eq!(KrillId::new("prod", "alice").alias(), "krill/prod/alice");
    }

    #[test]
    fn a_lifted_limit_is_sent_as_null() {
        let body = policy_body(
            &KrillId::new("r", "k"),
            &KeyPolicy {
                models: vec!["m".into()],
                ..KeyPolicy::default()
            },
        );
        assert!(body["max_budget"].is_null());
        assert!(
            body.as_object()
                .is_some_and(|o| o.contains_key("rpm_limit"))
        );
        assert_eq!(body["metadata"]["krill"], "k");
    }
}
