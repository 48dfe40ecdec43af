//! Hostile and broken archives: each is refused with a reason naming the entry, and the target
//! (missing, or existing with content) is left exactly as it was.

use crate::common;

use std::fs;
use std::io::Write;
use std::mem::discriminant;

use common::{RawEntry, leftovers, raw_zip, tree};
use krill_claw::{ClawError, ImportOptions, Limits, Refusal, import, info, verify_bytes};
use rstest::rstest;

fn zeros_deflated(n: usize) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; n]).expect("deflate");
    enc.finish().expect("deflate")
}

fn valid_archive() -> Vec<u8> {
    raw_zip(&[
        RawEntry::deflated(
            "manifest.json",
            br#"{"format":"openclaw-context","version":"0.1","context_files":["context/a.md"]}"#,
        ),
        RawEntry::deflated("context/a.md", &common::prose(4000, 7)),
    ])
}

/// Hostile archive, the limits to import it with, the entry that must be named, and the reason.
fn case(name: &str) -> (Vec<u8>, Limits, Option<&'static str>, Refusal) {
    let d = Limits::default();
    let any = String::new();
    match name {
        "parent" => (
            raw_zip(&[RawEntry::file("../evil.txt", b"x")]),
            d,
            Some("../evil.txt"),
            Refusal::ParentComponent,
        ),
        "nested-parent" => (
            raw_zip(&[RawEntry::file("context/../../evil", b"x")]),
            d,
            Some("context/../../evil"),
            Refusal::ParentComponent,
        ),
        "absolute" => (
            raw_zip(&[RawEntry::file("/tmp/evil", b"x")]),
            d,
            Some("/tmp/evil"),
            Refusal::AbsolutePath,
        ),
        "backslash" => (
            raw_zip(&[RawEntry::file("..\\evil", b"x")]),
            d,
            Some("..\\evil"),
            Refusal::Backslash,
        ),
        "drive" => (
            raw_zip(&[RawEntry::file("C:/evil", b"x")]),
            d,
            Some("C:/evil"),
            Refusal::DriveLetter,
        ),
        "symlink" => (
            raw_zip(&[RawEntry::file("context/link", b"/etc/passwd").mode(0o120777)]),
            d,
            Some("context/link"),
            Refusal::Symlink,
        ),
        "fifo" => (
            raw_zip(&[RawEntry::file("context/pipe", b"").mode(0o010644)]),
            d,
            Some("context/pipe"),
            Refusal::SpecialFile { kind: "" },
        ),
        "device" => (
            raw_zip(&[RawEntry::file("context/dev", b"").mode(0o020644)]),
            d,
            Some("context/dev"),
            Refusal::SpecialFile { kind: "" },
        ),
        "duplicate" => (
            raw_zip(&[
                RawEntry::file("context/a.md", b"one"),
                RawEntry::file("context/a.md", b"two"),
            ]),
            d,
            Some("context/a.md"),
            Refusal::Duplicate,
        ),
        "case-collision" => (
            raw_zip(&[
                RawEntry::file("context/Notes.md", b"one"),
                RawEntry::file("context/notes.md", b"two"),
            ]),
            d,
            Some("context/notes.md"),
            Refusal::CaseCollision { other: any },
        ),
        "case-collision-dir" => (
            raw_zip(&[
                RawEntry::file("Context/a", b"one"),
                RawEntry::file("context/b", b"two"),
            ]),
            d,
            Some("context/b"),
            Refusal::CaseCollision { other: any },
        ),
        "file-dir-clash" => (
            raw_zip(&[
                RawEntry::file("context/a/b", b"one"),
                RawEntry::file("context/a", b"two"),
            ]),
            d,
            Some("context/a"),
            Refusal::FileDirectoryClash { other: any },
        ),
        "too-many-entries" => (
            raw_zip(
                &(0..5)
                    .map(|i| RawEntry::file(format!("context/{i}"), b"x"))
                    .collect::<Vec<_>>(),
            ),
            Limits {
                max_entries: 4,
                ..d
            },
            None,
            Refusal::TooManyEntries { count: 0, limit: 0 },
        ),
        "total-too-large" => (
            raw_zip(&[
                RawEntry::file("context/a", &[7u8; 600]),
                RawEntry::file("context/b", &[7u8; 600]),
            ]),
            Limits {
                max_total_bytes: 1000,
                ..d
            },
            Some("context/b"),
            Refusal::TotalTooLarge { total: 0, limit: 0 },
        ),
        "ratio-bomb" => {
            let n = 16 << 20;
            let e = RawEntry {
                data: zeros_deflated(n),
                method: 8,
                ..RawEntry::file("context/zeros", &vec![0u8; n])
            };
            (
                raw_zip(&[e]),
                d,
                Some("context/zeros"),
                Refusal::RatioTooHigh { ratio: 0, limit: 0 },
            )
        }
        "lying-size-bomb" => {
            // Declares 10 bytes but inflates to 1 MiB: caught while decompressing, not trusted.
            let mut e = RawEntry::deflated("context/liar", &vec![0u8; 1 << 20]);
            e.uncompressed = 10;
            (
                raw_zip(&[e]),
                d,
                Some("context/liar"),
                Refusal::SizeMismatch {
                    declared: 0,
                    actual: any,
                },
            )
        }
        "overlapping" => {
            let first = RawEntry::file("context/a", b"shared data");
            let second = RawEntry {
                share_local_with: Some(0),
                ..RawEntry::file("context/b", b"shared data")
            };
            (
                raw_zip(&[first, second]),
                d,
                Some("context/b"),
                Refusal::Overlapping { other: any },
            )
        }
        "encrypted" => {
            let mut e = RawEntry::file("context/secret", b"xxxx");
            e.flags |= 1;
            (raw_zip(&[e]), d, Some("context/secret"), Refusal::Encrypted)
        }
        "aes" => {
            let e = RawEntry {
                method: 99,
                ..RawEntry::file("context/secret", b"xxxx")
            };
            (raw_zip(&[e]), d, Some("context/secret"), Refusal::Encrypted)
        }
        "unsupported-method" => {
            let e = RawEntry {
                method: 12,
                ..RawEntry::file("context/b.bz2", b"BZh")
            };
            (
                raw_zip(&[e]),
                d,
                Some("context/b.bz2"),
                Refusal::UnsupportedMethod(12),
            )
        }
        "truncated" => {
            let mut z = valid_archive();
            z.truncate(z.len() - 30);
            (z, d, None, Refusal::Truncated { detail: any })
        }
        "not-a-zip" => (
            common::noise(5000, 3),
            d,
            None,
            Refusal::Truncated { detail: any },
        ),
        "empty-file" => (Vec::new(), d, None, Refusal::Truncated { detail: any }),
        "corrupt-stored-data" => {
            let mut e = RawEntry::file("context/a", b"hello world");
            e.data[0] ^= 0xff;
            (
                raw_zip(&[e]),
                d,
                Some("context/a"),
                Refusal::CrcMismatch {
                    declared: 0,
                    actual: 0,
                },
            )
        }
        "corrupt-deflate" => {
            let e = RawEntry {
                data: vec![0xff, 0xff, 0xff, 0xff],
                method: 8,
                ..RawEntry::file("context/a", b"hello")
            };
            (
                raw_zip(&[e]),
                d,
                Some("context/a"),
                Refusal::BadDeflate { detail: any },
            )
        }
        "not-utf8" => (
            raw_zip(&[RawEntry::file(b"context/\xff\xfe.md", b"x")]),
            d,
            Some("context/\u{fffd}\u{fffd}.md"),
            Refusal::NotUtf8 { lossy: any },
        ),
        "local-name-mismatch" => {
            let e = RawEntry {
                local_name: Some(b"../evil".to_vec()),
                ..RawEntry::file("context/a", b"x")
            };
            (
                raw_zip(&[e]),
                d,
                Some("context/a"),
                Refusal::LocalHeaderMismatch { field: "" },
            )
        }
        "stored-size-mismatch" => {
            let mut e = RawEntry::file("context/a", b"hello");
            e.uncompressed = 1 << 20;
            (
                raw_zip(&[e]),
                d,
                Some("context/a"),
                Refusal::StoredSizeMismatch,
            )
        }
        other => panic!("no such case {other}"),
    }
}

#[rstest]
fn hostile_archive_is_refused_and_target_untouched(
    #[values(
        "parent",
        "nested-parent",
        "absolute",
        "backslash",
        "drive",
        "symlink",
        "fifo",
        "device",
        "duplicate",
        "case-collision",
        "case-collision-dir",
        "file-dir-clash",
        "too-many-entries",
        "total-too-large",
        "ratio-bomb",
        "lying-size-bomb",
        "overlapping",
        "encrypted",
        "aes",
        "unsupported-method",
        "truncated",
        "not-a-zip",
        "empty-file",
        "corrupt-stored-data",
        "corrupt-deflate",
        "not-utf8",
        "local-name-mismatch",
        "stored-size-mismatch"
    )]
    name: &str,
    #[values(false, true)] target_exists: bool,
) {
    let (bytes, limits, entry, reason) = case(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("hostile.claw");
    fs::write(&archive, &bytes).expect("write archive");
    let target = dir.path().join("target");
    if target_exists {
        common::write_file(&target, "context/a", b"precious");
        common::write_file(&target, "keep.md", b"keep me");
    }
    let before = if target_exists {
        Some(tree(&target))
    } else {
        None
    };
    let opts = ImportOptions {
        limits: limits.clone(),
        merge: true,
        progress: false,
        ..ImportOptions::default()
    };

    let err = import(&archive, &target, &opts).expect_err("hostile archive must be refused");
    let message = err.to_string();
    match &err {
        ClawError::Refused {
            entry: got,
            reason: got_reason,
            ..
        } => {
            assert_eq!(
                discriminant(got_reason),
                discriminant(&reason),
                "{name}: wrong reason: {message}"
            );
            assert_eq!(got.as_deref(), entry, "{name}: wrong entry: {message}");
        }
        other => panic!("{name}: expected a refusal, got {other:?}"),
    }
    if let Some(entry) = entry {
        assert!(
            message.contains(&format!("{entry:?}")),
            "{name}: message must name the entry: {message}"
        );
    }
    match before {
        Some(before) => assert_eq!(tree(&target), before, "{name}: existing target changed"),
        None => assert!(!target.exists(), "{name}: target was created"),
    }
    assert!(
        leftovers(dir.path()).is_empty(),
        "{name}: staging left behind: {:?}",
        leftovers(dir.path())
    );
    assert!(!dir.path().join("evil.txt").exists() && !dir.path().join("evil").exists());

    // The in-memory verifier agrees.
    let again = verify_bytes(&bytes, &limits).expect_err("verify_bytes must refuse too");
    assert_eq!(
        again.refusal().map(discriminant),
        Some(discriminant(&reason)),
        "{name}: verify_bytes: {again}"
    );
}

#[rstest]
#[case("parent")]
#[case("symlink")]
#[case("overlapping")]
#[case("not-utf8")]
fn info_refuses_structural_problems(#[case] name: &str) {
    let (bytes, _, _, reason) = case(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("hostile.claw");
    fs::write(&archive, &bytes).expect("write");
    let err = info(&archive).expect_err("info must refuse");
    assert_eq!(
        err.refusal().map(discriminant),
        Some(discriminant(&reason)),
        "{err}"
    );
}

#[test]
fn raised_limits_let_a_large_but_honest_archive_through() {
    let (bytes, _, _, _) = case("ratio-bomb");
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("zeros.claw");
    fs::write(&archive, &bytes).expect("write");
    let limits = Limits {
        max_ratio: 2000,
        ..Limits::default()
    };
    let opts = ImportOptions {
        limits,
        progress: false,
        ..ImportOptions::default()
    };
    let summary = import(&archive, &dir.path().join("t"), &opts).expect("import with raised ratio");
    assert_eq!(summary.bytes, 16 << 20);
    assert_eq!(
        fs::read(dir.path().join("t/context/zeros"))
            .expect("read")
            .len(),
        16 << 20
    );
}

#[test]
fn valid_hand_made_archive_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("ok.claw");
    fs::write(&archive, valid_archive()).expect("write");
    let summary =
        import(&archive, &dir.path().join("t"), &ImportOptions::default()).expect("import");
    assert_eq!(summary.files, 2);
    assert_eq!(
        fs::read(dir.path().join("t/context/a.md")).expect("read"),
        common::prose(4000, 7)
    );
}
