//! A krill's data and conversation outlive its pod, on real nodes: a deleted pod comes back on the
//! same claim with its files and its session; `helm uninstall` then `install` brings back volume,
//! token and conversation; a krill started from another's sidecar snapshot (`initClaw`) continues
//! that conversation; a SIGKILLed gateway restarts with its SQLite intact; a deleted pod's
//! containers exit 0 within the grace period. A conversation is "held" when the stand-in model is
//! sent an earlier turn's words again: OpenClaw sends the model the whole session.

use crate::in_pod::{
    EXEC, GATEWAY_PORT, fetch_in_pod, gateway_token, last_model_request_holds,
    no_container_restarted, real_nodes, snapshot_now, state_databases_pass_integrity_check, turn,
    with_stand_in_model,
};
use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use krill_cluster::TestRelease;
use rstest::rstest;
use support::{Fleet, pod_uid, release, wait_for_fleet, wait_for_pod_uid_change};

/// The conversation every test here holds: one `user` is one session.
const SESSION: &str = "conv:survival";

/// The UID of krill-0's volume claim: the same UID is the same volume.
async fn claim_uid(release: &TestRelease) -> anyhow::Result<String> {
    release
        .api::<PersistentVolumeClaim>()
        .get("data-krill-0")
        .await?
        .metadata
        .uid
        .context("claim without uid")
}

/// Starts the conversation in `pod`: a turn whose words are unique to this test.
async fn first_turn(release: &TestRelease, pod: &str, token: &str) -> anyhow::Result<String> {
    let marker = format!("the courier's name is {}", release.namespace());
    turn(
        release,
        pod,
        token,
        SESSION,
        &format!("Remember: {marker}."),
    )
    .await?;
    Ok(marker)
}

/// A later turn in the same session reaches the model with the first turn's words.
async fn conversation_held(
    release: &TestRelease,
    pod: &str,
    token: &str,
    marker: &str,
    when: &str,
) -> anyhow::Result<()> {
    turn(release, pod, token, SESSION, "What is the courier's name?").await?;
    ensure!(
        last_model_request_holds(release, marker).await?,
        "{when}: {pod}'s next turn in {SESSION} did not carry the earlier turn ({marker:?}): the \
         conversation was lost"
    );
    Ok(())
}

/// A krill answers with `token` and still holds the file written in its first life.
async fn same_krill(release: &TestRelease, token: &str) -> anyhow::Result<()> {
    let file = release
        .exec(
            "krill-0",
            Some("krill"),
            &["cat", "/krill/data/workspace/survives.txt"],
            EXEC,
        )
        .await?
        .require_success("krill-0", &["cat", "survives.txt"])?;
    ensure!(file.stdout == "first life\n", "file: {:?}", file.stdout);
    let url = format!("http://127.0.0.1:{GATEWAY_PORT}/v1/models");
    let (status, body) = fetch_in_pod(release, "krill-0", &url, Some(token)).await?;
    ensure!(status == 200, "the kept token is refused: {status} {body}");
    Ok(())
}

#[rstest]
#[tokio::test]
async fn a_krill_keeps_its_volume_token_and_conversation_across_a_deleted_pod_and_a_reinstall(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "data surviving pod deletion and reinstall").await? {
        return Ok(());
    }
    let fleet = Fleet::new(1, &[]);
    let values = with_stand_in_model(&release)
        .await?
        .yaml("replicas: 1\nsnapshots:\n  enabled: false\n");
    release.install(&values).await?;
    wait_for_fleet(&release, &fleet).await?;
    let claim = claim_uid(&release).await?;
    let token = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    release
        .exec(
            "krill-0",
            Some("krill"),
            &[
                "sh",
                "-c",
                "echo 'first life' > /krill/data/workspace/survives.txt",
            ],
            EXEC,
        )
        .await?
        .require_success("krill-0", &["write survives.txt"])?;
    let marker = first_turn(&release, "krill-0", &token).await?;

    // A deleted pod comes back on the same claim.
    let first_pod = pod_uid(&release, "krill-0").await?;
    release
        .api::<Pod>()
        .delete("krill-0", &Default::default())
        .await?;
    wait_for_pod_uid_change(&release, "krill-0", first_pod.as_deref(), false).await?;
    wait_for_fleet(&release, &fleet).await?;
    ensure!(
        claim_uid(&release).await? == claim,
        "a new claim after a pod deletion"
    );
    same_krill(&release, &token).await?;
    conversation_held(&release, "krill-0", &token, &marker, "after a pod deletion").await?;

    // Uninstall, then install again: the claim and the token Secret were kept for it.
    release.uninstall().await?;
    wait_for_pod_uid_change(&release, "krill-0", None, true).await?;
    ensure!(
        claim_uid(&release).await? == claim,
        "helm uninstall must leave the krill's volume claim"
    );
    release.install(&values).await?;
    wait_for_fleet(&release, &fleet).await?;
    ensure!(
        claim_uid(&release).await? == claim,
        "reinstall took a new claim"
    );
    ensure!(
        gateway_token(&release, "krill-0-gateway-token", "gateway-token").await? == token,
        "reinstall minted a new token"
    );
    same_krill(&release, &token).await?;
    conversation_held(&release, "krill-0", &token, &marker, "after a reinstall").await?;
    Ok(())
}

#[rstest]
#[tokio::test]
async fn a_krill_started_from_a_sidecar_snapshot_continues_the_conversation(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "a krill started from another's snapshot").await? {
        return Ok(());
    }
    // The sidecar's own loop waits an hour; the snapshot below is one taken by hand in the
    // sidecar's container, with its settings, while a turn runs.
    let values = with_stand_in_model(&release)
        .await?
        .yaml("replicas: 1\nsnapshots:\n  interval: 1h\n  firstAfter: 1h\n");
    release.install(&values).await?;
    wait_for_fleet(&release, &Fleet::new(1, &[])).await?;
    let token = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    let marker = first_turn(&release, "krill-0", &token).await?;

    let (during_turn, taken) = tokio::join!(
        turn(&release, "krill-0", &token, "conv:other", "Busy now?"),
        async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            snapshot_now(&release, "krill-0").await
        }
    );
    during_turn.context("the turn that ran during the snapshot")?;
    let taken = taken?;
    let archive = taken.rsplit('/').next().unwrap_or(&taken);

    // The heir is a named krill whose first start imports that archive from krill-0's volume
    // (same node, so the ReadWriteOnce claim can be mounted twice).
    let heir = values.yaml(format!(
        "krills:\n  heir:\n    initClaw:\n      persistentVolumeClaim:\n        claimName: \
         data-krill-0\n        path: snapshots/{archive}\n"
    ));
    release.upgrade(&heir).await?;
    wait_for_fleet(&release, &Fleet::new(1, &["heir"])).await?;
    // At the first start: a gateway that found its predecessor's leases in the archive would
    // crash-loop until they expired.
    no_container_restarted(&release, &release.api::<Pod>().get("krill-heir-0").await?).await?;
    let checked = state_databases_pass_integrity_check(&release, "krill-heir-0").await?;
    let heir_token = gateway_token(&release, "krill-heir-secrets", "gateway-token").await?;
    conversation_held(
        &release,
        "krill-heir-0",
        &heir_token,
        &marker,
        &format!("a krill started from {archive} (databases checked: {checked:?})"),
    )
    .await?;
    Ok(())
}

/// Exit codes of the pod's containers as the last status before it went away (name, code).
type LastExits = Arc<Mutex<Vec<(String, i32)>>>;

#[rstest]
#[tokio::test]
async fn a_killed_gateway_restarts_with_intact_databases_and_a_deleted_krill_exits_0_in_time(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "SIGKILL and graceful deletion of a running krill").await? {
        return Ok(());
    }
    let values = with_stand_in_model(&release).await?.yaml("replicas: 1\n");
    release.install(&values).await?;
    let fleet = Fleet::new(1, &[]);
    wait_for_fleet(&release, &fleet).await?;
    let token = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    let marker = first_turn(&release, "krill-0", &token).await?;
    let restarts = || async {
        let pod = release.api::<Pod>().get("krill-0").await?;
        anyhow::Ok(
            pod.status
                .and_then(|s| s.container_statuses)
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.name == "krill")
                .map_or(0, |c| c.restart_count),
        )
    };
    let before = restarts().await?;

    // SIGKILL the gateway (PID 1 is tini; the gateway is its child) while a turn writes to its
    // databases: nothing gets to clean up, as in an OOM kill.
    let kill = ["sh", "-c", "kill -KILL $(cat /proc/1/task/1/children)"];
    let (_interrupted, killed) = tokio::join!(
        turn(
            &release,
            "krill-0",
            &token,
            "conv:interrupted",
            "Write while I pull the plug."
        ),
        async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            release.exec("krill-0", Some("krill"), &kill, EXEC).await
        }
    );
    killed?.require_success("krill-0", &kill)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while restarts().await? == before {
        ensure!(
            Instant::now() < deadline,
            "krill-0's krill container was not restarted after SIGKILL"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    wait_for_fleet(&release, &fleet).await?;
    state_databases_pass_integrity_check(&release, "krill-0").await?;
    conversation_held(&release, "krill-0", &token, &marker, "after SIGKILL").await?;

    // Deletion: every container stops on SIGTERM with exit 0 (the sidecar after its last
    // snapshot) before the grace period would have it killed.
    let pod = release.api::<Pod>().get("krill-0").await?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let exits: LastExits = Arc::default();
    let seen = exits.clone();
    let watched_uid = uid.clone();
    let gone = kube::runtime::wait::await_condition(
        release.api::<Pod>(),
        "krill-0",
        move |pod: Option<&Pod>| {
            let Some(pod) = pod else { return true };
            if pod.metadata.uid.as_deref() != Some(watched_uid.as_str()) {
                return true;
            }
            let terminated: Vec<(String, i32)> = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let t = c.state.as_ref()?.terminated.as_ref()?;
                    Some((c.name.clone(), t.exit_code))
                })
                .collect();
            if !terminated.is_empty() {
                *seen.lock().unwrap() = terminated;
            }
            false
        },
    );
    let started = Instant::now();
    let (gone, deleted) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(grace as u64 + 120), gone),
        async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            release
                .api::<Pod>()
                .delete("krill-0", &Default::default())
                .await
        }
    );
    deleted.context("deleting krill-0")?;
    gone.context("krill-0 never went away")??;
    let took = started.elapsed();
    let exits = exits.lock().unwrap().clone();
    let names: Vec<&str> = exits.iter().map(|(n, _)| n.as_str()).collect();
    ensure!(
        names.contains(&"krill") && names.contains(&"snapshot"),
        "the pod's last status before deletion did not show both containers terminated: {exits:?}"
    );
    ensure!(
        exits.iter().all(|(_, code)| *code == 0),
        "containers of a deleted krill exited with {exits:?}, not 0"
    );
    ensure!(
        took < Duration::from_secs(grace as u64),
        "krill-0 took {took:?} to stop, beyond its grace period of {grace} s"
    );
    Ok(())
}
