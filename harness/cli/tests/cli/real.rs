//! Commands that need a running container: exec, logs. On simulated nodes (kwok) they are
//! reported NOT RUN, and only their refusals are checked there (status.rs, errors.rs).

use crate::support::{ROLLOUT, install, krill, release};

use krill_cluster::{PodRuntime, TestRelease};
use rstest::rstest;

/// The release's pods run for real, or the test says NOT RUN and returns false.
async fn real_nodes(release: &TestRelease) -> anyhow::Result<bool> {
    Ok(match release.cluster().pod_runtime().await? {
        PodRuntime::Real => true,
        PodRuntime::Simulated { reason } => {
            krill_test_support::not_run(format!("needs containers that run: {reason}"));
            false
        }
    })
}

#[rstest]
#[tokio::test]
async fn exec_runs_in_the_krill_and_passes_its_exit_code_and_stdin(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release).await? {
        return Ok(());
    }
    install(&release, "replicas: 1\n", 1, &[]).await?;
    let run = krill(
        &release,
        &[
            "exec",
            "krill-0",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    )
    .await;
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(run.stdout, "out\n", "{run:?}");
    assert!(run.stderr.contains("err"), "{run:?}");
    // The snapshot sidecar is a container of its own.
    let run = krill(
        &release,
        &[
            "exec",
            "krill-0",
            "-c",
            "snapshot",
            "--",
            "ls",
            "/krill/snapshots",
        ],
    )
    .await;
    assert!(run.ok(), "{run:?}");

    let run = krill(&release, &["logs", "krill-0", "--tail", "50"]).await;
    assert!(run.ok() && !run.stdout.is_empty(), "{run:?}");
    Ok(())
}

#[rstest]
#[tokio::test]
async fn chat_answers_through_the_krills_own_gateway(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release).await? {
        return Ok(());
    }
    let client = release.client();
    let ns = release.namespace().to_owned();
    krill_cluster::deploy_stand_in(&client, &ns, &krill_cluster::stand_in_image(), ROLLOUT).await?;
    let values = format!("replicas: 1\n{}", krill_cluster::stand_in_model_values());
    install(&release, &values, 1, &[]).await?;
    krill_cluster::wait_for_deployment_ready(&client, &ns, "krill-api-server", ROLLOUT).await?;

    let run = krill(
        &release,
        &["chat", "krill-0", "Write a note, then tell me you did."],
    )
    .await;
    assert!(run.ok(), "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        krill_stand_in::Script::default().final_text,
        "{run:?}"
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn snapshot_lists_and_fetches_an_archive_byte_for_byte(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release).await? {
        return Ok(());
    }
    install(&release, "replicas: 1\n", 1, &[]).await?;
    let run = krill(&release, &["snapshot", "krill-0"]).await;
    assert!(run.ok(), "{run:?}");
    let run = krill(&release, &["snapshots", "krill-0", "-o", "json"]).await;
    assert!(run.ok(), "{run:?}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&run.stdout)?;
    let newest = listed.last().expect("a snapshot after `snapshot`");
    let file = newest["file"].as_str().expect("a file name");
    assert!(
        file.starts_with("krill-0-") && file.ends_with(".claw"),
        "{newest}"
    );

    let dir = tempfile::tempdir()?;
    let out = dir.path().join("copy.claw");
    let run = krill(
        &release,
        &["fetch", "krill-0", file, "-o", out.to_str().expect("utf-8")],
    )
    .await;
    assert!(run.ok(), "{run:?}");
    assert_eq!(
        std::fs::metadata(&out)?.len(),
        newest["bytes"].as_u64().unwrap_or(0)
    );
    // A zip's end-of-central-directory record: the copy is a whole archive.
    let bytes = std::fs::read(&out)?;
    assert!(
        bytes.windows(4).any(|w| w == b"PK\x05\x06"),
        "not a whole zip"
    );

    let run = krill(&release, &["fetch", "krill-0", "nope.claw", "-o", "x.claw"]).await;
    assert!(
        !run.ok() && run.stderr.contains("no snapshot nope.claw") && run.stderr.contains(file),
        "{run:?}"
    );
    Ok(())
}
