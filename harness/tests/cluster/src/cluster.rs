use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::{ClusterDns, ClusterError, Helm, Provider, Tools};

/// kwok marks every node it simulates with this annotation.
const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// Whether pods scheduled on this cluster actually run their containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodRuntime {
    /// Nodes run containers: `helm test` and anything that execs into a pod can run.
    Real,
    /// Nodes are simulated: pods are marked Running/Ready with an IP, but no process ever starts.
    Simulated { reason: String },
}

/// A Kubernetes cluster the tests talk to: a client for its API server, the pinned helm pointed
/// at it, and its DNS.
pub struct Cluster {
    provider: Provider,
    kubeconfig: Option<PathBuf>,
    config: Config,
    client: Client,
    tools: Tools,
    base_values: Option<PathBuf>,
}

impl Cluster {
    /// Connects to the cluster `KRILL_CLUSTER` names.
    pub async fn from_env() -> Result<Self, ClusterError> {
        Self::connect(Provider::from_env()?).await
    }

    pub async fn connect(provider: Provider) -> Result<Self, ClusterError> {
        let tools = Tools::from_env()?;
        let base_values = base_values_from_env()?;
        let (kubeconfig, config) = match provider {
            // kind writes a kubeconfig of its own; kind.sh keeps it beside the cluster's state
            // instead of merging it into ~/.kube/config, so the tests never touch a user's contexts.
            Provider::Local | Provider::Kind => {
                let path = kubeconfig_from_env(provider)?;
                (Some(path.clone()), read_kubeconfig(path).await?)
            }
            Provider::Existing => (None, Config::infer().await?),
        };
        let client = Client::try_from(config.clone())
            .map_err(ClusterError::api("building a client from the kubeconfig"))?;
        Ok(Self {
            provider,
            kubeconfig,
            config,
            client,
            tools,
            base_values,
        })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The client configuration, for code that needs its own client (a drop guard running on
    /// another thread and runtime).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The values file every test release on this cluster is installed with before its own
    /// values (`KRILL_TEST_VALUES`): what the cluster needs rather than what a test checks, such
    /// as images loaded into kind's node instead of pulled, or requests sized for a small node.
    pub fn base_values(&self) -> Option<&Path> {
        self.base_values.as_deref()
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    pub fn helm(&self) -> Result<Helm, ClusterError> {
        Ok(Helm::new(self.tools.find("helm")?, self.kubeconfig.clone()))
    }

    /// The DNS server that answers for this cluster's `cluster.local` (`KRILL_DNS_SERVER`).
    pub fn dns(&self) -> Result<ClusterDns, ClusterError> {
        ClusterDns::from_env()
    }

    /// Finds out from the nodes themselves whether pods run for real, so a test behaves the same
    /// under `existing` pointed at the local cluster as under `local`.
    pub async fn pod_runtime(&self) -> Result<PodRuntime, ClusterError> {
        let nodes = Api::<Node>::all(self.client())
            .list(&ListParams::default())
            .await
            .map_err(ClusterError::api("listing nodes"))?;
        let total = nodes.items.len();
        let simulated = nodes
            .items
            .iter()
            .filter(|node| {
                node.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(KWOK_NODE_ANNOTATION))
            })
            .count();
        Ok(match (total, simulated) {
            (0, _) => PodRuntime::Simulated {
                reason: "the cluster has no nodes".into(),
            },
            (_, 0) => PodRuntime::Real,
            _ => PodRuntime::Simulated {
                reason: format!(
                    "{simulated} of {total} nodes are simulated by kwok (annotation \
                     {KWOK_NODE_ANNOTATION}): their pods are marked Running/Ready but no container \
                     ever starts"
                ),
            },
        })
    }
}

/// `KRILL_KUBECONFIG`, as `scripts/cluster/<provider>.sh env` prints it.
fn kubeconfig_from_env(provider: Provider) -> Result<PathBuf, ClusterError> {
    let hint = match provider {
        Provider::Kind => {
            "start the kind cluster with `eval \"$(scripts/cluster/kind.sh up)\"` (or run \
             scripts/test/kind.sh, which does it for you)"
        }
        _ => {
            "start the local cluster with `eval \"$(scripts/cluster/local.sh up)\"` (or run \
             scripts/test/cluster.sh, which does it for you)"
        }
    };
    std::env::var_os("KRILL_KUBECONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or(ClusterError::MissingEnv {
            var: "KRILL_KUBECONFIG",
            hint,
        })
}

const TEST_VALUES_ENV: &str = "KRILL_TEST_VALUES";

/// `KRILL_TEST_VALUES`, when set: a values file that must exist (a typo would otherwise install
/// the chart's defaults and fail much later, pulling an image nobody loaded).
fn base_values_from_env() -> Result<Option<PathBuf>, ClusterError> {
    let Some(value) = std::env::var_os(TEST_VALUES_ENV).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(&value);
    if path.is_file() {
        Ok(Some(path))
    } else {
        Err(ClusterError::InvalidEnv {
            var: TEST_VALUES_ENV,
            value: path.display().to_string(),
            reason: "no such file (a values file given to every test release)".into(),
        })
    }
}

async fn read_kubeconfig(path: PathBuf) -> Result<Config, ClusterError> {
    let file = Kubeconfig::read_from(&path).map_err(|source| ClusterError::Kubeconfig {
        path: path.clone(),
        source,
    })?;
    Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(|source| ClusterError::Kubeconfig { path, source })
}
