//! Fleet gateway tokens on a real API server (the chart's `lookup` only reads something there):
//! one key per pod name in `krill-gateway-tokens`, generated once, unchanged by upgrades, kept
//! when the fleet scales down so a pod coming back with its retained volume gets its token back,
//! and scaling never changes the pod template (which would roll every krill).

use crate::support;

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use krill_cluster::{TestRelease, Values};
use rstest::rstest;
use support::release;

const TOKENS: &str = "krill-gateway-tokens";

async fn fleet_tokens(release: &TestRelease) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let secret = release
        .api::<Secret>()
        .get(TOKENS)
        .await
        .with_context(|| format!("Secret {TOKENS}"))?;
    Ok(secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

async fn pod_template(release: &TestRelease) -> anyhow::Result<String> {
    let sts = release
        .api::<StatefulSet>()
        .get("krill")
        .await
        .context("StatefulSet krill")?;
    Ok(serde_json::to_string(&sts.spec.map(|s| s.template))?)
}

fn replicas(n: u32) -> Values {
    Values::new().yaml(format!("replicas: {n}\n"))
}

fn keys(tokens: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    tokens.keys().map(String::as_str).collect()
}

#[rstest]
#[tokio::test]
async fn fleet_tokens_are_per_pod_and_survive_upgrades_and_scaling(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    release.install(&replicas(2)).await?;
    let first = fleet_tokens(&release).await?;
    ensure!(
        keys(&first) == ["krill-0", "krill-1"],
        "after install: {:?}",
        keys(&first)
    );
    ensure!(
        first["krill-0"] != first["krill-1"],
        "fleet pods share a token"
    );
    ensure!(
        first.values().all(|t| t.len() >= 32),
        "a token is too short"
    );
    let template = pod_template(&release).await?;

    release.upgrade(&replicas(2)).await?;
    ensure!(
        fleet_tokens(&release).await? == first,
        "an upgrade changed the fleet's tokens"
    );

    release.upgrade(&replicas(3)).await?;
    let grown = fleet_tokens(&release).await?;
    ensure!(
        keys(&grown) == ["krill-0", "krill-1", "krill-2"],
        "after scaling to 3: {:?}",
        keys(&grown)
    );
    ensure!(
        grown["krill-0"] == first["krill-0"] && grown["krill-1"] == first["krill-1"],
        "scaling up replaced a token"
    );
    ensure!(
        grown["krill-2"] != grown["krill-0"] && grown["krill-2"] != grown["krill-1"],
        "the new pod reuses a token"
    );
    ensure!(
        pod_template(&release).await? == template,
        "scaling changed the pod template (every krill would roll)"
    );

    release.upgrade(&replicas(1)).await?;
    ensure!(
        fleet_tokens(&release).await? == grown,
        "scaling down dropped or changed a token"
    );
    release.upgrade(&replicas(3)).await?;
    ensure!(
        fleet_tokens(&release).await? == grown,
        "scaling back up did not bring the same tokens back"
    );
    Ok(())
}
