//! A krill's gateway token, read where the keeper keeps it. Which Secret and key that is comes
//! from the keeper's own config (the ConfigMap the chart renders for it, `keeper.json`) and the
//! keeper crate's naming, so a user's `existingSecret` is followed and no name is spelled twice.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use krill_keeper::config::{KeeperConfig, SecretRef, TOKEN_KEY};
use kube::Api;
use kube::api::ListParams;

use crate::error::CliError;
use crate::krills::{COMPONENT_LABEL, INSTANCE_LABEL, Kind, Krill};
use crate::target::Target;

const CONFIG_KEY: &str = "keeper.json";

/// The Secret and key holding `krill`'s token, by the keeper's rules.
pub async fn location(target: &Target, krill: &Krill) -> Result<SecretRef, CliError> {
    let config = keeper_config(target, krill).await?;
    Ok(match krill.kind {
        Kind::Named => config
            .named
            .get(&krill.name)
            .map(|named| named.token.clone())
            .ok_or_else(|| CliError::Token {
                name: krill.name.clone(),
                detail: "the keeper's config does not list it".into(),
                fix: "upgrade the release so its keeper knows this krill".into(),
            })?,
        Kind::Fleet => match config.fleet.existing_secret {
            Some(name) => SecretRef {
                name,
                key: krill.pod_name.clone(),
            },
            None => SecretRef {
                name: KeeperConfig::fleet_token_secret(&krill.pod_name),
                key: TOKEN_KEY.to_owned(),
            },
        },
    })
}

/// The token itself.
pub async fn read(target: &Target, krill: &Krill) -> Result<String, CliError> {
    let at = location(target, krill).await?;
    let failed = |detail: String| CliError::Token {
        name: krill.name.clone(),
        detail,
        fix: format!(
            "the keeper creates it on the krill's first start: check the krill is running \
             (`kubectl krill status`) and the keeper's logs (`kubectl -n {} logs -l \
             app.kubernetes.io/instance={},app.kubernetes.io/component=keeper`)",
            target.namespace(),
            target.release()
        ),
    };
    let secret = Api::<Secret>::namespaced(target.client.clone(), target.namespace())
        .get_opt(&at.name)
        .await
        .map_err(target.api_error(format!("reading Secret {}", at.name)))?
        .ok_or_else(|| failed(format!("Secret {} does not exist", at.name)))?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&at.key))
        .ok_or_else(|| failed(format!("Secret {} has no key {}", at.name, at.key)))?;
    String::from_utf8(bytes.0.clone())
        .map_err(|_| failed(format!("Secret {} key {} is not text", at.name, at.key)))
}

async fn keeper_config(target: &Target, krill: &Krill) -> Result<KeeperConfig, CliError> {
    let selector = format!(
        "{INSTANCE_LABEL}={},{COMPONENT_LABEL}=keeper",
        target.release()
    );
    let maps = Api::<ConfigMap>::namespaced(target.client.clone(), target.namespace())
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(target.api_error("listing the keeper's ConfigMap"))?;
    let (name, text) = maps
        .items
        .iter()
        .find_map(|map| {
            let text = map.data.as_ref()?.get(CONFIG_KEY)?;
            Some((map.metadata.name.clone().unwrap_or_default(), text.clone()))
        })
        .ok_or_else(|| CliError::Token {
            name: krill.name.clone(),
            detail: format!(
                "release {} has no keeper ConfigMap (labels {selector}, key {CONFIG_KEY})",
                target.release()
            ),
            fix: "install a chart version with the keeper (docs/security.md)".into(),
        })?;
    KeeperConfig::parse(std::path::Path::new(&name), &text).map_err(|e| CliError::Token {
        name: krill.name.clone(),
        detail: e.to_string(),
        fix: "use a kubectl-krill built from the same krill version as the chart".into(),
    })
}
