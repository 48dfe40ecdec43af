use std::path::PathBuf;

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
}

impl Cluster {
    /// Connects to the cluster `KRILL_CLUSTER` names.
    pub async fn from_env() -> Result<Self, ClusterError> {
        Self::connect(Provider::from_env()?).await
    }

    pub async fn connect(provider: Provider) -> Result<Self, ClusterError> {
        let tools = Tools::from_env()?;
        let (kubeconfig, config) = match provider {
            Provider::Local => {
                let path = std::env::var_os("KRILL_KUBECONFIG").map(PathBuf::from).ok_or(
                    ClusterError::MissingEnv {
                        var: "KRILL_KUBECONFIG",
                        hint: "start the local cluster with `eval \"$(scripts/cluster/local.sh up)\"` \
                               (or run scripts/test/cluster.sh, which does it for you)",
                    },
                )?;
                let file =
                    Kubeconfig::read_from(&path).map_err(|source| ClusterError::Kubeconfig {
                        path: path.clone(),
                        source,
                    })?;
                let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                    .await
                    .map_err(|source| ClusterError::Kubeconfig {
                        path: path.clone(),
                        source,
                    })?;
                (Some(path), config)
            }
            Provider::Existing => (None, Config::infer().await?),
            Provider::Kind => {
                return Err(ClusterError::ProviderUnavailable {
                    provider: "kind",
                    reason:
                        "kind needs a node image, and no container registry is reachable to pull \
                             or build one; real nodes come with a later issue. Use \
                             KRILL_CLUSTER=local (simulated nodes) or KRILL_CLUSTER=existing"
                            .into(),
                });
            }
        };
        let client = Client::try_from(config.clone())
            .map_err(ClusterError::api("building a client from the kubeconfig"))?;
        Ok(Self {
            provider,
            kubeconfig,
            config,
            client,
            tools,
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
