use std::io::Write;
use std::path::Path;

/// When set, [`not_run`] appends one line per test that could not run to this file, so the test
/// command can leave those tests out of its passed count (scripts/dev sets it per phase).
pub const NOT_RUN_LOG_ENV: &str = "KRILL_NOT_RUN_LOG";

/// Reports that the calling test could not run here, and why; the test then returns. libtest has
/// no "skipped" outcome, so the test shows as `ok`: this note is what keeps it from counting as
/// passed. Prints `NOT RUN: <reason>` to stderr and, when `KRILL_NOT_RUN_LOG` is set, appends
/// `<test binary> <test name>: <reason>` to that file.
pub fn not_run(reason: impl std::fmt::Display) {
    let log = std::env::var_os(NOT_RUN_LOG_ENV).filter(|v| !v.is_empty());
    report(log.as_deref().map(Path::new), &reason.to_string());
}

fn report(log: Option<&Path>, reason: &str) {
    eprintln!("NOT RUN: {reason}");
    if let Some(log) = log {
        let line = format!("{} {}: {reason}\n", test_binary(), test_name());
        // One write of one line with O_APPEND: tests on parallel threads do not interleave.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        // A lost line would count a test that did not run as passed: that must fail loudly.
        if let Err(err) = written {
            panic!(
                "cannot append to {NOT_RUN_LOG_ENV}={}: {err}",
                log.display()
            );
        }
    }
}

/// The test executable's name without cargo's `-<hash>` suffix (`claw`, `krill_helper`, ...).
fn test_binary() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(|path| path.file_stem())
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    strip_hash(&stem).to_owned()
}

fn strip_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => stem,
    }
}

/// libtest runs each test on a thread named after it (`module::test`).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unknown")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_cargos_hash_only() {
        assert_eq!(strip_hash("claw-0123456789abcdef"), "claw");
        assert_eq!(
            strip_hash("krill_test_support-fedcba9876543210"),
            "krill_test_support"
        );
        assert_eq!(strip_hash("stand-in"), "stand-in");
    }

    #[test]
    fn the_test_name_is_the_thread_name() {
        assert_eq!(
            test_name(),
            "not_run::tests::the_test_name_is_the_thread_name"
        );
    }

    #[test]
    fn appends_one_line_naming_binary_test_and_reason() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("not-run.log");
        std::fs::write(&log, "earlier line\n")?;
        report(Some(&log), "no claw.py here");
        assert_eq!(
            std::fs::read_to_string(&log)?,
            "earlier line\nkrill_test_support \
             not_run::tests::appends_one_line_naming_binary_test_and_reason: no claw.py here\n"
        );
        Ok(())
    }

    #[test]
    fn an_unwritable_log_fails_the_test() {
        let missing = Path::new("/nonexistent/krill/not-run.log");
        let caught = std::panic::catch_unwind(|| report(Some(missing), "x"));
        assert!(
            caught.is_err(),
            "a lost NOT RUN line must not pass silently"
        );
    }
}
