//! What the API server holds after install and upgrade: per-krill overrides in each krill's own
//! ConfigMap, no secret in any ConfigMap, and an upgrade that changes one krill rolls only it.

use crate::support;

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use krill_cluster::{Probe, TestRelease, Values, poll, statefulset_pod_uids};
use kube::api::ListParams;
use rstest::rstest;
use serde_json::{Value, json};
use support::{Fleet, KRILL_PODS, ROLLOUT, release, wait_for_fleet};

fn named_krills(alice_heartbeat: &str, provider_key: &str) -> Values {
    Values::new().yaml(format!(
        r##"
replicas: 1
apiServer:
  providerKeys:
    OPENAI_API_KEY: {provider_key}
krills:
  alice:
    agentsMd: "# Alice keeps the ledger"
    config:
      agents:
        defaults:
          heartbeat:
            every: {alice_heartbeat}
  bob:
    config:
      gateway:
        controlUi:
          enabled: false
  carol: {{}}
"##
    ))
}

async fn config_map(release: &TestRelease, name: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let cm = release
        .api::<ConfigMap>()
        .get(name)
        .await
        .with_context(|| format!("ConfigMap {name}"))?;
    Ok(cm.data.unwrap_or_default())
}

fn parse_json(text: &str, what: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{what} is not JSON: {text}"))
}

#[rstest]
#[tokio::test]
async fn krill_config_maps_carry_their_overrides_and_no_secret(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    let provider_key = format!("sk-test-{}", release.namespace());
    release.install(&named_krills("7m", &provider_key)).await?;
    wait_for_fleet(&release, &Fleet::new(1, &["alice", "bob", "carol"])).await?;

    let alice = config_map(&release, "krill-alice-config").await?;
    ensure!(
        parse_json(
            alice.get("alice.json").context("alice.json missing")?,
            "alice.json"
        )? == json!({"agents": {"defaults": {"heartbeat": {"every": "7m"}}}}),
        "alice's overrides: {alice:?}"
    );
    ensure!(
        alice.get("AGENTS.md").map(String::as_str) == Some("# Alice keeps the ledger"),
        "{alice:?}"
    );
    let bob = config_map(&release, "krill-bob-config").await?;
    ensure!(
        parse_json(bob.get("bob.json").context("bob.json missing")?, "bob.json")?
            == json!({"gateway": {"controlUi": {"enabled": false}}}),
        "bob's overrides: {bob:?}"
    );
    ensure!(
        !bob.contains_key("alice.json") && !bob.contains_key("AGENTS.md"),
        "bob holds another krill's data: {bob:?}"
    );
    let carol = config_map(&release, "krill-carol-config").await?;
    ensure!(
        parse_json(
            carol.get("carol.json").context("carol.json missing")?,
            "carol.json"
        )? == json!({}),
        "{carol:?}"
    );

    // Every secret value the release holds (generated tokens, the proxy key, the provider key we
    // passed) must appear in no ConfigMap.
    let secrets = release.api::<Secret>().list(&ListParams::default()).await?;
    let mut secret_values: Vec<(String, String)> = Vec::new();
    for secret in &secrets.items {
        for (key, value) in secret.data.iter().flatten() {
            let text = String::from_utf8_lossy(&value.0).into_owned();
            if text.len() >= 8 {
                secret_values.push((
                    format!("{}/{key}", secret.metadata.name.as_deref().unwrap_or("?")),
                    text,
                ));
            }
        }
    }
    ensure!(
        secret_values.iter().any(|(_, v)| *v == provider_key),
        "the provider key is in no Secret: {:?}",
        secret_values.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    // The krills' own tokens are made by the keeper once its pod runs, so they are searched for
    // on real nodes (leaks::no_secret_reaches_a_config_map_a_log_an_event_or_a_snapshot).
    // Nor in any pod template: secrets reach containers only as secretKeyRef.
    for sts in release
        .api::<StatefulSet>()
        .list(&ListParams::default())
        .await?
        .items
    {
        let name = sts.metadata.name.clone().unwrap_or_default();
        let template = serde_json::to_string(&sts.spec.as_ref().map(|s| &s.template))?;
        for (secret, value) in &secret_values {
            ensure!(
                !template.contains(value.as_str()),
                "StatefulSet {name}'s pod template contains the value of Secret {secret}"
            );
        }
    }
    // No krill pod mounts a Secret: its credentials come from the keeper (docs/security.md).
    let alice_sts = release.api::<StatefulSet>().get("krill-alice").await?;
    let alice_pod = alice_sts
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .context("alice's pod spec")?;
    let secret_volumes: Vec<_> = alice_pod
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.secret.is_some())
        .map(|v| v.name.clone())
        .collect();
    ensure!(
        secret_volumes.is_empty(),
        "alice mounts Secret volumes {secret_volumes:?}"
    );
    for sts in release
        .api::<StatefulSet>()
        .list(&ListParams::default())
        .await?
        .items
    {
        let template = serde_json::to_string(&sts.spec.as_ref().map(|s| &s.template))?;
        ensure!(
            !template.contains("OPENCLAW_GATEWAY_TOKEN"),
            "{:?} sets OPENCLAW_GATEWAY_TOKEN in env",
            sts.metadata.name
        );
    }

    let config_maps = release
        .api::<ConfigMap>()
        .list(&ListParams::default())
        .await?;
    ensure!(
        config_maps.items.len() >= 4,
        "expected the shared, per-krill and proxy ConfigMaps"
    );
    for cm in &config_maps.items {
        let name = cm.metadata.name.as_deref().unwrap_or("?");
        for (key, text) in cm.data.iter().flatten() {
            for (secret, value) in &secret_values {
                ensure!(
                    !text.contains(value.as_str()),
                    "ConfigMap {name}/{key} contains the value of Secret {secret}"
                );
            }
        }
    }
    Ok(())
}

fn revisions(sts: &StatefulSet) -> (Option<String>, Option<String>) {
    let status = sts.status.as_ref();
    (
        status.and_then(|s| s.current_revision.clone()),
        status.and_then(|s| s.update_revision.clone()),
    )
}

#[rstest]
#[tokio::test]
async fn upgrade_changing_one_krill_rolls_that_krill_only(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    let key = "sk-test-unchanged";
    let fleet = Fleet::new(1, &["alice", "bob", "carol"]);
    release.install(&named_krills("7m", key)).await?;
    wait_for_fleet(&release, &fleet).await?;
    let client = release.client();
    let before = statefulset_pod_uids(&client, release.namespace(), KRILL_PODS).await?;
    let sets = release.api::<StatefulSet>();
    let mut revisions_before = BTreeMap::new();
    for sts in ["krill", "krill-bob", "krill-carol"] {
        revisions_before.insert(sts, revisions(&sets.get(sts).await?));
    }

    release.upgrade(&named_krills("9m", key)).await?;
    let alice_before = before
        .get("krill-alice-0")
        .cloned()
        .context("no alice pod before upgrade")?;
    poll(
        "krill-alice-0 to be replaced by the upgrade",
        ROLLOUT,
        || async {
            let now =
                statefulset_pod_uids(&client, release.namespace(), "krill.dev/name=alice").await?;
            Ok(match now.get("krill-alice-0") {
                Some(uid) if *uid != alice_before => Probe::Ready(()),
                other => Probe::Pending(format!("uid {other:?}")),
            })
        },
    )
    .await?;
    wait_for_fleet(&release, &fleet).await?;

    let after = statefulset_pod_uids(&client, release.namespace(), KRILL_PODS).await?;
    for (pod, uid) in &before {
        if pod == "krill-alice-0" {
            continue;
        }
        ensure!(
            after.get(pod) == Some(uid),
            "{pod} was replaced by an upgrade that changed only alice"
        );
    }
    for (sts, was) in &revisions_before {
        let now = revisions(&sets.get(sts).await?);
        ensure!(
            &now == was,
            "StatefulSet {sts} got a new revision: {was:?} -> {now:?}"
        );
    }
    let alice = config_map(&release, "krill-alice-config").await?;
    ensure!(
        alice.get("alice.json").is_some_and(|j| j.contains("9m")),
        "alice's ConfigMap not updated: {alice:?}"
    );
    Ok(())
}
