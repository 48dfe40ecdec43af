//! `restore`: an archive the `.claw` reader refuses changes nothing; once the krill is paused,
//! it is brought back whatever happens; on real nodes the volume gets the archive's workspace.

use crate::support::{ROLLOUT, helm_values, install, krill, release};

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use krill_cluster::{PodRuntime, Probe, TestRelease, poll};
use rstest::rstest;

const VALUES: &str = "replicas: 1\nkrills:\n  alice: {}\n";

/// A restorable archive of a workspace holding `NOTES.md` with `text`, written into `dir`.
fn archive(dir: &Path, text: &str) -> PathBuf {
    let source = dir.join("source");
    std::fs::create_dir_all(source.join("workspace")).expect("mkdir");
    std::fs::create_dir_all(source.join("state")).expect("mkdir");
    std::fs::write(source.join("workspace/NOTES.md"), text).expect("write");
    let out = dir.join("alice.claw");
    let options = krill_claw::ExportOptions {
        progress: false,
        claw_py: None,
        note_missing_claw_py: false,
        ..Default::default()
    };
    krill_claw::export(&source, &out, &options).expect("export");
    out
}

async fn pod_uid(release: &TestRelease, pod: &str) -> Option<String> {
    release
        .api::<Pod>()
        .get_opt(pod)
        .await
        .expect("reading the pod")
        .and_then(|p| p.metadata.uid)
}

#[rstest]
#[tokio::test]
async fn a_corrupt_archive_is_refused_before_anything_is_touched(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    install(&release, VALUES, 1, &["alice"]).await?;
    let before = pod_uid(&release, "krill-alice-0").await;
    assert!(before.is_some());
    let dir = tempfile::tempdir()?;
    let good = archive(dir.path(), "hello\n");
    // Cut short: the central directory is gone, as after an interrupted copy.
    let bytes = std::fs::read(&good)?;
    let cut = dir.path().join("cut.claw");
    std::fs::write(&cut, &bytes[..bytes.len() / 2])?;
    // One flipped byte in the middle: a CRC or a structure check must catch it.
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 3;
    flipped[middle] ^= 0xff;
    let bad = dir.path().join("flipped.claw");
    std::fs::write(&bad, &flipped)?;

    for file in [&cut, &bad] {
        let run = krill(
            &release,
            &["restore", "alice", file.to_str().expect("utf-8")],
        )
        .await;
        assert!(!run.ok(), "{run:?}");
        assert!(
            run.stderr
                .contains("is not an archive krill alice can be restored from")
                && run.stderr.contains("nothing was changed"),
            "{run:?}"
        );
        assert!(!run.stderr.contains("pausing"), "{run:?}");
    }
    let run = krill(&release, &["restore", "alice", "/nonexistent.claw"]).await;
    assert!(
        !run.ok() && run.stderr.contains("cannot read /nonexistent.claw"),
        "{run:?}"
    );
    let run = krill(
        &release,
        &["restore", "krill-0", good.to_str().expect("utf-8")],
    )
    .await;
    assert!(
        !run.ok() && run.stderr.contains("a fleet krill cannot be paused"),
        "{run:?}"
    );

    // Nothing changed: no value set, the same pod.
    assert!(helm_values(&release).await?["krills"]["alice"]["paused"].is_null());
    assert_eq!(pod_uid(&release, "krill-alice-0").await, before);
    Ok(())
}

#[rstest]
#[tokio::test]
async fn a_failed_restore_brings_the_krill_back(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if release.cluster().pod_runtime().await? == PodRuntime::Real {
        krill_test_support::not_run(
            "needs simulated nodes, where the restore pod runs no container and so must fail",
        );
        return Ok(());
    }
    install(&release, VALUES, 1, &["alice"]).await?;
    let dir = tempfile::tempdir()?;
    let good = archive(dir.path(), "hello\n");
    let run = krill(
        &release,
        &["restore", "alice", good.to_str().expect("utf-8")],
    )
    .await;
    assert!(!run.ok(), "{run:?}");
    assert!(
        run.stderr.contains("pausing krill alice")
            && run.stderr.contains("resuming krill alice")
            && run.stderr.contains("krill alice"),
        "{run:?}"
    );
    // Back as it was: running through the release, the helper pod gone.
    assert_eq!(
        helm_values(&release).await?["krills"]["alice"]["paused"],
        false
    );
    let set = release.api::<StatefulSet>().get("krill-alice").await?;
    assert_eq!(set.spec.and_then(|s| s.replicas), Some(1));
    poll("krill-alice-restore to be gone", ROLLOUT, || async {
        Ok(match pod_uid(&release, "krill-alice-restore").await {
            None => Probe::Ready(()),
            Some(uid) => Probe::Pending(uid),
        })
    })
    .await?;
    Ok(())
}

#[rstest]
#[tokio::test]
async fn restore_puts_the_archives_workspace_on_the_volume_and_resumes(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if let PodRuntime::Simulated { reason } = release.cluster().pod_runtime().await? {
        krill_test_support::not_run(format!("needs containers that run: {reason}"));
        return Ok(());
    }
    install(&release, VALUES, 1, &["alice"]).await?;
    let dir = tempfile::tempdir()?;
    let good = archive(dir.path(), "restored by kubectl krill\n");
    let run = krill(
        &release,
        &["restore", "alice", good.to_str().expect("utf-8")],
    )
    .await;
    assert!(run.ok(), "{run:?}");
    install(&release, VALUES, 1, &["alice"]).await.ok();
    let run = poll("alice to answer after the restore", ROLLOUT, || async {
        let run = krill(
            &release,
            &[
                "exec",
                "alice",
                "--",
                "cat",
                "/krill/data/workspace/NOTES.md",
            ],
        )
        .await;
        Ok(if run.ok() {
            Probe::Ready(run)
        } else {
            Probe::Pending(run.stderr)
        })
    })
    .await?;
    assert_eq!(run.stdout, "restored by kubectl krill\n");
    Ok(())
}
