//! Interoperation with the real claw.py, both ways. claw.py is a git submodule that CI does not
//! fetch: without it these tests report themselves not run (krill_test_support::not_run) and
//! return; where it is present they must pass.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{noise, prose, tree, write_file};
use krill_claw::{ExportOptions, ImportOptions, export, import, info};

/// claw.py, or `None` after reporting the calling test as not run (it must then return).
fn claw_py_or_not_run() -> Option<std::path::PathBuf> {
    match common::claw_py() {
        Ok(p) => Some(p),
        Err(why) => {
            krill_test_support::not_run(why);
            None
        }
    }
}

fn python(claw_py: &Path, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new("python3")
        .arg(claw_py)
        .args(args)
        .output()
        .expect(
            "python3 must be installed to run claw.py (it is present, so these tests must run)",
        );
    assert!(
        out.status.success(),
        "claw.py {:?} failed: {}\n{}",
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn workspace(root: &Path) {
    write_file(root, "context/notes.md", b"# notes\n");
    write_file(
        root,
        "context/ünïcödé/ñame with spaces.md",
        "héllo".as_bytes(),
    );
    write_file(
        root,
        "context/transcripts/big.jsonl",
        &prose(3 * (1 << 20) + 99, 5),
    );
    write_file(root, "context/blobs/random.bin", &noise(1_500_000, 9));
    write_file(root, "context/blobs/photo.png", &noise(20_000, 10));
    write_file(root, "context/empty.txt", b"");
}

#[test]
fn claw_py_imports_what_we_export() {
    let Some(claw_py) = claw_py_or_not_run() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    workspace(&src);
    let archive = dir.path().join("ours.claw");
    let opts = ExportOptions {
        progress: false,
        claw_py: Some(claw_py.clone()),
        ..ExportOptions::default()
    };
    let summary = export(&src, &archive, &opts).expect("export");
    assert!(summary.claw_py_included);

    let target = dir.path().join("by-python");
    let stdout = python(
        &claw_py,
        &["import".as_ref(), archive.as_os_str(), target.as_os_str()],
    );
    assert!(stdout.contains("openclaw-context v0.1"), "{stdout}");
    assert!(stdout.contains("6 context file(s)"), "{stdout}");
    assert_eq!(tree(&target.join("context")), tree(&src.join("context")));
    assert_eq!(
        fs::read(target.join("claw.py")).expect("claw.py"),
        fs::read(&claw_py).expect("read")
    );

    let listing = python(&claw_py, &["info".as_ref(), archive.as_os_str()]);
    assert!(listing.contains("generator: krill-claw"), "{listing}");
    assert!(
        listing.contains("context/transcripts/big.jsonl"),
        "{listing}"
    );
}

#[test]
fn we_import_what_claw_py_exports() {
    let Some(claw_py) = claw_py_or_not_run() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    workspace(&src);
    let archive = dir.path().join("theirs.claw");
    python(
        &claw_py,
        &["export".as_ref(), src.as_os_str(), archive.as_os_str()],
    );

    let listed = info(&archive).expect("info");
    let manifest = listed.manifest.expect("claw.py writes a manifest");
    assert_eq!(manifest.generated_by, "claw.py");
    assert_eq!(manifest.context_files.len(), 6);

    let target = dir.path().join("by-us");
    let summary = import(
        &archive,
        &target,
        &ImportOptions {
            progress: false,
            ..ImportOptions::default()
        },
    )
    .expect("import");
    assert_eq!(
        summary.files, 10,
        "6 context files + manifest, README, SKILL, claw.py"
    );
    assert_eq!(tree(&target.join("context")), tree(&src.join("context")));
}

#[test]
fn both_tools_pack_the_same_entries_without_a_context_folder() {
    let Some(claw_py) = claw_py_or_not_run() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("flat");
    for name in ["manifest.json", "README.md", "claw.py", "SKILL.md"] {
        write_file(&src, name, b"stale generated file");
    }
    write_file(&src, "a.md", b"a");
    write_file(&src, "deep/er/b.md", b"b");
    write_file(
        &src,
        "deep/README.md",
        b"kept: only root-level names are skipped",
    );
    let ours = dir.path().join("ours.claw");
    let theirs = dir.path().join("theirs.claw");
    let opts = ExportOptions {
        progress: false,
        claw_py: Some(claw_py.clone()),
        ..ExportOptions::default()
    };
    export(&src, &ours, &opts).expect("export");
    python(
        &claw_py,
        &["export".as_ref(), src.as_os_str(), theirs.as_os_str()],
    );
    let names = |p: &Path| -> Vec<String> {
        info(p)
            .expect("info")
            .entries
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert_eq!(names(&ours), names(&theirs));
    let m_ours = info(&ours).expect("info").manifest.expect("manifest");
    let mut m_theirs = info(&theirs)
        .expect("info")
        .manifest
        .expect("manifest")
        .context_files;
    m_theirs.sort();
    assert_eq!(m_ours.context_files, m_theirs);
}

#[test]
fn claw_py_re_exports_what_we_imported() {
    let Some(claw_py) = claw_py_or_not_run() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    workspace(&src);
    let first = dir.path().join("first.claw");
    export(
        &src,
        &first,
        &ExportOptions {
            progress: false,
            ..ExportOptions::default()
        },
    )
    .expect("export");
    let unpacked = dir.path().join("unpacked");
    import(
        &first,
        &unpacked,
        &ImportOptions {
            progress: false,
            ..ImportOptions::default()
        },
    )
    .expect("import");
    // The unpacked directory has context/, so claw.py packs just that, as the SKILL.md says.
    let second = dir.path().join("second.claw");
    python(
        &claw_py,
        &["export".as_ref(), unpacked.as_os_str(), second.as_os_str()],
    );
    let again = dir.path().join("again");
    import(
        &second,
        &again,
        &ImportOptions {
            progress: false,
            ..ImportOptions::default()
        },
    )
    .expect("import");
    assert_eq!(tree(&again.join("context")), tree(&src.join("context")));
}
