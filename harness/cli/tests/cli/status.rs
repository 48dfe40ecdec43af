//! `status`: every krill of the release, named, fleet and paused, as a table and as JSON; and
//! the commands that need a running krill refusing a paused one.

use crate::support::{install, krill, krill_command, release};

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use krill_cluster::{PodRuntime, TestRelease};
use rstest::rstest;
use serde_json::Value;

const VALUES: &str = r#"
replicas: 2
krills:
  alice: {}
  bob:
    paused: true
"#;

#[rstest]
#[tokio::test]
async fn status_lists_named_fleet_and_paused_krills(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    install(&release, VALUES, 2, &["alice"]).await?;
    let runtime = release.cluster().pod_runtime().await?;
    let ns = release.namespace();

    let run = krill(&release, &["status", "--output", "json"]).await;
    assert!(run.ok(), "{run:?}");
    let rows: Vec<Value> = serde_json::from_str(&run.stdout)?;
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["alice", "bob", "krill-0", "krill-1"], "{run:?}");
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).expect("listed");

    let bob = row("bob");
    assert_eq!(bob["state"], "Paused");
    assert_eq!(bob["kind"], "named");
    assert_eq!(bob["volume_unknown"], "paused");
    assert_eq!(row("krill-1")["kind"], "fleet");
    assert_eq!(
        row("krill-0")["dns"],
        format!("krill-0.krill.{ns}.svc.cluster.local")
    );
    for name in ["alice", "krill-0", "krill-1"] {
        let r = row(name);
        assert_eq!(r["state"], "Running", "{name}: {r}");
        assert_eq!(r["ready"], true, "{name}: {r}");
        assert_eq!(r["model"], "default", "{name}: {r}");
        assert!(r["age_seconds"].as_i64().is_some_and(|a| a >= 0), "{r}");
        match &runtime {
            // The volume is read inside the pod; a real one answers.
            PodRuntime::Real => assert!(r["volume"]["size_bytes"].as_u64() > Some(0), "{r}"),
            // kwok runs no container: the row says why it cannot know, it does not guess.
            PodRuntime::Simulated { .. } => {
                assert!(r["volume"].is_null(), "{r}");
                assert!(
                    r["volume_unknown"].as_str().is_some_and(|s| !s.is_empty()),
                    "{r}"
                );
            }
        }
    }

    let run = krill(&release, &["status"]).await;
    assert!(run.ok(), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].contains("KRILL") && lines[0].contains("LAST SNAPSHOT"),
        "{run:?}"
    );
    assert_eq!(lines.len(), 5, "a header and one line per krill: {run:?}");
    assert!(
        lines[2].contains("bob") && lines[2].contains("Paused"),
        "{run:?}"
    );

    // -w: one JSON document per refresh, until stopped.
    let mut watch = krill_command(&release, &["status", "-w", "-o", "json", "--interval", "1"]);
    let mut child = watch.stdout(std::process::Stdio::piped()).spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for _ in 0..2 {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await??
            .expect("a refresh");
        let rows: Vec<Value> = serde_json::from_str(&line)?;
        assert_eq!(rows.len(), 4, "{line}");
    }
    child.kill().await?;
    Ok(())
}

#[rstest]
#[tokio::test]
async fn a_paused_krill_is_refused_naming_resume(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    install(&release, VALUES, 2, &["alice"]).await?;
    let commands: [&[&str]; 7] = [
        &["exec", "bob", "--", "true"],
        &["logs", "bob"],
        &["snapshots", "bob"],
        &["snapshot", "bob"],
        &["fetch", "bob", "-o", "bob.claw"],
        &["chat", "bob", "hello"],
        &["connect", "bob"],
    ];
    for args in commands {
        let run = krill(&release, args).await;
        assert!(!run.ok(), "{args:?} succeeded on a paused krill: {run:?}");
        assert!(
            run.stderr.contains("krill bob is paused")
                && run.stderr.contains("kubectl krill resume bob"),
            "{args:?}: {run:?}"
        );
    }
    Ok(())
}
