//! The key a krill presents to its model endpoint: one function, so per-krill LiteLLM virtual
//! keys (minted through the proxy's admin API, stored in its database) replace its body without
//! touching identity, transport or the helper.
//!
//! Today every krill without a key of its own gets the release's shared key: the proxy's master
//! key, or `apiKey` for an endpoint outside the cluster. The keeper hands it out per request, so
//! no krill pod mounts or references it.

use crate::config::KeeperConfig;
use crate::identity::Krill;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ProxyKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Secret {secret} has no key {key} (the proxy key of {krill})")]
    Missing {
        secret: String,
        key: String,
        krill: String,
    },
}

/// The key `krill` presents to the model endpoint.
pub async fn proxy_key_for(
    config: &KeeperConfig,
    store: &Store,
    krill: &Krill,
) -> Result<String, ProxyKeyError> {
    let own = match krill {
        Krill::Named { name } => config.named.get(name).and_then(|n| n.proxy_key.as_ref()),
        Krill::Fleet { .. } => None,
    };
    let at = own.unwrap_or(&config.proxy_key.secret);
    store.read(at).await?.ok_or_else(|| ProxyKeyError::Missing {
        secret: at.name.clone(),
        key: at.key.clone(),
        krill: krill.name().to_owned(),
    })
}
