//! What krill and keeper say to each other over HTTP; shared by [`crate::server`] and
//! [`crate::client`] so the two cannot drift apart.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `POST` with `Authorization: Bearer <the pod's projected token>` and a [`CredentialsRequest`].
pub const CREDENTIALS_PATH: &str = "/v1/credentials";
/// 200 while the process serves.
pub const HEALTH_PATH: &str = "/healthz";
/// 200 once the keys the keeper bootstraps exist (the proxy's master key).
pub const READY_PATH: &str = "/readyz";
/// The port the chart's Service and the keeper's default listen address use.
pub const PORT: u16 = 8080;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialsRequest {
    /// The krill the caller believes it is (`KRILL_NAME`). The keeper derives the name from the
    /// pod the token belongs to and refuses when this differs: a pod never gets another's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The krill these belong to, as the keeper derived it from the pod.
    pub name: String,
    /// The gateway's bearer token (`OPENCLAW_GATEWAY_TOKEN`).
    pub gateway_token: String,
    /// The key the krill presents to its model endpoint (`OPENCLAW_API_KEY`).
    pub proxy_key: String,
}

/// Never shows a value, so credentials cannot reach a log through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials(for {}, values hidden)", self.name)
    }
}

/// The body of every non-200 answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refusal {
    pub error: String,
}
