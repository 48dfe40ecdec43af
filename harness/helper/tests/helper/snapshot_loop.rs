//! `krill snapshot --every`, the chart's snapshot sidecar, as the real binary: the first snapshot
//! after the short delay, not a full interval later; SIGTERM takes one last snapshot (only when
//! something changed) and exits 0.

use crate::common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{Running, Volume};
use krill_helper::paths::KrillName;
use krill_helper::snapshot;

/// A running `krill snapshot --every …` with its output read line by line.
struct Loop {
    running: Running,
    stderr: Receiver<String>,
    stdout: Receiver<String>,
    stderr_seen: Vec<String>,
}

fn lines(reader: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

impl Loop {
    fn start(volume: &Volume, schedule: &[&str]) -> Self {
        let out = volume.path("snapshots");
        let mut args = vec![
            "snapshot",
            "--out",
            out.to_str().expect("utf-8"),
            "--min-free-percent",
            "0",
        ];
        args.extend_from_slice(schedule);
        let mut child = volume
            .krill(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start krill snapshot --every");
        let stderr = lines(child.stderr.take().expect("stderr"));
        let stdout = lines(child.stdout.take().expect("stdout"));
        Loop {
            running: Running {
                name: "krill snapshot --every",
                child,
            },
            stderr,
            stdout,
            stderr_seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr_seen.iter().any(|l| l.contains(needle)) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(_) => panic!(
                    "no {needle:?} on stderr within {timeout:?}:\n{}",
                    self.stderr_seen.join("\n")
                ),
            }
        }
    }

    /// SIGTERM, then the exit status (within a pod's default grace period).
    fn terminate(&mut self) -> ExitStatus {
        self.running
            .terminate(Duration::from_secs(30))
            .unwrap_or_else(|| {
                panic!(
                    "still running 30 s after SIGTERM:\n{}",
                    self.stderr_seen.join("\n")
                )
            })
    }

    /// Every JSON outcome printed so far, and the rest of stderr (the process has exited).
    fn outcomes(&mut self) -> Vec<serde_json::Value> {
        self.stderr_seen.extend(self.stderr.iter());
        self.stdout
            .iter()
            .map(|line| serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
            .collect()
    }
}

fn alice() -> KrillName {
    KrillName::parse("alice").expect("name")
}

fn snapshots(volume: &Volume) -> Vec<PathBuf> {
    snapshot::list(&volume.path("snapshots"), &alice()).expect("list")
}

fn volume_with_work() -> Volume {
    let volume = Volume::new();
    let workspace = volume.paths().workspace();
    fs::create_dir_all(&workspace).expect("mkdir");
    fs::write(workspace.join("AGENTS.md"), "be kind\n").expect("write");
    volume
}

#[test]
fn the_first_snapshot_comes_after_the_short_delay_not_a_full_interval() {
    let volume = volume_with_work();
    let started = Instant::now();
    let mut snapshots_loop = Loop::start(&volume, &["--every", "1h", "--first-after", "2s"]);
    let first_seen = loop {
        if !snapshots(&volume).is_empty() {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no snapshot a minute after start with --first-after 2s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        first_seen >= Duration::from_secs(2),
        "the first snapshot came {first_seen:?} after start, before --first-after 2s"
    );
    snapshots_loop.wait_for("krill: wrote ", Duration::from_secs(30));

    // Nothing changed since: the last snapshot on SIGTERM writes nothing.
    let status = snapshots_loop.terminate();
    assert_eq!(status.code(), Some(0), "{status}");
    let outcomes = snapshots_loop.outcomes();
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|o| o["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["written", "unchanged"]);
    assert_eq!(snapshots(&volume).len(), 1);
}

#[test]
fn sigterm_takes_a_last_snapshot_and_exits_zero() {
    let volume = volume_with_work();
    // An interval and a first delay the test never reaches: only SIGTERM can make a snapshot.
    let mut snapshots_loop = Loop::start(&volume, &["--every", "1h", "--first-after", "1h"]);
    // Printed once the signals are the loop's: a SIGTERM before it would kill the process.
    snapshots_loop.wait_for("SIGTERM takes a last one", Duration::from_secs(30));
    assert!(snapshots(&volume).is_empty());

    let status = snapshots_loop.terminate();
    assert_eq!(status.code(), Some(0), "{status}");
    let outcomes = snapshots_loop.outcomes();
    assert!(
        snapshots_loop
            .stderr_seen
            .iter()
            .any(|l| l.contains("SIGTERM: one last snapshot")),
        "{:?}",
        snapshots_loop.stderr_seen
    );
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["outcome"], "written");
    let written = snapshots(&volume);
    assert_eq!(written.len(), 1);
    assert_eq!(
        outcomes[0]["path"].as_str(),
        written[0].to_str(),
        "the JSON names the archive"
    );
}

#[test]
fn a_failed_snapshot_is_retried_and_the_loop_keeps_running() {
    let volume = volume_with_work();
    // The output dir is a file: every snapshot fails until it is a directory again.
    let out = volume.path("snapshots");
    fs::remove_dir(&out).expect("rmdir");
    fs::write(&out, "in the way").expect("write");
    let mut snapshots_loop = Loop::start(&volume, &["--every", "1s", "--first-after", "0s"]);
    snapshots_loop.wait_for("krill: snapshot failed", Duration::from_secs(30));
    assert!(
        snapshots_loop
            .running
            .child
            .try_wait()
            .expect("wait")
            .is_none(),
        "the loop ended after a failed snapshot"
    );
    fs::remove_file(&out).expect("rm");
    fs::create_dir(&out).expect("mkdir");
    snapshots_loop.wait_for("krill: wrote ", Duration::from_secs(30));
    let status = snapshots_loop.terminate();
    assert_eq!(status.code(), Some(0), "{status}");
    let outcomes = snapshots_loop.outcomes();
    assert_eq!(outcomes[0]["outcome"], "failed", "{outcomes:?}");
    assert!(outcomes.iter().any(|o| o["outcome"] == "written"));
    assert_eq!(snapshots(&volume).len(), 1);
}
