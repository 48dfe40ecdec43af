use std::fmt;
use std::str::FromStr;

use crate::ClusterError;

/// Where the tests' cluster comes from (`KRILL_CLUSTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Real control plane built from source, kwok-simulated nodes, CoreDNS on the host; brought up
    /// by `scripts/cluster/local.sh up`, reached through `KRILL_KUBECONFIG`.
    Local,
    /// Whatever `KUBECONFIG` (or `~/.kube/config`) points at, current context.
    Existing,
    /// Real nodes: a kind cluster brought up by `scripts/cluster/kind.sh up` (the pinned stock kind
    /// CLI), reached through `KRILL_KUBECONFIG`, its DNS exposed on the node (`KRILL_DNS_SERVER`).
    Kind,
}

impl Provider {
    pub const ENV: &'static str = "KRILL_CLUSTER";

    /// The provider named by `KRILL_CLUSTER`; `local` when unset, since that is the only one
    /// that works on a machine without a container registry.
    pub fn from_env() -> Result<Self, ClusterError> {
        match std::env::var(Self::ENV) {
            Ok(value) if !value.trim().is_empty() => value.parse(),
            _ => Ok(Self::Local),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Existing => "existing",
            Self::Kind => "kind",
        }
    }
}

impl FromStr for Provider {
    type Err = ClusterError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "existing" => Ok(Self::Existing),
            "kind" => Ok(Self::Kind),
            _ => Err(ClusterError::UnknownProvider {
                value: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("local", Provider::Local)]
    #[case("existing", Provider::Existing)]
    #[case(" Kind ", Provider::Kind)]
    fn parses_known_providers(#[case] input: &str, #[case] expected: Provider) {
        assert_eq!(input.parse::<Provider>().ok(), Some(expected));
    }

    #[test]
    fn unknown_provider_error_names_the_value_and_the_choices() {
        let err = "minikube"
            .parse::<Provider>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("\"minikube\""), "{err}");
        assert!(err.contains("local, existing, kind"), "{err}");
    }
}
