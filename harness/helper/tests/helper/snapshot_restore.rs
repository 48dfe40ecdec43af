//! Snapshots and restores on a real filesystem with real SQLite databases held open in WAL mode
//! (as the gateway holds them), through the library and through the `krill` binary.

use crate::common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::{Volume, tree};
use krill_helper::paths::KrillName;
use krill_helper::retention::Retention;
use krill_helper::snapshot::{self, SnapshotOptions, SnapshotOutcome, SnapshotReport};
use krill_helper::space::SpaceGuard;
use krill_helper::{gateway, restore, sqlite};
use rstest::{fixture, rstest};
use rusqlite::Connection;

const SECRET: &str = "sk-live-do-not-leak";

/// Workspace files whose names once tripped a deny list: all of them are the agent's work.
const ORDINARY_FILES: &[&str] = &[
    "AGENTS.md",
    "memory/2026-11-24.md",
    "models/tokenizer.json",
    "rust/Cargo.lock",
    "py/poetry.lock",
    "project/secrets/README.md",
    "project/credentials/schema.json",
    "media/diagram.png",
    ".env",
    ".ssh/id_ed25519",
];

/// OpenClaw's documented credential files in the state dir: each carries the secret.
const STATE_CREDENTIALS: &[&str] = &[
    "credentials/oauth.json",
    "credentials/whatsapp/default/creds.json",
    ".env",
    "secrets.json",
    "openclaw.json",
    "agents/main/agent/auth-profiles.json",
];

/// State files kept although they sit next to credentials or were dropped before.
const STATE_KEPT: &[&str] = &[
    "credentials/telegram-allowFrom.json",
    "media/inbound/photo.jpg",
    "devices/paired.json",
    "identity/device.json",
    "logs/gateway.log",
];

/// A volume as a running gateway leaves it: workspace files of every kind of name, OpenClaw's
/// credential files, and a session database whose latest rows are still only in its -wal file
/// (the connection stays open).
struct Live {
    volume: Volume,
    db: Connection,
}

fn write_file(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

#[fixture]
fn live() -> Live {
    let volume = Volume::new();
    let paths = volume.paths();
    for file in ORDINARY_FILES {
        write_file(&paths.workspace().join(file), &format!("work: {file}\n"));
    }
    let state = paths.state();
    for file in STATE_CREDENTIALS {
        write_file(&state.join(file), &format!("{{\"apiKey\":\"{SECRET}\"}}"));
    }
    for file in STATE_KEPT {
        write_file(&state.join(file), &format!("kept: {file}\n"));
    }
    write_file(&state.join("tmp/upload-1"), "half an upload");
    let db = Connection::open(state.join("agents/main/agent/openclaw-agent.sqlite")).expect("open");
    db.pragma_update(None, "journal_mode", "WAL").expect("wal");
    db.execute_batch(
        "CREATE TABLE sessions(key TEXT PRIMARY KEY, transcript TEXT);
         INSERT INTO sessions VALUES ('agent:main:one', 'hello'), ('agent:main:two', 'world');",
    )
    .expect("write");
    Live { volume, db }
}

fn name() -> KrillName {
    KrillName::parse("alice").expect("name")
}

fn options(dir: &Path, keep: Option<usize>) -> SnapshotOptions {
    SnapshotOptions {
        out_dir: dir.to_owned(),
        retention: Retention {
            keep,
            max_total_bytes: None,
        },
        force: false,
        // The free-space guard has tests of its own (snapshot_guards.rs); these must not depend on
        // how full the machine's disk is.
        space: SpaceGuard {
            min_free_percent: 0,
        },
    }
}

fn written(report: SnapshotReport) -> PathBuf {
    match report.outcome {
        SnapshotOutcome::Written { path, .. } => path,
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

fn archive_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(fs::File::open(path).expect("open")).expect("zip");
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).expect("entry");
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read");
            (entry.name().expect("entry name").into_owned(), bytes)
        })
        .collect()
}

#[rstest]
fn a_snapshot_keeps_every_workspace_file_and_lists_the_credentials_it_leaves_out(live: Live) {
    let out = live.volume.path("snapshots");
    let outcome = snapshot::snapshot(&live.volume.paths(), &name(), &options(&out, None))
        .expect("snapshot")
        .outcome;
    let SnapshotOutcome::Written { path, excluded, .. } = outcome else {
        panic!("expected a snapshot, got {outcome:?}");
    };
    let file_name = path.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(snapshot::is_snapshot_of(&name(), file_name), "{file_name}");

    let entries = archive_entries(&path);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let expected = ORDINARY_FILES
        .iter()
        .map(|f| format!("context/workspace/{f}"))
        .chain(STATE_KEPT.iter().map(|f| format!("context/state/{f}")))
        .chain(["context/state/agents/main/agent/openclaw-agent.sqlite".to_owned()]);
    for expected in expected {
        assert!(
            names.contains(&expected.as_str()),
            "{expected} missing from {names:?}"
        );
    }
    for (entry, bytes) in &entries {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{entry} carries the secret"
        );
        assert!(
            !entry.ends_with("-wal") && !entry.ends_with("-shm"),
            "{entry}: side files belong inside the backup"
        );
    }

    // What stayed out is named, in the outcome and in the archive's manifest alike.
    let mut left_out: Vec<(String, &str)> = excluded
        .iter()
        .map(|e| (e.path.clone(), e.reason.as_str()))
        .collect();
    left_out.sort();
    let mut want: Vec<(String, &str)> = [
        ("state/.env", "credential"),
        ("state/agents/main/agent/auth-profiles.json", "credential"),
        ("state/credentials/oauth.json", "credential"),
        ("state/credentials/whatsapp/", "credential"),
        ("state/openclaw.json", "credential"),
        ("state/secrets.json", "credential"),
        ("state/tmp/", "scratch"),
    ]
    .into_iter()
    .map(|(p, r)| (p.to_owned(), r))
    .collect();
    want.sort();
    assert_eq!(left_out, want);
    let manifest: krill_claw::Manifest = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .expect("manifest.json")
            .1,
    )
    .expect("manifest parses");
    let mut recorded: Vec<(String, String)> = manifest
        .left_out
        .iter()
        .map(|l| (l.path.clone(), l.reason.clone()))
        .collect();
    recorded.sort();
    let want: Vec<(String, String)> = want.into_iter().map(|(p, r)| (p, r.to_owned())).collect();
    assert_eq!(recorded, want);
}

#[rstest]
fn an_unchanged_krill_gets_no_new_snapshot_and_a_changed_one_does(live: Live) {
    let paths = live.volume.paths();
    let out = live.volume.path("snapshots");
    let first = written(snapshot::snapshot(&paths, &name(), &options(&out, None)).expect("first"));
    match snapshot::snapshot(&paths, &name(), &options(&out, None))
        .expect("second")
        .outcome
    {
        SnapshotOutcome::Unchanged { last, .. } => assert_eq!(last, Some(first.clone())),
        other => panic!("nothing changed, yet {other:?}"),
    }
    // A new row in the live database (still in its WAL) is a change.
    live.db
        .execute("INSERT INTO sessions VALUES ('agent:main:three', '!')", [])
        .expect("insert");
    let second = written(snapshot::snapshot(&paths, &name(), &options(&out, None)).expect("third"));
    assert_ne!(first, second);
    // A change to a credential left out is not.
    fs::write(paths.state().join("credentials/oauth.json"), "OTHER=1").expect("write");
    assert!(matches!(
        snapshot::snapshot(&paths, &name(), &options(&out, None))
            .expect("fourth")
            .outcome,
        SnapshotOutcome::Unchanged { .. }
    ));
}

#[rstest]
fn retention_keeps_the_newest_and_leaves_other_files_alone(live: Live) {
    let paths = live.volume.paths();
    let out = live.volume.path("snapshots");
    fs::write(out.join("bob-20200101T000000Z.claw"), "another krill's").expect("write");
    fs::write(out.join("notes.txt"), "not a snapshot").expect("write");
    let mut made = Vec::new();
    for n in 0..4 {
        fs::write(paths.workspace().join("counter.txt"), n.to_string()).expect("write");
        made.push(written(
            snapshot::snapshot(&paths, &name(), &options(&out, Some(2))).expect("snapshot"),
        ));
    }
    let left = snapshot::list(&out, &name()).expect("list");
    assert_eq!(left, made[2..].to_vec());
    assert!(out.join("bob-20200101T000000Z.claw").exists());
    assert!(out.join("notes.txt").exists());
}

#[rstest]
fn a_snapshot_restores_into_an_empty_volume_with_intact_databases(live: Live) {
    let out = live.volume.path("snapshots");
    let path = written(
        snapshot::snapshot(&live.volume.paths(), &name(), &options(&out, None)).expect("snapshot"),
    );
    drop(live.db);
    let target = Volume::new();
    let summary = restore::restore(&target.paths(), &path).expect("restore");
    assert_eq!(summary.replaced, ["workspace", "state"]);
    assert_eq!(summary.databases_checked, 1);
    let db = target
        .paths()
        .state()
        .join("agents/main/agent/openclaw-agent.sqlite");
    sqlite::integrity_check(&db).expect("integrity_check ok");
    let keys: Vec<String> = Connection::open(&db)
        .expect("open")
        .prepare("SELECT key FROM sessions ORDER BY key")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("keys");
    assert_eq!(keys, ["agent:main:one", "agent:main:two"]);
    assert_eq!(
        fs::read_to_string(target.paths().workspace().join("models/tokenizer.json")).expect("read"),
        "work: models/tokenizer.json\n"
    );
}

/// Archives that must be refused, each leaving the volume byte for byte as it was.
fn bad_archives(dir: &Path, good: &Path) -> Vec<(&'static str, PathBuf)> {
    let garbage = dir.join("garbage.claw");
    fs::write(&garbage, b"this is not a zip file at all").expect("write");
    let truncated = dir.join("truncated.claw");
    let bytes = fs::read(good).expect("read");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");

    // A well-formed archive whose session database is damaged.
    let staging = tempfile::tempdir().expect("tempdir");
    let state = staging.path().join("state");
    fs::create_dir_all(&state).expect("mkdir");
    let db_path = state.join("openclaw.sqlite");
    let db = Connection::open(&db_path).expect("open");
    db.execute_batch(
        "CREATE TABLE t(x TEXT); CREATE INDEX i ON t(x);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO t SELECT 'row ' || i || ' padded to fill pages' FROM n;",
    )
    .expect("fill");
    drop(db);
    let mut raw = fs::read(&db_path).expect("read");
    let middle = raw.len() / 2;
    raw[middle..middle + 4096].fill(0x5a);
    fs::write(&db_path, raw).expect("write");
    fs::create_dir_all(staging.path().join("workspace")).expect("mkdir");
    fs::write(
        staging.path().join("workspace/AGENTS.md"),
        "from a damaged archive",
    )
    .expect("write");
    let corrupt = dir.join("corrupt-db.claw");
    let options = krill_claw::ExportOptions {
        progress: false,
        claw_py: None,
        ..Default::default()
    };
    krill_claw::export(staging.path(), &corrupt, &options).expect("export");

    vec![
        ("garbage", garbage),
        ("truncated", truncated),
        ("corrupt database", corrupt),
        ("missing file", dir.join("does-not-exist.claw")),
    ]
}

#[rstest]
fn a_bad_archive_fails_and_leaves_the_volume_as_it_was(live: Live) {
    let out = live.volume.path("snapshots");
    let good = written(
        snapshot::snapshot(&live.volume.paths(), &name(), &options(&out, None)).expect("snapshot"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    drop(live.db);
    let before = tree(&live.volume.data());
    for (what, archive) in bad_archives(dir.path(), &good) {
        let error = restore::restore(&live.volume.paths(), &archive)
            .expect_err(what)
            .to_string();
        assert!(
            error.contains(&archive.display().to_string()),
            "{what}: error does not name the archive: {error}"
        );
        assert_eq!(
            tree(&live.volume.data()),
            before,
            "{what}: the volume changed"
        );
    }
}

#[rstest]
fn the_binary_refuses_to_restore_under_a_running_gateway(live: Live) {
    let out = live.volume.path("snapshots");
    let good = written(
        snapshot::snapshot(&live.volume.paths(), &name(), &options(&out, None)).expect("snapshot"),
    );
    let lock =
        gateway::GatewayLock::acquire(&live.volume.paths()).expect("lock as a gateway would");
    let before = tree(&live.volume.paths().workspace());
    let output = live
        .volume
        .krill(&["restore", good.to_str().expect("utf-8")])
        .output()
        .expect("run krill");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("refusing to restore while the gateway runs"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", std::process::id())),
        "{stderr}"
    );
    assert_eq!(tree(&live.volume.paths().workspace()), before);
    drop(lock);
    let output = live
        .volume
        .krill(&["restore", good.to_str().expect("utf-8")])
        .output()
        .expect("run krill");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[rstest]
fn the_binary_snapshots_with_retention_and_reports_json(live: Live) {
    let out = live.volume.path("snapshots");
    let run = |args: &[&str]| {
        let output = live.volume.krill(args).output().expect("run krill");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("json on stdout")
    };
    let first = run(&[
        "snapshot",
        "--out",
        out.to_str().expect("utf-8"),
        "--keep",
        "1",
    ]);
    assert_eq!(first["outcome"], "written");
    let again = run(&[
        "snapshot",
        "--out",
        out.to_str().expect("utf-8"),
        "--keep",
        "1",
    ]);
    assert_eq!(again["outcome"], "unchanged");
    let forced = run(&[
        "snapshot",
        "--out",
        out.to_str().expect("utf-8"),
        "--keep",
        "1",
        "--force",
    ]);
    assert_eq!(forced["outcome"], "written");
    assert_eq!(forced["removed"][0], first["path"]);
    assert_eq!(snapshot::list(&out, &name()).expect("list").len(), 1);
}
