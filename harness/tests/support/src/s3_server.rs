//! A real S3-compatible server for the object-store tests: SeaweedFS's `weed mini`, started
//! through the project's own `scripts/tools/seaweedfs.sh serve`, once per test binary and shared by
//! its tests (each test works under its own krill name). The server dies with the test process:
//! it is started with a parent-death signal from a thread that lives as long as the process.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::paths::{cache_root, repo_root};
use crate::versions::Versions;

/// Where a test finds the server, and who it is there.
#[derive(Debug, Clone)]
pub struct S3Server {
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// A bucket created at start.
    pub bucket: String,
    /// The server's directory (its `weed.log` is there).
    pub dir: PathBuf,
}

pub const S3_ACCESS_KEY_ID: &str = "krilltestaccess";
pub const S3_SECRET_ACCESS_KEY: &str = "krill-test-secret-not-for-production";
pub const S3_BUCKET: &str = "krill-snapshots";

/// The directory holding `weed`: `KRILL_SEAWEEDFS_BIN` (scripts/dev), else its pinned cache entry.
/// Panics naming both when neither has it: a missing tool is a broken setup, not a skip.
pub fn seaweedfs_bin() -> PathBuf {
    let from_env = std::env::var_os("KRILL_SEAWEEDFS_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let dir = from_env.unwrap_or_else(|| {
        let version = Versions::load()
            .and_then(|v| v.get("SEAWEEDFS_VERSION").map(str::to_owned))
            .unwrap_or_else(|e| panic!("{e}"));
        cache_root().join("weed").join(version).join("bin")
    });
    assert!(
        dir.join("weed").is_file(),
        "weed not found in {} (KRILL_SEAWEEDFS_BIN or the cache). Run `scripts/dev tools` (sets \
         KRILL_SEAWEEDFS_BIN) or `scripts/tools/seaweedfs.sh`.",
        dir.display()
    );
    dir
}

/// The shared server, started on first use; `Err` says why it could not start (the caller
/// reports NOT RUN with it).
pub fn s3_server() -> Result<&'static S3Server, String> {
    static SERVER: OnceLock<Result<S3Server, String>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

fn start() -> Result<S3Server, String> {
    let bin = seaweedfs_bin();
    // Kept for the life of the process: the server's data and its log.
    let dir = tempfile::Builder::new()
        .prefix("krill-seaweedfs-")
        .tempdir()
        .map_err(|e| format!("creating a directory for weed: {e}"))?
        .keep();
    let port = free_port()?;
    let server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key_id: S3_ACCESS_KEY_ID.to_owned(),
        secret_access_key: S3_SECRET_ACCESS_KEY.to_owned(),
        bucket: S3_BUCKET.to_owned(),
        dir: dir.clone(),
    };
    let script = repo_root().join("scripts/tools/seaweedfs.sh");
    let log = std::fs::File::create(dir.join("weed.log"))
        .map_err(|e| format!("creating {}/weed.log: {e}", dir.display()))?;
    let log_err = log.try_clone().map_err(|e| format!("weed.log: {e}"))?;
    let mut command = Command::new("bash");
    command
        .arg(&script)
        .args(["serve"])
        .arg(&dir)
        .arg(port.to_string())
        .args([S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY])
        .env("KRILL_SEAWEEDFS_BIN", &bin)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // The parent-death signal fires when the thread that forked exits, so the fork happens on a
    // thread that never does; the script execs weed, which keeps the signal.
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("krill-seaweedfs".to_owned())
        .spawn(move || {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                command.pre_exec(|| {
                    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                        .map_err(std::io::Error::from)
                });
            }
            let spawned = command.spawn();
            let ok = spawned.is_ok();
            let _ = send.send(spawned.map_err(|e| format!("starting bash for seaweedfs.sh: {e}")));
            if ok {
                loop {
                    std::thread::park();
                }
            }
        })
        .map_err(|e| format!("starting the thread that runs weed: {e}"))?;
    let mut child = receive
        .recv()
        .map_err(|_| "the thread that runs weed ended".to_owned())??;
    // weed mini starts master, volume, filer and gateway one after the other: seconds, more on
    // a busy machine.
    let deadline = Instant::now() + Duration::from_secs(120);
    let address = format!("127.0.0.1:{port}");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "weed exited ({status}) before answering; its log: {}",
                tail(&dir.join("weed.log"))
            ));
        }
        if TcpStream::connect(&address).is_ok() && create_bucket(&server, &script) {
            return Ok(server);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!(
                "weed did not serve S3 on {address} within 120 s; its log: {}",
                tail(&dir.join("weed.log"))
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The gateway answers before the filer behind it can store anything: creating the bucket only
/// succeeds once the whole chain is up (`seaweedfs.sh bucket`).
fn create_bucket(server: &S3Server, script: &std::path::Path) -> bool {
    Command::new("bash")
        .arg(script)
        .arg("bucket")
        .args([
            &server.endpoint,
            &server.access_key_id,
            &server.secret_access_key,
            &server.bucket,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
