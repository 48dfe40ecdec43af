//! Which cluster, namespace and release the commands act on, and the client for it.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::CliError;

/// What the global flags say: release, namespace, kubeconfig and context.
#[derive(Debug, Clone)]
pub struct Selector {
    pub release: String,
    pub namespace: String,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A connected release: every command starts from one.
#[derive(Clone)]
pub struct Target {
    pub selector: Selector,
    pub client: Client,
}

impl Target {
    pub async fn connect(selector: Selector) -> Result<Self, CliError> {
        let options = KubeConfigOptions {
            context: selector.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match &selector.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|error| CliError::Kubeconfig {
                    path: path.clone(),
                    error,
                })?;
                Config::from_custom_kubeconfig(file, &options).await
            }
            None => Config::from_kubeconfig(&options).await,
        }
        .map_err(|error| CliError::Kubeconfig {
            path: selector
                .kubeconfig
                .clone()
                .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("~/.kube/config")),
            error,
        })?;
        let client = Client::try_from(config).map_err(|error| CliError::Cluster {
            what: "building a client".into(),
            context_hint: String::new(),
            error,
        })?;
        Ok(Target { selector, client })
    }

    pub fn namespace(&self) -> &str {
        &self.selector.namespace
    }

    pub fn release(&self) -> &str {
        &self.selector.release
    }

    /// A closure turning a failed API call into an error that says what was being done.
    pub fn api_error(&self, what: impl Into<String>) -> impl FnOnce(kube::Error) -> CliError {
        let what = what.into();
        let context_hint = match &self.selector.context {
            Some(context) => format!(" --context {context}"),
            None => String::new(),
        };
        move |error| CliError::Cluster {
            what,
            context_hint,
            error,
        }
    }
}
