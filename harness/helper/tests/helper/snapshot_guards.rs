//! What keeps a snapshot from hurting its krill, through the real `krill` binary: the free-space
//! guard, the cleanup of what a killed export left, retention by total size.

use crate::common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Volume;
use krill_helper::paths::KrillName;
use krill_helper::retention;
use krill_helper::snapshot;

fn alice() -> KrillName {
    KrillName::parse("alice").expect("name")
}

/// `krill snapshot --out <snapshots> <args>`: must succeed; its JSON outcome and its stderr.
fn run(volume: &Volume, args: &[&str]) -> (serde_json::Value, String) {
    let out = volume.path("snapshots");
    let mut all = vec!["snapshot", "--out", out.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let output = volume.krill(&all).output().expect("run krill");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (json, stderr)
}

/// `bytes` of data no compressor shrinks (xorshift), so archive sizes are predictable.
fn write_random(path: &Path, bytes: usize, seed: u64) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut file = fs::File::create(path).expect("create");
    let mut state = seed | 1;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n]).expect("write");
        left -= n;
    }
}

fn workspace(volume: &Volume) -> PathBuf {
    let workspace = volume.paths().workspace();
    fs::create_dir_all(&workspace).expect("mkdir");
    workspace
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_snapshot_that_would_crowd_the_volume_is_skipped_loudly() {
    let volume = Volume::new();
    fs::write(workspace(&volume).join("AGENTS.md"), "be kind\n").expect("write");
    let out = volume.path("snapshots");
    // No filesystem can keep all of itself free and take an archive too.
    let (json, stderr) = run(&volume, &["--min-free-percent", "100"]);
    assert_eq!(json["outcome"], "skipped_low_space", "{json}");
    assert_eq!(json["volume"].as_str(), out.to_str());
    assert_eq!(json["min_free_percent"], 100);
    let free = json["free_bytes"].as_u64().expect("free_bytes");
    let needed = json["needed_bytes"].as_u64().expect("needed_bytes");
    let total = json["total_bytes"].as_u64().expect("total_bytes");
    assert!(needed > "be kind\n".len() as u64 && free <= total, "{json}");
    let line = stderr
        .lines()
        .find(|l| l.contains("SNAPSHOT SKIPPED"))
        .unwrap_or_else(|| panic!("no skip line in:\n{stderr}"));
    for part in [
        out.display().to_string(),
        format!("{free} bytes free"),
        format!("up to {needed} bytes"),
        "100%".to_owned(),
    ] {
        assert!(line.contains(&part), "{part:?} missing from {line:?}");
    }
    assert!(
        snapshot::list(&out, &alice()).expect("list").is_empty(),
        "{:?}",
        file_names(&out)
    );
    assert!(file_names(&out).is_empty(), "{:?}", file_names(&out));

    // The skip was the guard's doing, and it recorded nothing: without it the same tree is written.
    let (json, _) = run(&volume, &["--min-free-percent", "0"]);
    assert_eq!(json["outcome"], "written", "{json}");
}

#[test]
fn a_database_copy_that_would_crowd_the_volume_is_not_made() {
    let volume = Volume::new();
    let state = volume.paths().state();
    fs::create_dir_all(&state).expect("mkdir");
    let db = rusqlite::Connection::open(state.join("openclaw.sqlite")).expect("open");
    db.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES ('hello');")
        .expect("write");
    // The backup copy is the one thing staging writes: it is checked before it is made, on the
    // volume of the staging tree.
    let (json, stderr) = run(&volume, &["--min-free-percent", "100"]);
    assert_eq!(json["outcome"], "skipped_low_space", "{json}");
    let measured = PathBuf::from(json["volume"].as_str().expect("volume"));
    assert!(
        measured.starts_with(volume.paths().bookkeeping()),
        "{} is not the staging tree",
        measured.display()
    );
    assert!(stderr.contains("SNAPSHOT SKIPPED"), "{stderr}");
    let staging: Vec<String> = file_names(&volume.paths().bookkeeping())
        .into_iter()
        .filter(|n| n.starts_with("snapshot-"))
        .collect();
    assert!(staging.is_empty(), "staging trees left: {staging:?}");
    assert!(file_names(&volume.path("snapshots")).is_empty());
}

#[test]
fn a_leftover_of_a_killed_export_is_removed_and_nothing_else() {
    let volume = Volume::new();
    fs::write(workspace(&volume).join("AGENTS.md"), "be kind\n").expect("write");
    let out = volume.path("snapshots");
    // krill-claw's temporary name: `.<final name>.<random>.tmp` (its export/write.rs).
    let leftover = out.join(".alice-20260101T000000Z.claw.Ab12Cd.tmp");
    let kept = [
        ".bob-20260101T000000Z.claw.Ab12Cd.tmp", // another krill's, maybe still being written
        ".notes.tmp",
        "alice-notes.claw",
    ];
    fs::write(&leftover, vec![0u8; 4096]).expect("write");
    for name in kept {
        fs::write(out.join(name), "not ours").expect("write");
    }
    let (json, stderr) = run(&volume, &["--min-free-percent", "0"]);
    assert_eq!(json["outcome"], "written", "{json}");
    assert_eq!(
        json["leftovers_removed"],
        serde_json::json!([leftover.to_str().expect("utf-8")])
    );
    assert!(!leftover.exists());
    assert!(
        stderr.contains(&format!("removed {}", leftover.display())),
        "{stderr}"
    );
    for name in kept {
        assert!(out.join(name).exists(), "{name} was removed");
    }
}

#[test]
fn what_a_snapshot_killed_mid_export_leaves_is_removed_by_the_next() {
    let volume = Volume::new();
    let work = workspace(&volume);
    // ~200 MB that deflate cannot shrink: long enough an export to be caught in the middle.
    for part in 0..4 {
        write_random(
            &work.join(format!("data/part-{part}.bin")),
            50 << 20,
            part + 7,
        );
    }
    let out = volume.path("snapshots");
    let mut child = volume
        .krill(&[
            "snapshot",
            "--out",
            out.to_str().expect("utf-8"),
            "--min-free-percent",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start krill snapshot");
    let started = Instant::now();
    let temporary = loop {
        let found = fs::read_dir(&out).ok().and_then(|entries| {
            entries.filter_map(Result::ok).find(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| retention::is_leftover_of(&alice(), n))
            })
        });
        if let Some(entry) = found {
            // Some bytes in: the export is under way, not just starting.
            if entry.metadata().is_ok_and(|m| m.len() > 1 << 20) {
                break entry.path();
            }
        }
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the export finished before it could be killed: {:?}",
            file_names(&out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no export seen"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(
        temporary.exists(),
        "a killed export leaves its temporary file (else this test proves nothing)"
    );
    assert!(snapshot::list(&out, &alice()).expect("list").is_empty());

    let (json, _) = run(&volume, &["--min-free-percent", "0"]);
    assert_eq!(json["outcome"], "written", "{json}");
    assert_eq!(
        json["leftovers_removed"],
        serde_json::json!([temporary.to_str().expect("utf-8")])
    );
    let archive = PathBuf::from(json["path"].as_str().expect("path"));
    assert_eq!(
        file_names(&out),
        [archive
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned()],
        "only the new archive is left"
    );
    let zip = zip::ZipArchive::new(fs::File::open(&archive).expect("open")).expect("a whole zip");
    assert!(
        zip.file_names()
            .any(|n| n.is_ok_and(|n| n == "context/workspace/data/part-3.bin"))
    );
    let staging: Vec<String> = file_names(&volume.paths().bookkeeping())
        .into_iter()
        .filter(|n| n.starts_with("snapshot-"))
        .collect();
    assert!(staging.is_empty(), "staging trees left: {staging:?}");
}

#[test]
fn retention_by_total_size_deletes_the_oldest_but_never_the_newest() {
    let volume = Volume::new();
    let work = workspace(&volume);
    // Each archive is a little over 1 MiB: two fit in 2500 KiB, three do not.
    write_random(&work.join("blob.bin"), 1 << 20, 42);
    let out = volume.path("snapshots");
    let limit: u64 = 2500 << 10;
    let mut written = Vec::new();
    for n in 0..4 {
        fs::write(work.join("counter.txt"), n.to_string()).expect("write");
        let (json, _) = run(
            &volume,
            &["--min-free-percent", "0", "--max-total-size", "2500K"],
        );
        assert_eq!(json["outcome"], "written", "{json}");
        let path = PathBuf::from(json["path"].as_str().expect("path"));
        let left = snapshot::list(&out, &alice()).expect("list");
        let total: u64 = left
            .iter()
            .map(|p| fs::metadata(p).expect("stat").len())
            .sum();
        assert!(
            total <= limit,
            "{total} bytes kept over a {limit}-byte limit"
        );
        assert_eq!(left.last(), Some(&path), "the newest stays");
        written.push(path);
    }
    assert_eq!(
        snapshot::list(&out, &alice()).expect("list"),
        written[2..].to_vec(),
        "the two newest"
    );

    // A limit below one archive: the one just written stays, alone.
    fs::write(work.join("counter.txt"), "last").expect("write");
    let (json, _) = run(
        &volume,
        &["--min-free-percent", "0", "--max-total-size", "1K"],
    );
    let newest = PathBuf::from(json["path"].as_str().expect("path"));
    assert_eq!(
        json["removed"],
        serde_json::json!(
            written[2..]
                .iter()
                .map(|p| p.to_str().expect("utf-8"))
                .collect::<Vec<_>>()
        )
    );
    assert_eq!(
        snapshot::list(&out, &alice()).expect("list"),
        [newest.as_path()]
    );
    assert!(fs::metadata(&newest).expect("stat").len() > 1024);
}
