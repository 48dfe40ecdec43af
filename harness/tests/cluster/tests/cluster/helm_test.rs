//! The chart's own `helm test`. It needs pods whose containers run; on simulated nodes nothing
//! runs, so there the test checks that the provider says so and reports `helm test` as not run
//! (krill_test_support::not_run) instead of pretending it passed.

use crate::support;

use anyhow::ensure;
use k8s_openapi::api::core::v1::Node;
use krill_cluster::{PodRuntime, TestRelease, Values};
use kube::Api;
use kube::api::ListParams;
use rstest::rstest;
use support::{Fleet, release, wait_for_fleet};

#[rstest]
#[tokio::test]
async fn chart_helm_test_passes_where_pods_run_else_runtime_is_reported_simulated(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    release.install(&Values::new().set("replicas", "1")).await?;
    wait_for_fleet(&release, &Fleet::new(1, &[])).await?;
    match release.cluster().pod_runtime().await? {
        PodRuntime::Real => {
            let out = release.helm_test().await?;
            ensure!(
                out.stdout.contains("Succeeded"),
                "helm test did not report success:\n{}",
                out.stdout
            );
        }
        PodRuntime::Simulated { reason } => {
            // The claim must hold: every node really is a kwok node, so no container can start.
            let nodes = Api::<Node>::all(release.client())
                .list(&ListParams::default())
                .await?;
            ensure!(!nodes.items.is_empty(), "no nodes");
            for node in &nodes.items {
                let kwok = node
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("kwok.x-k8s.io/node"));
                ensure!(
                    kwok,
                    "node {:?} is not simulated, yet the runtime was reported simulated",
                    node.metadata.name
                );
            }
            krill_test_support::not_run(format!(
                "`helm test` (the chart's in-cluster test) was not run: {reason}"
            ));
        }
    }
    Ok(())
}
