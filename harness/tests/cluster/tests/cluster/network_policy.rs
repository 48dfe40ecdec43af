//! The chart's NetworkPolicies as a running krill meets them: from inside `krill-0`, the model
//! proxy answers, while a sibling krill's gateway and any other pod (the stand-in) do not. Only a
//! CNI that enforces NetworkPolicy can show this: where both forbidden calls get through, nothing
//! enforces policies on this cluster, and the test says NOT RUN ("NOT ENFORCED") rather than
//! passing. One forbidden call through and the other blocked is a policy that is wrong: a failure.

use crate::in_pod::{GATEWAY_PORT, real_nodes, try_fetch_in_pod};
use crate::support;

use anyhow::ensure;
use krill_cluster::{STAND_IN_NAME, STAND_IN_PORT, TestRelease, Values};
use rstest::rstest;
use support::{Fleet, ROLLOUT, release, wait_for_fleet};

#[rstest]
#[tokio::test]
async fn a_krill_reaches_the_proxy_and_neither_its_siblings_nor_other_pods(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "NetworkPolicy between running pods").await? {
        return Ok(());
    }
    let client = release.client();
    let ns = release.namespace().to_owned();
    krill_cluster::deploy_stand_in(&client, &ns, &krill_cluster::stand_in_image(), ROLLOUT).await?;
    release
        .install(&Values::new().yaml("replicas: 2\n"))
        .await?;
    wait_for_fleet(&release, &Fleet::new(2, &[])).await?;
    krill_cluster::wait_for_deployment_ready(&client, &ns, "krill-api-server", ROLLOUT).await?;

    // Allowed: the proxy's port answers (any HTTP status: this is about the network).
    let proxy = "http://krill-api-server:4000/health/liveliness";
    if let Err(error) = try_fetch_in_pod(&release, "krill-0", proxy, None).await? {
        anyhow::bail!("krill-0 cannot reach the model proxy ({proxy}): {error}");
    }
    // Forbidden: a sibling's gateway, and a pod that no rule names.
    let sibling = format!("http://krill-1.krill.{ns}.svc.cluster.local:{GATEWAY_PORT}/healthz");
    let elsewhere = format!("http://{STAND_IN_NAME}:{STAND_IN_PORT}/health");
    let to_sibling = try_fetch_in_pod(&release, "krill-0", &sibling, None).await?;
    let to_elsewhere = try_fetch_in_pod(&release, "krill-0", &elsewhere, None).await?;
    match (&to_sibling, &to_elsewhere) {
        (Ok(_), Ok(_)) => {
            krill_test_support::not_run(format!(
                "NOT ENFORCED: from krill-0 both {sibling} and {elsewhere} answered, so this \
                 cluster's CNI does not enforce NetworkPolicy (docs/security.md names enforcers)"
            ));
            Ok(())
        }
        _ => {
            ensure!(
                to_sibling.is_err(),
                "krill-0 reached its sibling's gateway {sibling}: {to_sibling:?}"
            );
            ensure!(
                to_elsewhere.is_err(),
                "krill-0 reached {elsewhere}, which no egress rule allows: {to_elsewhere:?}"
            );
            Ok(())
        }
    }
}
