//! One cluster abstraction for krill's integration tests.
//!
//! A test asks for a [`Cluster`] (chosen by `KRILL_CLUSTER`), gets its own namespace and Helm
//! release through [`TestRelease`], and checks the API server's objects and the cluster's DNS.
//! The test body is the same whichever [`Provider`] runs it; what a provider cannot do (run real
//! containers on simulated nodes, for instance) is reported by [`Cluster::pod_runtime`], never
//! papered over.

mod cluster;
mod dns;
mod error;
mod exec;
mod k8s;
mod provider;
mod release;
mod stand_in;
mod tools;
mod wait;

pub use cluster::{Cluster, PodRuntime};
pub use dns::ClusterDns;
pub use error::ClusterError;
pub use exec::{ExecError, ExecOutput, exec_in_pod};
// One helm wrapper for every test crate: krill-test-support's.
pub use k8s::{
    claim_uid_of_pod_volume, endpoint_addresses, pods_matching, statefulset_pod_uids,
    wait_for_claims_bound, wait_for_deployment_ready, wait_for_statefulset_ready,
};
pub use krill_test_support::{Helm, HelmError, HelmOutput, ValueSource, Values};
pub use provider::Provider;
pub use release::{TestRelease, namespace_for_test};
pub use stand_in::{
    STAND_IN_NAME, STAND_IN_PORT, deploy_stand_in, stand_in_api_base, stand_in_chats,
    stand_in_image, stand_in_model_values,
};
pub use tools::{Tools, chart_dir};
pub use wait::{Probe, poll};
