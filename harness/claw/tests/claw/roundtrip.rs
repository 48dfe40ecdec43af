//! Export -> import gives back exactly the source tree; export/import semantics (context/ or
//! the directory itself, atomic output, target rules).

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{leftovers, noise, prose, tree, write_file};
use krill_claw::{ClawError, ExportOptions, ImportOptions, export, import, info};
use proptest::prelude::*;

fn quiet_export() -> ExportOptions {
    ExportOptions {
        progress: false,
        threads: 2,
        ..ExportOptions::default()
    }
}

fn quiet_import() -> ImportOptions {
    ImportOptions {
        progress: false,
        threads: 2,
        ..ImportOptions::default()
    }
}

/// Files of a generated tree: lowercase names only, and no path is a prefix of another, so the
/// tree is always exportable.
fn file_tree() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    let component = "[a-z0-9_ü-]{1,8}(\\.[a-z]{1,3})?";
    let path = prop::collection::vec(component, 1..4).prop_map(|parts| parts.join("/"));
    let content = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (0usize..40_000, any::<u64>()).prop_map(|(n, s)| prose(n, s)),
        (0usize..40_000, any::<u64>()).prop_map(|(n, s)| noise(n, s)),
    ];
    prop::collection::btree_map(path, content, 0..24).prop_map(|mut files| {
        let names: Vec<String> = files.keys().cloned().collect();
        files.retain(|k, _| {
            !names
                .iter()
                .any(|other| other.starts_with(&format!("{k}/")))
        });
        files
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn export_then_import_gives_back_the_tree(files in file_tree(), empty_dirs in prop::collection::vec("[a-z]{1,6}", 0..3)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("context")).expect("mkdir");
        for (rel, content) in &files {
            write_file(&src.join("context"), rel, content);
        }
        for d in &empty_dirs {
            let p = src.join("context").join(format!("empty-{d}"));
            fs::create_dir_all(p).expect("mkdir");
        }
        let out = dir.path().join("out.claw");
        let summary = export(&src, &out, &quiet_export()).expect("export");
        let mut expected_files: Vec<String> = files.keys().map(|k| format!("context/{k}")).collect();
        expected_files.sort();
        prop_assert_eq!(&summary.manifest.context_files, &expected_files);

        let target = dir.path().join("imported");
        import(&out, &target, &quiet_import()).expect("import");
        let got = tree(&target.join("context"));
        let want = tree(&src.join("context"));
        prop_assert_eq!(got, want);
        for generated in ["manifest.json", "README.md", "SKILL.md"] {
            prop_assert!(target.join(generated).is_file(), "{} missing", generated);
        }
    }
}

#[test]
fn large_files_stream_in_chunks_and_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    // Over one 1 MiB chunk, not a multiple of it; one compressible, one not; one exactly 1 MiB.
    write_file(&src, "context/big.txt", &prose(5 * (1 << 20) + 12345, 1));
    write_file(&src, "context/big.bin", &noise(3 * (1 << 20) + 7, 2));
    write_file(&src, "context/exact.txt", &prose(1 << 20, 3));
    write_file(&src, "context/empty", b"");
    let out = dir.path().join("big.claw");
    let summary = export(&src, &out, &quiet_export()).expect("export");
    assert!(
        summary.archive_bytes < summary.bytes_read,
        "text must compress: {summary:?}"
    );
    assert!(
        summary.stored_entries >= 2,
        "random data and the empty file are stored: {summary:?}"
    );
    let listed = info(&out).expect("info");
    let bin = listed
        .entries
        .iter()
        .find(|e| e.name == "context/big.bin")
        .expect("big.bin listed");
    assert_eq!(
        bin.compressed_size, bin.size,
        "incompressible data is stored, not deflated"
    );
    let target = dir.path().join("t");
    import(&out, &target, &quiet_import()).expect("import");
    assert_eq!(tree(&target.join("context")), tree(&src.join("context")));
}

#[test]
fn without_context_folder_the_directory_itself_is_packed_minus_generated_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("flat");
    for name in ["manifest.json", "README.md", "claw.py", "SKILL.md"] {
        write_file(&src, name, b"generated, must be skipped");
    }
    write_file(&src, "notes.md", b"mine");
    write_file(
        &src,
        "sub/README.md",
        b"nested generated-looking names are kept",
    );
    let out = dir.path().join("flat.claw");
    let summary = export(&src, &out, &quiet_export()).expect("export");
    assert_eq!(
        summary.manifest.context_files,
        vec!["context/notes.md", "context/sub/README.md"]
    );
}

#[test]
fn with_context_folder_only_it_is_packed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    write_file(&src, "context/a.md", b"a");
    write_file(&src, "outside.md", b"not packed");
    let out = dir.path().join("ws.claw");
    let summary = export(&src, &out, &quiet_export()).expect("export");
    assert_eq!(summary.manifest.context_files, vec!["context/a.md"]);
}

#[test]
fn symlinks_and_the_output_itself_are_skipped_with_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    write_file(&src, "context/a.md", b"a");
    std::os::unix::fs::symlink("/etc/hostname", src.join("context/link")).expect("symlink");
    let out = src.join("context/self.claw");
    export(&src, &out, &quiet_export()).expect("first export");
    let summary = export(&src, &out, &quiet_export()).expect("second export, output inside source");
    assert_eq!(summary.manifest.context_files, vec!["context/a.md"]);
    assert!(
        summary.warnings.iter().any(|w| w.contains("symbolic link")),
        "{:?}",
        summary.warnings
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("output archive")),
        "{:?}",
        summary.warnings
    );
}

#[test]
fn case_colliding_source_names_are_refused_at_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    write_file(&src, "context/Notes.md", b"a");
    write_file(&src, "context/notes.md", b"b");
    let out = dir.path().join("ws.claw");
    let err = export(&src, &out, &quiet_export()).expect_err("must refuse");
    assert!(matches!(err, ClawError::Unexportable { .. }), "{err}");
    assert!(err.to_string().contains("Notes.md"), "{err}");
    assert!(!out.exists());
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn failed_export_leaves_no_file_and_keeps_the_old_archive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    write_file(&src, "context/a.md", b"a");
    let out = dir.path().join("ws.claw");
    fs::write(&out, b"previous archive").expect("write");
    let err =
        export(&dir.path().join("missing"), &out, &quiet_export()).expect_err("missing source");
    assert!(matches!(err, ClawError::SourceNotADirectory(_)), "{err}");
    assert_eq!(fs::read(&out).expect("read"), b"previous archive");
    let err = export(
        &src,
        &dir.path().join("no/such/dir/x.claw"),
        &quiet_export(),
    )
    .expect_err("missing output dir");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn export_replaces_an_existing_archive_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    write_file(&src, "context/a.md", b"new");
    let out = dir.path().join("ws.claw");
    fs::write(&out, b"old").expect("write");
    export(&src, &out, &quiet_export()).expect("export");
    assert!(
        info(&out)
            .expect("info")
            .entries
            .iter()
            .any(|e| e.name == "context/a.md")
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

fn sample_archive(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    write_file(&src, "context/a.md", b"from archive");
    write_file(&src, "context/sub/b.md", b"b");
    let out = dir.join("s.claw");
    export(&src, &out, &quiet_export()).expect("export");
    out
}

#[test]
fn non_empty_target_is_refused_without_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = sample_archive(dir.path());
    let target = dir.path().join("t");
    write_file(&target, "mine.md", b"mine");
    let err = import(&archive, &target, &quiet_import()).expect_err("must refuse");
    assert!(matches!(err, ClawError::TargetNotEmpty(_)), "{err}");
    assert!(err.to_string().contains("--merge"), "{err}");
    assert_eq!(tree(&target).len(), 1);
}

#[test]
fn merge_overwrites_same_names_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = sample_archive(dir.path());
    let target = dir.path().join("t");
    write_file(&target, "mine.md", b"mine");
    write_file(&target, "context/a.md", b"old");
    let opts = ImportOptions {
        merge: true,
        ..quiet_import()
    };
    let summary = import(&archive, &target, &opts).expect("merge");
    assert!(summary.merged);
    assert_eq!(fs::read(target.join("mine.md")).expect("read"), b"mine");
    assert_eq!(
        fs::read(target.join("context/a.md")).expect("read"),
        b"from archive"
    );
    assert_eq!(
        fs::read(target.join("context/sub/b.md")).expect("read"),
        b"b"
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn merge_refuses_to_replace_a_directory_or_follow_a_symlink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = sample_archive(dir.path());
    let target = dir.path().join("t");
    write_file(
        &target,
        "context/a.md/inner",
        b"a directory where the archive has a file",
    );
    let opts = ImportOptions {
        merge: true,
        ..quiet_import()
    };
    let err = import(&archive, &target, &opts).expect_err("conflict");
    assert!(matches!(err, ClawError::MergeConflict { .. }), "{err}");
    assert!(leftovers(dir.path()).is_empty());

    let target2 = dir.path().join("t2");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    fs::create_dir_all(&target2).expect("mkdir");
    std::os::unix::fs::symlink(&outside, target2.join("context")).expect("symlink");
    let err = import(&archive, &target2, &opts).expect_err("symlink in target");
    assert!(
        matches!(
            err,
            ClawError::MergeConflict {
                existing: "symbolic link",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        tree(&outside).is_empty(),
        "nothing may be written through the link"
    );
}

#[test]
fn empty_existing_target_is_filled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = sample_archive(dir.path());
    let target = dir.path().join("t");
    fs::create_dir_all(&target).expect("mkdir");
    let summary = import(&archive, &target, &quiet_import()).expect("import");
    assert!(!summary.merged);
    assert_eq!(
        fs::read(target.join("context/a.md")).expect("read"),
        b"from archive"
    );
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn imported_directory_is_not_left_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = sample_archive(dir.path());
    let fresh = dir.path().join("fresh");
    import(&archive, &fresh, &quiet_import()).expect("import");
    assert_eq!(
        fs::metadata(&fresh).expect("stat").permissions().mode() & 0o777,
        0o755
    );
    let existing = dir.path().join("existing");
    fs::create_dir(&existing).expect("mkdir");
    fs::set_permissions(&existing, fs::Permissions::from_mode(0o750)).expect("chmod");
    import(&archive, &existing, &quiet_import()).expect("import");
    assert_eq!(
        fs::metadata(&existing).expect("stat").permissions().mode() & 0o777,
        0o750
    );
}

#[test]
fn durable_import_works_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = sample_archive(dir.path());
    let target = dir.path().join("deep/er/t");
    let opts = ImportOptions {
        durable: true,
        ..quiet_import()
    };
    import(&archive, &target, &opts).expect("import");
    assert_eq!(
        fs::read(target.join("context/sub/b.md")).expect("read"),
        b"b"
    );
}

#[test]
fn executable_bit_survives() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    write_file(&src, "context/run.sh", b"#!/bin/sh\n");
    fs::set_permissions(
        src.join("context/run.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let out = dir.path().join("x.claw");
    export(&src, &out, &quiet_export()).expect("export");
    let target = dir.path().join("t");
    import(&out, &target, &quiet_import()).expect("import");
    let mode = fs::metadata(target.join("context/run.sh"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o100, 0o100, "mode {mode:o}");
}

#[test]
fn the_final_name_only_ever_holds_a_complete_archive() {
    // An observer polling the output path while a multi-megabyte export runs must never see a
    // partial file: it sees nothing (or the old archive) until the complete one is renamed in.
    // That is what a kill at any instant would leave behind.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    for i in 0..40 {
        write_file(&src, &format!("context/f{i}.txt"), &prose(400_000, i));
    }
    write_file(&src, "context/big.bin", &noise(8 << 20, 1));
    let out = dir.path().join("out.claw");
    fs::write(&out, b"old archive").expect("write");
    let done = std::sync::atomic::AtomicBool::new(false);
    let seen: Vec<u64> = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(m) = fs::metadata(&out) {
                    seen.push(m.len());
                }
                std::thread::yield_now();
            }
            seen
        });
        export(&src, &out, &quiet_export()).expect("export");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        watcher.join().expect("watcher")
    });
    let final_len = fs::metadata(&out).expect("stat").len();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|&len| len == b"old archive".len() as u64 || len == final_len),
        "observed a partial archive: sizes {:?}",
        seen.iter().collect::<std::collections::BTreeSet<_>>()
    );
    assert!(info(&out).is_ok());
}

#[test]
fn an_empty_context_comes_back_as_an_empty_context_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ws");
    fs::create_dir_all(src.join("context")).expect("mkdir");
    let out = dir.path().join("ws.claw");
    let summary = export(&src, &out, &quiet_export()).expect("export");
    assert!(summary.manifest.context_files.is_empty());
    let target = dir.path().join("t");
    import(&out, &target, &quiet_import()).expect("import");
    assert!(target.join("context").is_dir());
}
