//! Shared by the helper's integration tests: finding the real tools, temp volumes, processes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const KRILL: &str = env!("CARGO_BIN_EXE_krill");

fn pinned_versions() -> krill_test_support::Versions {
    krill_test_support::Versions::load().unwrap_or_else(|e| panic!("{e}"))
}

fn pin<'a>(versions: &'a krill_test_support::Versions, key: &str) -> &'a str {
    versions.get(key).unwrap_or_else(|e| panic!("{e}"))
}

/// A tool's bin dir: `$var` (set by `scripts/dev`), else the pinned cache location. Fails the test,
/// naming the variable and the installer, when the tool is in neither.
fn tool_dir(var: &str, cache_dir: PathBuf, exe: &str, installer: &str) -> PathBuf {
    let (dir, origin) = match std::env::var(var) {
        Ok(dir) if !dir.is_empty() => (PathBuf::from(dir), var.to_owned()),
        _ => (
            cache_dir,
            format!("{var} is unset and the default cache location"),
        ),
    };
    assert!(
        dir.join(exe).is_file(),
        "{exe} not found: {origin} {} has no {exe}. Run `scripts/dev test` (it sets {var}) or `{installer}`.",
        dir.display()
    );
    dir
}

/// The dir holding `node` and `openclaw` (scripts/tools/openclaw.sh).
pub fn openclaw_bin() -> PathBuf {
    let v = pinned_versions();
    let cache = krill_test_support::cache_root()
        .join("openclaw")
        .join(format!(
            "{}-node{}",
            pin(&v, "OPENCLAW_VERSION"),
            pin(&v, "NODE_VERSION")
        ))
        .join("bin");
    tool_dir(
        "KRILL_OPENCLAW_BIN",
        cache,
        "openclaw",
        "scripts/tools/openclaw.sh",
    )
}

/// The venv bin dir holding `litellm` (scripts/tools/python-tools.sh litellm).
pub fn litellm_bin() -> PathBuf {
    let v = pinned_versions();
    let cache = krill_test_support::cache_root()
        .join("litellm")
        .join(pin(&v, "LITELLM_VERSION"))
        .join("bin");
    tool_dir(
        "KRILL_LITELLM_BIN",
        cache,
        "litellm",
        "scripts/tools/python-tools.sh litellm",
    )
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A krill's world in a temp dir: every /krill/* root moved there by KRILL_* variables.
pub struct Volume {
    pub root: tempfile::TempDir,
}

impl Volume {
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        for dir in ["config/overrides", "context", "home", "snapshots"] {
            fs::create_dir_all(root.path().join(dir)).expect("mkdir");
        }
        Volume { root }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    pub fn data(&self) -> PathBuf {
        self.path("data")
    }

    pub fn paths(&self) -> krill_helper::paths::Paths {
        krill_helper::paths::Paths::from_env(&self.env().into_iter().collect())
    }

    /// The variables a pod gets from the chart, plus the path overrides.
    pub fn env(&self) -> Vec<(String, String)> {
        let me = nix::unistd::Uid::effective().as_raw().to_string();
        let group = nix::unistd::Gid::effective().as_raw().to_string();
        [
            ("KRILL_NAME", "alice".to_owned()),
            ("KRILL_DATA", self.path("data").display().to_string()),
            (
                "KRILL_CONFIG_DIR",
                self.path("config").display().to_string(),
            ),
            (
                "KRILL_CONTEXT_DIR",
                self.path("context").display().to_string(),
            ),
            ("KRILL_RUN_DIR", self.path("run").display().to_string()),
            (
                "KRILL_SNAPSHOT_DIR",
                self.path("snapshots").display().to_string(),
            ),
            // Whether a snapshot is written must not depend on how full this machine's disk is;
            // the free-space guard's tests pass their own --min-free-percent.
            ("KRILL_SNAPSHOT_MIN_FREE_PERCENT", "0".to_owned()),
            // The gateway runs as whoever runs the tests, so the volume must belong to them.
            ("KRILL_UID", me),
            ("KRILL_GID", group),
            ("HOME", self.path("home").display().to_string()),
            ("OPENCLAW_API_BASE", "http://127.0.0.1:9/v1".to_owned()),
            ("OPENCLAW_MODEL", "krill-model".to_owned()),
            ("OPENCLAW_API_KEY", "sk-krill-test-key".to_owned()),
            ("OPENCLAW_GATEWAY_TOKEN", "gateway-test-token".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// `krill <args>` with this volume's environment (and nothing else from ours but PATH).
    pub fn krill(&self, args: &[&str]) -> Command {
        self.krill_from(Path::new(KRILL), args)
    }

    /// Like [`Volume::krill`], running the helper binary at `binary`.
    pub fn krill_from(&self, binary: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_clear()
            .envs(self.env())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command
    }
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Running {
    pub name: &'static str,
    pub child: Child,
}

impl Running {
    pub fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        self.child.wait().ok();
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate(Duration::from_secs(10));
        }
    }
}

/// Every regular file under `root` with its bytes, for "nothing changed" comparisons.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let bytes = if e.file_type().is_file() {
                fs::read(e.path()).expect("read")
            } else {
                b"<dir>".to_vec()
            };
            (
                e.path().strip_prefix(root).expect("under root").to_owned(),
                bytes,
            )
        })
        .collect()
}
