//! The `krill claw` command line through the library entry point the helper binary mounts.

use crate::common;

use std::fs;

use clap::Parser;
use common::write_file;
use krill_claw::cli::{ClawArgs, run_with_output};

#[derive(Parser)]
struct Krill {
    #[command(subcommand)]
    command: Top,
}

/// Mirrors how the helper mounts it: `krill claw ...`.
#[derive(clap::Subcommand)]
enum Top {
    Claw(ClawArgs),
}

fn run(args: &[&str]) -> anyhow::Result<String> {
    let parsed = Krill::try_parse_from(std::iter::once("krill").chain(args.iter().copied()))?;
    let Top::Claw(claw) = parsed.command;
    let mut out = Vec::new();
    run_with_output(claw, &mut out)?;
    Ok(String::from_utf8(out)?)
}

#[test]
fn export_import_info_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_file(&d.join("ws"), "context/a.md", b"alpha");
    let ws = d.join("ws");
    let out_base = d.join("snap"); // no extension: `.claw` gets appended, like claw.py
    let text = run(&[
        "claw",
        "export",
        "--no-progress",
        ws.to_str().unwrap_or_default(),
        out_base.to_str().unwrap_or_default(),
    ])
    .expect("export");
    assert!(text.contains("1 context file(s)"), "{text}");
    let archive = d.join("snap.claw");
    assert!(archive.is_file());

    let text = run(&["claw", "info", archive.to_str().unwrap_or_default()]).expect("info");
    assert!(text.contains("context/a.md  (5 bytes)"), "{text}");
    assert!(text.contains("format:  openclaw-context v0.1"), "{text}");

    let json = run(&[
        "claw",
        "info",
        "--json",
        archive.to_str().unwrap_or_default(),
    ])
    .expect("info --json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["manifest"]["context_files"][0], "context/a.md");
    assert!(v["entries"].as_array().is_some_and(|e| {
        e.iter()
            .any(|e| e["name"] == "context/a.md" && e["size"] == 5)
    }));

    let target = d.join("restored");
    let text = run(&[
        "claw",
        "import",
        "--no-progress",
        archive.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ])
    .expect("import");
    assert!(text.contains("into:"), "{text}");
    assert_eq!(
        fs::read(target.join("context/a.md")).expect("read"),
        b"alpha"
    );

    // A second import into the now non-empty target needs --merge.
    let err = run(&[
        "claw",
        "import",
        "--no-progress",
        archive.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ])
    .expect_err("non-empty target");
    assert!(err.to_string().contains("--merge"), "{err}");
    run(&[
        "claw",
        "import",
        "--merge",
        "--no-progress",
        archive.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ])
    .expect("merge");
}

#[test]
fn limit_flags_take_sizes_and_are_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_file(&d.join("ws"), "context/a.md", &vec![b'a'; 4096]);
    let ws = d.join("ws");
    let archive = d.join("ws.claw");
    run(&[
        "claw",
        "export",
        "--no-progress",
        ws.to_str().unwrap_or_default(),
        archive.to_str().unwrap_or_default(),
    ])
    .expect("export");
    let target = d.join("t");
    let err = run(&[
        "claw",
        "import",
        "--no-progress",
        "--max-total-bytes",
        "1K",
        archive.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ])
    .expect_err("over the total limit");
    assert!(err.to_string().contains("--max-total-bytes"), "{err}");
    let err = run(&[
        "claw",
        "import",
        "--max-entries",
        "2",
        archive.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ])
    .expect_err("over the entry limit");
    assert!(err.to_string().contains("--max-entries"), "{err}");
    assert!(!target.exists());
    let bad = Krill::try_parse_from([
        "krill",
        "claw",
        "import",
        "--max-total-bytes",
        "12Q",
        "x.claw",
    ]);
    assert!(bad.is_err(), "bad size must be rejected by the parser");
    run(&[
        "claw",
        "import",
        "--no-progress",
        "--max-total-bytes",
        "1M",
        archive.to_str().unwrap_or_default(),
        target.to_str().unwrap_or_default(),
    ])
    .expect("within raised limits");
}

#[test]
fn missing_archive_is_a_clear_error() {
    let err = run(&["claw", "info", "/nonexistent/x.claw"]).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/x.claw"), "{err}");
}
