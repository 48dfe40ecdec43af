//! `scale`, `pause`, `resume` go through the release's values (`helm upgrade --reuse-values`),
//! so a later `helm upgrade` keeps them; a chart other than the release's is refused.

use crate::support::{ROLLOUT, helm_values, install, krill, release};

use k8s_openapi::api::apps::v1::StatefulSet;
use krill_cluster::{Probe, TestRelease, poll};
use rstest::rstest;

async fn replicas(release: &TestRelease, statefulset: &str) -> anyhow::Result<i32> {
    let set = release.api::<StatefulSet>().get(statefulset).await?;
    Ok(set.spec.and_then(|s| s.replicas).unwrap_or(-1))
}

#[rstest]
#[tokio::test]
async fn scale_pause_and_resume_change_the_release_not_the_objects(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    install(
        &release,
        "replicas: 1\nkrills:\n  alice: {}\n",
        1,
        &["alice"],
    )
    .await?;

    let run = krill(&release, &["scale", "2"]).await;
    assert!(run.ok(), "{run:?}");
    assert_eq!(helm_values(&release).await?["replicas"], 2);
    assert_eq!(replicas(&release, "krill").await?, 2);

    let run = krill(&release, &["pause", "alice"]).await;
    assert!(run.ok(), "{run:?}");
    assert!(run.stderr.contains("krill alice is now paused"), "{run:?}");
    assert_eq!(
        helm_values(&release).await?["krills"]["alice"]["paused"],
        true
    );
    assert_eq!(replicas(&release, "krill-alice").await?, 0);
    // The pod goes; status shows the krill paused, not gone.
    poll("krill-alice-0 to be gone", ROLLOUT, || async {
        let run = krill(&release, &["status", "-o", "json"]).await;
        Ok(
            if run.stdout.contains("\"Paused\"") && !run.stdout.contains("\"Terminating\"") {
                Probe::Ready(())
            } else {
                Probe::Pending(run.stdout)
            },
        )
    })
    .await?;

    // The next upgrade someone runs with --reuse-values keeps both changes: no drift.
    release
        .helm()
        .run([
            "upgrade",
            release.name(),
            release.chart().to_str().expect("utf-8"),
            "--namespace",
            release.namespace(),
            "--reuse-values",
        ])
        .await?;
    assert_eq!(replicas(&release, "krill").await?, 2);
    assert_eq!(replicas(&release, "krill-alice").await?, 0);

    let run = krill(&release, &["pause", "alice"]).await;
    assert!(run.ok() && run.stderr.contains("already paused"), "{run:?}");

    let run = krill(&release, &["resume", "alice"]).await;
    assert!(run.ok(), "{run:?}");
    assert_eq!(
        helm_values(&release).await?["krills"]["alice"]["paused"],
        false
    );
    assert_eq!(replicas(&release, "krill-alice").await?, 1);
    Ok(())
}

#[rstest]
#[tokio::test]
async fn a_chart_other_than_the_releases_is_refused_and_nothing_changes(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    install(&release, "replicas: 1\n", 1, &[]).await?;
    // A copy of the chart under another version: what a stale checkout or a newer download is.
    let copy = tempfile::tempdir()?;
    let chart = copy.path().join("krill");
    copy_dir(release.chart(), &chart)?;
    let meta = std::fs::read_to_string(chart.join("Chart.yaml"))?;
    let bumped: String = meta
        .lines()
        .map(|l| {
            if l.starts_with("version:") {
                "version: 99.0.0".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(chart.join("Chart.yaml"), bumped)?;

    let run = krill(
        &release,
        &["scale", "3", "--chart", chart.to_str().expect("utf-8")],
    )
    .await;
    assert!(!run.ok(), "{run:?}");
    assert!(
        run.stderr.contains("runs chart krill-") && run.stderr.contains("krill-99.0.0"),
        "{run:?}"
    );
    assert_eq!(helm_values(&release).await?["replicas"], 1);
    assert_eq!(replicas(&release, "krill").await?, 1);
    Ok(())
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
