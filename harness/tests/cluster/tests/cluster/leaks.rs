//! No secret of the release shows up where people and tools look without asking for secrets: any
//! ConfigMap, any container's log, any Event of the namespace, or a krill's `.claw` snapshot (which
//! leaves the cluster: downloads, buckets, other clusters). Real nodes only: logs and snapshots
//! need containers that ran a turn.

use crate::in_pod::{EXEC, gateway_token, real_nodes, snapshot_now, turn, with_stand_in_model};
use crate::support;

use std::collections::BTreeMap;

use anyhow::ensure;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod, Secret};
use krill_cluster::TestRelease;
use kube::api::{ListParams, LogParams};
use rstest::rstest;
use support::{Fleet, ROLLOUT, release, wait_for_fleet};

/// Every secret value of the namespace worth looking for (long enough not to match by chance),
/// named by where it lives. Helm's own release records are not secrets of the krills: they hold
/// the values, compressed.
async fn secret_values(release: &TestRelease) -> anyhow::Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    for secret in release.api::<Secret>().list(&ListParams::default()).await? {
        if secret.type_.as_deref() == Some("helm.sh/release.v1") {
            continue;
        }
        let name = secret.metadata.name.clone().unwrap_or_default();
        for (key, bytes) in secret.data.unwrap_or_default() {
            let value = String::from_utf8_lossy(&bytes.0).trim().to_owned();
            if value.len() >= 12 {
                values.insert(format!("Secret {name} key {key}"), value);
            }
        }
    }
    Ok(values)
}

#[rstest]
#[tokio::test]
async fn no_secret_reaches_a_config_map_a_log_an_event_or_a_snapshot(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "secrets in logs and snapshots").await? {
        return Ok(());
    }
    let values = with_stand_in_model(&release)
        .await?
        .yaml("replicas: 2\nsnapshots:\n  firstAfter: 1h\n");
    release.install(&values).await?;
    wait_for_fleet(&release, &Fleet::new(2, &[])).await?;
    let ns = release.namespace().to_owned();
    krill_cluster::wait_for_deployment_ready(&release.client(), &ns, "krill-api-server", ROLLOUT)
        .await?;
    let token = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    turn(&release, "krill-0", &token, "conv:leaks", "Write a note.").await?;

    let secrets = secret_values(&release).await?;
    for expected in [
        "krill-0-gateway-token",
        "krill-1-gateway-token",
        "krill-master-key",
    ] {
        ensure!(
            secrets.keys().any(|k| k.contains(expected)),
            "the search would miss {expected}: {:?}",
            secrets.keys()
        );
    }
    ensure!(
        secrets.values().any(|v| v == "stand-in-upstream-key"),
        "the provider key is not among the secrets looked for"
    );

    // Where people and tools look: name -> text.
    let mut places: BTreeMap<String, String> = BTreeMap::new();
    for cm in release
        .api::<ConfigMap>()
        .list(&ListParams::default())
        .await?
    {
        let name = cm.metadata.name.clone().unwrap_or_default();
        places.insert(
            format!("ConfigMap {name}"),
            serde_json::to_string(&(cm.data, cm.binary_data))?,
        );
    }
    let events = release.api::<Event>().list(&ListParams::default()).await?;
    places.insert(
        "the namespace's Events".into(),
        events
            .items
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e.reason.as_deref().unwrap_or(""),
                    e.message.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let pods = release.api::<Pod>();
    for pod in pods.list(&ListParams::default()).await? {
        let name = pod.metadata.name.clone().unwrap_or_default();
        // The stand-in plays the provider: it is given the provider key by design.
        if name.starts_with(krill_cluster::STAND_IN_NAME) {
            continue;
        }
        for container in pod.spec.map(|s| s.containers).unwrap_or_default() {
            let params = LogParams {
                container: Some(container.name.clone()),
                ..LogParams::default()
            };
            let log = pods.logs(&name, &params).await.unwrap_or_default();
            places.insert(format!("log of {name}/{}", container.name), log);
        }
    }
    ensure!(
        places
            .keys()
            .filter(|k| k.starts_with("log of krill-0"))
            .count()
            == 2,
        "the logs of krill-0's two containers were not read: {:?}",
        places.keys()
    );

    // The snapshot, unpacked inside the sidecar, searched there.
    let archive = snapshot_now(&release, "krill-0").await?;
    let unpack = [
        "krill",
        "claw",
        "import",
        &archive,
        "/tmp/leaks",
        "--no-progress",
    ];
    release
        .exec("krill-0", Some("snapshot"), &unpack, EXEC)
        .await?
        .require_success("krill-0", &unpack)?;
    let count = release
        .exec(
            "krill-0",
            Some("snapshot"),
            &["sh", "-c", "find /tmp/leaks -type f | wc -l"],
            EXEC,
        )
        .await?
        .require_success("krill-0", &["find /tmp/leaks"])?;
    ensure!(
        count.stdout.trim().parse::<u32>().unwrap_or(0) > 3,
        "the unpacked snapshot holds almost nothing: {count:?}"
    );

    let mut found = Vec::new();
    for (secret, value) in &secrets {
        for (place, text) in &places {
            if text.contains(value.as_str()) {
                found.push(format!("{secret} in {place}"));
            }
        }
        let grep = ["grep", "-rlF", "--", value.as_str(), "/tmp/leaks"];
        let hit = release
            .exec("krill-0", Some("snapshot"), &grep, EXEC)
            .await?;
        if hit.success() {
            found.push(format!("{secret} in the snapshot: {}", hit.stdout.trim()));
        }
    }
    ensure!(
        found.is_empty(),
        "secrets where they must not be: {found:#?}"
    );
    Ok(())
}
