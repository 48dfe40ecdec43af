//! The credential Secrets: read, or created once and never rewritten. A Secret that exists is
//! taken as it is, so neither a keeper restart nor a `helm upgrade` nor a GitOps sync rotates a
//! token.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;

use crate::config::SecretRef;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("reading Secret {secret}: {source}")]
    Read { secret: String, source: kube::Error },
    #[error("creating Secret {secret}: {source}")]
    Create { secret: String, source: kube::Error },
    #[error(
        "Secret {secret} exists without the key {key}; add it (the keeper never rewrites a Secret it did not create empty)"
    )]
    KeyMissing { secret: String, key: String },
    #[error("Secret {secret} key {key} is not UTF-8 text")]
    NotText { secret: String, key: String },
    #[error("no randomness for a new secret: {0}")]
    Random(std::io::Error),
}

pub struct Store {
    secrets: Api<Secret>,
    labels: BTreeMap<String, String>,
}

impl Store {
    pub fn new(secrets: Api<Secret>, labels: BTreeMap<String, String>) -> Self {
        Store { secrets, labels }
    }

    /// The value under `at`, `None` when the Secret or the key does not exist.
    pub async fn read(&self, at: &SecretRef) -> Result<Option<String>, StoreError> {
        let secret = self
            .secrets
            .get_opt(&at.name)
            .await
            .map_err(|source| StoreError::Read {
                secret: at.name.clone(),
                source,
            })?;
        secret.map_or(Ok(None), |s| value_of(&s, at))
    }

    /// The value under `at`, creating the Secret with `fresh()` when it does not exist. Two
    /// keepers (or two requests) racing get the same value: the loser of the create reads the
    /// winner's.
    pub async fn ensure(
        &self,
        at: &SecretRef,
        fresh: impl FnOnce() -> std::io::Result<String>,
    ) -> Result<String, StoreError> {
        if let Some(value) = self.existing(at).await? {
            return Ok(value);
        }
        let value = fresh().map_err(StoreError::Random)?;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(at.name.clone()),
                labels: Some(self.labels.clone()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(BTreeMap::from([(
                at.key.clone(),
                ByteString(value.clone().into_bytes()),
            )])),
            ..Secret::default()
        };
        match self.secrets.create(&PostParams::default(), &secret).await {
            Ok(_) => Ok(value),
            // Lost a race: the winner's value is the one.
            Err(kube::Error::Api(status)) if status.code == 409 => self
                .existing(at)
                .await?
                .ok_or_else(|| StoreError::KeyMissing {
                    secret: at.name.clone(),
                    key: at.key.clone(),
                }),
            Err(source) => Err(StoreError::Create {
                secret: at.name.clone(),
                source,
            }),
        }
    }

    /// The value of a Secret that exists (an error when it lacks the key), `None` when the
    /// Secret does not exist.
    async fn existing(&self, at: &SecretRef) -> Result<Option<String>, StoreError> {
        let Some(secret) =
            self.secrets
                .get_opt(&at.name)
                .await
                .map_err(|source| StoreError::Read {
                    secret: at.name.clone(),
                    source,
                })?
        else {
            return Ok(None);
        };
        value_of(&secret, at)?
            .map(Some)
            .ok_or_else(|| StoreError::KeyMissing {
                secret: at.name.clone(),
                key: at.key.clone(),
            })
    }
}

fn value_of(secret: &Secret, at: &SecretRef) -> Result<Option<String>, StoreError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&at.key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&at.key))
                .map(|s| s.clone().into_bytes())
        });
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes).map_err(|_| StoreError::NotText {
        secret: at.name.clone(),
        key: at.key.clone(),
    })?;
    // A Secret written with `echo` or an editor ends in a newline that is not part of the value.
    let value = text.trim_end_matches(['\n', '\r']).to_owned();
    Ok((!value.trim().is_empty()).then_some(value))
}
