//! Every way a command can fail, each message naming the krill (or the release) and the fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "cannot use the cluster ({what}): {}\n  fix: check the kubeconfig and context (`kubectl cluster-info`{context_hint})",
        kube_message(.error)
    )]
    Cluster {
        what: String,
        context_hint: String,
        error: kube::Error,
    },

    #[error("cannot read the kubeconfig {path}: {}", causes(.error))]
    Kubeconfig {
        path: PathBuf,
        error: kube::config::KubeconfigError,
    },

    #[error(
        "release {release} has no krills in namespace {namespace}\n  fix: install it, or name the release and namespace with --release / -n"
    )]
    NoRelease { release: String, namespace: String },

    #[error(
        "no krill {name} in release {release} (namespace {namespace}); there are: {known}\n  fix: use one of those names (`kubectl krill status` lists them)"
    )]
    UnknownKrill {
        name: String,
        release: String,
        namespace: String,
        known: String,
    },

    #[error("krill {name} is paused (no pod)\n  fix: `kubectl krill resume {name}` first")]
    Paused { name: String },

    #[error(
        "krill {name} has no pod yet (StatefulSet {statefulset})\n  fix: wait for it (`kubectl krill status -w`) or look at `kubectl -n {namespace} describe statefulset {statefulset}`"
    )]
    NoPod {
        name: String,
        statefulset: String,
        namespace: String,
    },

    #[error(
        "krill {name} is a pod of the fleet: fleet pods cannot be paused or resumed one by one\n  fix: `kubectl krill scale N` sizes the fleet; a krill that needs its own life cycle is a named krill (`krills.<name>` in the values)"
    )]
    FleetPause { name: String },

    #[error("{what} in krill {name} (pod {pod}): {detail}")]
    Exec {
        name: String,
        pod: String,
        what: String,
        detail: String,
    },

    #[error("cannot read krill {name}'s gateway token: {detail}\n  fix: {fix}")]
    Token {
        name: String,
        detail: String,
        fix: String,
    },

    #[error("helm: {detail}\n  fix: {fix}")]
    Helm { detail: String, fix: String },

    #[error("krill {name}: {detail}")]
    Gateway { name: String, detail: String },

    #[error(
        "krill {name} has no snapshot {snapshot}; there are: {known}\n  fix: `kubectl krill snapshots {name}` lists them"
    )]
    UnknownSnapshot {
        name: String,
        snapshot: String,
        known: String,
    },

    #[error(
        "krill {name} has no snapshot sidecar: snapshots are off in its release\n  fix: set `snapshots.enabled=true` in the release's values"
    )]
    SnapshotsOff { name: String },

    #[error(
        "krill {name} has no snapshot yet\n  fix: `kubectl krill snapshot {name}` takes one now"
    )]
    NoSnapshot { name: String },

    #[error(
        "{path} is not an archive krill {name} can be restored from: {detail}\n  fix: nothing was changed; fetch a good snapshot (`kubectl krill snapshots {name}`)"
    )]
    CorruptArchive {
        name: String,
        path: PathBuf,
        detail: String,
    },

    #[error("restore of krill {name}: {detail}")]
    Restore { name: String, detail: String },

    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| CliError::Io { what, path, source }
    }
}

/// What the API server (or kubelet) said, without the client's debug dump around it.
pub fn kube_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", unwrapped(&status.message), status.reason),
        other => causes(other),
    }
}

/// A kubelet's message without the `Internal error occurred: ` the API server puts in front of
/// it once per hop.
pub fn unwrapped(mut message: &str) -> &str {
    while let Some(rest) = message.strip_prefix("Internal error occurred: ") {
        message = rest;
    }
    message
}

/// An error and its root cause in one line (`client error (Connect): Connection refused`):
/// the layers between repeat each other.
pub fn causes(error: &dyn std::error::Error) -> String {
    let top = error.to_string();
    let mut root = error.source();
    while let Some(next) = root.and_then(|e| e.source()) {
        root = Some(next);
    }
    match root.map(|e| e.to_string()) {
        Some(root) if !top.contains(&root) => format!("{top}: {root}"),
        _ => top,
    }
}
