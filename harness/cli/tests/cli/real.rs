//! Commands that need a running container: exec, logs. On simulated nodes (kwok) they are
//! reported NOT RUN, and only their refusals are checked there (status.rs, errors.rs).

use crate::support::{install, krill, release};

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
        &["exec", "krill-0", "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
    )
    .await;
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(run.stdout, "out\n", "{run:?}");
    assert!(run.stderr.contains("err"), "{run:?}");
    // The snapshot sidecar is a container of its own.
    let run = krill(
        &release,
        &["exec", "krill-0", "-c", "snapshot", "--", "ls", "/krill/snapshots"],
    )
    .await;
    assert!(run.ok(), "{run:?}");

    let run = krill(&release, &["logs", "krill-0", "--tail", "50"]).await;
    assert!(run.ok() && !run.stdout.is_empty(), "{run:?}");
    Ok(())
}
