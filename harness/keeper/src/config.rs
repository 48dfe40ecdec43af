//! What the keeper knows about its release, rendered by the chart into the ConfigMap
//! `<fullname>-keeper` (`keeper.json`). Names only: no secret is ever in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the keeper config {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the keeper config {path} is not valid: {source}")]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// One key of one Secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeeperConfig {
    /// The release's namespace: krill pods and every Secret the keeper touches live here.
    pub namespace: String,
    /// The audience the krills' projected tokens carry; a token for any other audience (the API
    /// server's own included) is refused.
    pub audience: String,
    /// The krills' service account: a token of any other account is refused.
    pub krill_service_account: String,
    /// Labels every krill pod of this release carries (instance, chart name, component).
    pub pod_labels: BTreeMap<String, String>,
    /// Labels put on the Secrets the keeper creates.
    pub secret_labels: BTreeMap<String, String>,
    pub fleet: Fleet,
    /// Named krills by name.
    #[serde(default)]
    pub named: BTreeMap<String, Named>,
    /// What every krill presents to its model endpoint today (see [`crate::proxy_key`]).
    pub proxy_key: ProxyKey,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fleet {
    /// The anonymous fleet's StatefulSet; its pods are `<statefulSet>-<ordinal>`.
    pub stateful_set: String,
    /// A user's Secret with one key per pod name (`gatewayToken.existingSecret`); `None` means
    /// the keeper creates `<pod>-gateway-token` per pod.
    #[serde(default)]
    pub existing_secret: Option<String>,
    /// The Secret older charts rendered with every fleet token: a pod's key there is taken over
    /// into its own Secret, so an upgrade keeps each token.
    #[serde(default)]
    pub legacy_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Named {
    pub stateful_set: String,
    /// Where this krill's gateway token lives.
    pub token: SecretRef,
    /// The keeper creates `token` when it is missing (false: the user's `existingSecret`).
    pub generate: bool,
    /// This krill's own proxy key (`krills.<name>.proxyKey.existingSecret`), if any.
    #[serde(default)]
    pub proxy_key: Option<SecretRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyKey {
    pub secret: SecretRef,
    /// The keeper creates it (once, at start) when missing: the proxy's master key unless the
    /// user brings one.
    pub generate: bool,
}

/// The Secret and key of a fleet pod's own token, created by the keeper.
pub const TOKEN_KEY: &str = "gateway-token";

impl KeeperConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|source| ConfigError::Invalid {
            path: path.to_owned(),
            source,
        })
    }

    /// `system:serviceaccount:<namespace>:<krill service account>`, as a TokenReview names it.
    pub fn krill_username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.krill_service_account
        )
    }

    /// The Secret the keeper keeps a fleet pod's token in.
    pub fn fleet_token_secret(pod: &str) -> String {
        format!("{pod}-gateway-token")
    }
}

#[cfg(test)]
pub(crate) fn example() -> KeeperConfig {
    KeeperConfig::parse(
        Path::new("example.json"),
        r#"{
          "namespace": "ns",
          "audience": "krill-keeper",
          "krillServiceAccount": "krill",
          "podLabels": {"app.kubernetes.io/instance": "krill", "app.kubernetes.io/component": "krill"},
          "secretLabels": {"app.kubernetes.io/instance": "krill"},
          "fleet": {"statefulSet": "krill", "legacySecret": "krill-gateway-tokens"},
          "named": {
            "alice": {"statefulSet": "krill-alice", "token": {"name": "krill-alice-secrets", "key": "gateway-token"}, "generate": true}
          },
          "proxyKey": {"secret": {"name": "krill-master-key", "key": "master-key"}, "generate": true}
        }"#,
    )
    .expect("example config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_field_is_refused_naming_the_file() {
        let error = KeeperConfig::parse(Path::new("/etc/k.json"), r#"{"namespace": "a", "x": 1}"#)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("/etc/k.json"), "{error}");
        assert!(error.contains('x'), "{error}");
    }

    #[test]
    fn the_example_parses() {
        let config = example();
        assert_eq!(config.krill_username(), "system:serviceaccount:ns:krill");
        assert_eq!(config.fleet.existing_secret, None);
    }
}
