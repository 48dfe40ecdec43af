use std::path::PathBuf;

use krill_test_support::HelmError;
use std::time::Duration;

/// Everything that can go wrong while reaching or driving a test cluster. Each variant names the
/// thing that was missing or wrong, so a failing test says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("KRILL_CLUSTER={value:?} is not a provider; use one of: local, existing, kind")]
    UnknownProvider { value: String },

    #[error("{var} is not set: {hint}")]
    MissingEnv {
        var: &'static str,
        hint: &'static str,
    },

    #[error("{var}={value:?} is not valid: {reason}")]
    InvalidEnv {
        var: &'static str,
        value: String,
        reason: String,
    },

    #[error("`{tool}` was not found in KRILL_TOOLS_PATH ({searched}); {hint}")]
    MissingTool {
        tool: String,
        searched: String,
        hint: &'static str,
    },

    #[error("the chart directory {path} does not exist (set KRILL_CHART to override)")]
    MissingChart { path: PathBuf },

    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error(
        "cannot infer a kubeconfig for the existing cluster (KUBECONFIG or ~/.kube/config): {0}"
    )]
    InferConfig(#[from] kube::config::InferConfigError),

    #[error("kubernetes API call failed while {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },

    #[error("DNS lookup of {name} via {server} failed: {reason}")]
    Dns {
        name: String,
        server: String,
        reason: String,
    },

    #[error("{what} not found: {detail}")]
    NotFound { what: String, detail: String },

    #[error("unexpected answer while {action}: {detail}")]
    BadAnswer { action: String, detail: String },

    #[error("timed out after {waited:?} waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },

    #[error(transparent)]
    Helm(#[from] HelmError),

    #[error("{error}\nlogs of the test pods:\n{logs}")]
    HelmTest { error: HelmError, logs: String },

    #[error(transparent)]
    Exec(#[from] crate::ExecError),

    #[error("the manifest {path} does not parse: {source}")]
    Manifest {
        path: &'static str,
        #[source]
        source: serde_yaml::Error,
    },

    #[error("I/O error while {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<kube::Error> for ClusterError {
    fn from(source: kube::Error) -> Self {
        Self::Api {
            action: "calling the API server".into(),
            source,
        }
    }
}

impl ClusterError {
    pub(crate) fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Api { action, source }
    }

    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }
}
