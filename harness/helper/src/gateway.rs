//! Hands the process over to the OpenClaw gateway, and knows whether one is running.
//!
//! `krill run` takes an exclusive flock on `/krill/data/.krill/gateway.lock` and passes the open
//! descriptor through `exec`, so the lock lives exactly as long as the gateway (and any child it
//! leaves behind). `krill restore` refuses while the lock is held, which is how it knows the
//! gateway has its SQLite databases open.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::{FcntlArg, FdFlag, Flock, FlockArg, fcntl};

use crate::paths::{Paths, Settings};
use crate::token::{GatewayToken, TOKEN_VARIABLE};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("a gateway is already running on this volume (pid {pid} holds {path}); stop it first")]
    Running { path: PathBuf, pid: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot exec {program}: {source}")]
    Exec { program: String, source: io::Error },
}

/// The gateway command line and the environment `krill run` adds to its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Started as root, the gateway drops to the volume's owner: OpenClaw refuses state
    /// directories that belong to another user ("device identity coordinator directory belongs
    /// to another user"), and it has no business running as root anyway.
    pub run_as: Option<(u32, u32)>,
    /// A token read from a file, added to the gateway's environment (never displayed). A token
    /// already in the environment is simply inherited.
    pub gateway_token: Option<GatewayToken>,
    /// Credentials the keeper handed over, added to the gateway's environment (never displayed).
    pub delivered: Delivered,
}

/// Environment variables holding secrets: `{:?}` and `--dry-run` show their names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Delivered(pub Vec<(String, String)>);

impl std::fmt::Debug for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Launch {
    pub fn new(paths: &Paths, settings: &Settings) -> Self {
        Launch {
            program: settings.openclaw.clone(),
            args: [
                "gateway",
                "run",
                "--port",
                &settings.port.to_string(),
                "--bind",
                "lan",
            ]
            .map(str::to_owned)
            .to_vec(),
            env: vec![
                (
                    "OPENCLAW_CONFIG_PATH".to_owned(),
                    paths.rendered_config().display().to_string(),
                ),
                (
                    "OPENCLAW_STATE_DIR".to_owned(),
                    paths.state().display().to_string(),
                ),
                // Kubernetes supervises the gateway. Without this, a failed start launches
                // OpenClaw's "automatic triage": an agent turn, on the krill's model, that edits
                // the OpenClaw installation; it also turns off self-update and service mutation.
                ("OPENCLAW_SUPERVISOR_MODE".to_owned(), "external".to_owned()),
                (
                    "XDG_CONFIG_HOME".to_owned(),
                    paths.config_home().display().to_string(),
                ),
            ]
            .into_iter()
            .chain(node_options(settings).map(|v| ("NODE_OPTIONS".to_owned(), v)))
            .collect(),
            run_as: (nix::unistd::Uid::effective().is_root() && settings.uid != 0)
                .then_some((settings.uid, settings.gid)),
            gateway_token: None,
            delivered: Delivered::default(),
        }
    }

    /// Hands secrets delivered by the keeper to the gateway.
    pub fn with_delivered(mut self, delivered: Delivered) -> Self {
        self.delivered = delivered;
        self
    }

    /// Hands `token` to the gateway, unless it inherits it from the environment anyway.
    pub fn with_token(mut self, token: Option<GatewayToken>) -> Self {
        self.gateway_token = token.filter(|t| t.file().is_some());
        self
    }

    /// A shell-like rendering for `--dry-run`; environment values here are paths, never secrets,
    /// and a token from a file shows as the command that reads it.
    pub fn display(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        if let Some(file) = self.gateway_token.as_ref().and_then(GatewayToken::file) {
            words.push(format!(
                "{TOKEN_VARIABLE}=\"$(cat {})\"",
                quote(&file.display().to_string())
            ));
        }
        for (name, _) in &self.delivered.0 {
            words.push(format!("{name}=<from the keeper>"));
        }
        words.push("exec".to_owned());
        words.push(quote(&self.program.display().to_string()));
        words.extend(self.args.iter().map(|a| quote(a)));
        if let Some((uid, gid)) = self.run_as {
            words.push(format!("# as uid {uid} gid {gid}"));
        }
        words.join(" ")
    }

    /// Replaces this process with the gateway, keeping `lock` open across the exec.
    pub fn exec(self, lock: GatewayLock) -> GatewayError {
        let mut command = Command::new(&self.program);
        command.args(&self.args).envs(
            self.env
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        );
        if let Some(token) = &self.gateway_token {
            command.env(TOKEN_VARIABLE, token.value());
        }
        command.envs(self.delivered.0.iter().map(|(k, v)| (k, v)));
        if let Some((uid, gid)) = self.run_as {
            // std clears supplementary groups when root sets a uid without explicit groups.
            command.uid(uid).gid(gid);
        }
        let source = command.exec();
        drop(lock);
        GatewayError::Exec {
            program: self.program.display().to_string(),
            source,
        }
    }
}

/// Node sizes its heap from the machine, not the container: a krill on a big node grows past its
/// limit and is OOM-killed mid-turn. A heap ceiling below the limit makes V8 collect instead.
/// The young generation is sized from the limit too: V8's default semi-spaces hold on to tens of
/// MB per process that an idle gateway does not need (docs/benchmarks.md, "Start-up and idle
/// memory": 2 MB semi-spaces took 9-19% off an idle gateway's PSS). A flag already in the pod's
/// `NODE_OPTIONS` wins over ours; without a known limit nothing is added.
fn node_options(settings: &Settings) -> Option<String> {
    let limit = settings.memory_limit_mib.filter(|&mib| mib > 0)?;
    let theirs = settings.node_options.trim();
    let mut ours: Vec<String> = Vec::new();
    if !theirs.contains("--max-old-space-size") {
        let heap = (limit * settings.heap_percent / 100).max(64);
        ours.push(format!("--max-old-space-size={heap}"));
    }
    if !theirs.contains("--max-semi-space-size") {
        ours.push(format!("--max-semi-space-size={}", semi_space_mib(limit)));
    }
    if ours.is_empty() {
        return None;
    }
    if !theirs.is_empty() {
        ours.insert(0, theirs.to_owned());
    }
    Some(ours.join(" "))
}

/// One MB of semi-space per GiB of limit, from 2 (the chart's default 2Gi limit) to V8's own
/// default of 16.
fn semi_space_mib(limit_mib: u64) -> u64 {
    (limit_mib / 1024).clamp(2, 16)
}

fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The exclusive lock a running gateway holds on its volume.
pub struct GatewayLock {
    _lock: Flock<File>,
}

impl GatewayLock {
    /// Takes the lock and marks its descriptor inheritable, so it survives `exec`.
    pub fn acquire(paths: &Paths) -> Result<Self, GatewayError> {
        let path = paths.gateway_lock();
        let io_err = |source| GatewayError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((file, _)) => {
                return Err(GatewayError::Running {
                    path: path.clone(),
                    pid: read_pid(file),
                });
            }
        };
        lock.set_len(0).map_err(io_err)?;
        lock.rewind().map_err(io_err)?;
        write!(lock, "{}", std::process::id()).map_err(io_err)?;
        fcntl(&*lock, FcntlArg::F_SETFD(FdFlag::empty())).map_err(|e| io_err(e.into()))?;
        Ok(GatewayLock { _lock: lock })
    }
}

fn read_pid(mut file: File) -> String {
    let mut pid = String::new();
    let _ = file.read_to_string(&mut pid);
    if pid.trim().is_empty() {
        "unknown".to_owned()
    } else {
        pid.trim().to_owned()
    }
}

/// Fails if a gateway holds the volume. Holds nothing afterwards.
pub fn ensure_stopped(paths: &Paths) -> Result<(), GatewayError> {
    let path = paths.gateway_lock();
    if !path.exists() {
        return Ok(());
    }
    let file = File::open(&path).map_err(|source| GatewayError::Io {
        path: path.clone(),
        source,
    })?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_released_on_drop) => Ok(()),
        Err((file, _)) => Err(GatewayError::Running {
            path,
            pid: read_pid(file),
        }),
    }
}

/// For tests: whether `path` is a lock file some process holds.
pub fn is_held(path: &Path) -> bool {
    File::open(path).is_ok_and(|file| Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn paths_in(root: &Path) -> Paths {
        let env: BTreeMap<String, String> =
            [("KRILL_DATA".to_owned(), root.display().to_string())].into();
        let paths = Paths::from_env(&env);
        std::fs::create_dir_all(paths.bookkeeping()).expect("mkdir");
        paths
    }

    #[test]
    fn a_held_lock_refuses_a_second_holder_and_restores() {
        let root = tempfile::tempdir().expect("tempdir");
        let paths = paths_in(root.path());
        ensure_stopped(&paths).expect("nothing runs yet");
        let lock = GatewayLock::acquire(&paths).expect("first lock");
        let error = ensure_stopped(&paths).expect_err("held").to_string();
        assert!(
            error.contains(&format!("pid {}", std::process::id())),
            "{error}"
        );
        assert!(GatewayLock::acquire(&paths).is_err());
        drop(lock);
        ensure_stopped(&paths).expect("released");
    }

    #[test]
    fn dry_run_command_matches_the_pod_contract() {
        let env: BTreeMap<String, String> = BTreeMap::new();
        let mut launch = Launch::new(
            &Paths::from_env(&env),
            &Settings::from_env(&env).expect("defaults"),
        );
        assert_eq!(
            launch.run_as.is_some(),
            nix::unistd::Uid::effective().is_root()
        );
        launch.run_as = None;
        assert_eq!(
            launch.display(),
            "OPENCLAW_CONFIG_PATH=/krill/run/openclaw.json OPENCLAW_STATE_DIR=/krill/data/state \
             OPENCLAW_SUPERVISOR_MODE=external XDG_CONFIG_HOME=/krill/data/.config \
             exec openclaw gateway run --port 18789 --bind lan"
        );
    }

    fn node_options_for(vars: &[(&str, &str)]) -> Option<String> {
        let env: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let settings = Settings::from_env(&env).expect("settings");
        Launch::new(&Paths::from_env(&env), &settings)
            .env
            .into_iter()
            .find(|(k, _)| k == "NODE_OPTIONS")
            .map(|(_, v)| v)
    }

    #[test]
    fn the_heap_ceiling_follows_the_memory_limit() {
        assert_eq!(
            node_options_for(&[("KRILL_MEMORY_LIMIT_MIB", "2048")]).as_deref(),
            Some("--max-old-space-size=1536 --max-semi-space-size=2")
        );
        assert_eq!(
            node_options_for(&[
                ("KRILL_MEMORY_LIMIT_MIB", "1024"),
                ("KRILL_HEAP_PERCENT", "50")
            ])
            .as_deref(),
            Some("--max-old-space-size=512 --max-semi-space-size=2")
        );
        assert_eq!(
            node_options_for(&[("KRILL_MEMORY_LIMIT_MIB", "8192")]).as_deref(),
            Some("--max-old-space-size=6144 --max-semi-space-size=8")
        );
        assert_eq!(
            node_options_for(&[("KRILL_MEMORY_LIMIT_MIB", "65536")]).as_deref(),
            Some("--max-old-space-size=49152 --max-semi-space-size=16")
        );
        // The pod's own options stay, in front.
        assert_eq!(
            node_options_for(&[
                ("KRILL_MEMORY_LIMIT_MIB", "2048"),
                ("NODE_OPTIONS", "--enable-source-maps")
            ])
            .as_deref(),
            Some("--enable-source-maps --max-old-space-size=1536 --max-semi-space-size=2")
        );
    }

    #[test]
    fn a_heap_size_set_by_the_pod_or_an_unknown_limit_adds_nothing() {
        assert_eq!(
            node_options_for(&[
                ("KRILL_MEMORY_LIMIT_MIB", "2048"),
                ("NODE_OPTIONS", "--max-old-space-size=3000")
            ])
            .as_deref(),
            Some("--max-old-space-size=3000 --max-semi-space-size=2")
        );
        assert_eq!(
            node_options_for(&[
                ("KRILL_MEMORY_LIMIT_MIB", "2048"),
                (
                    "NODE_OPTIONS",
                    "--max-semi-space-size=8 --max-old-space-size=3000"
                )
            ]),
            None
        );
        assert_eq!(node_options_for(&[]), None);
        assert_eq!(node_options_for(&[("KRILL_MEMORY_LIMIT_MIB", "0")]), None);
    }

    #[test]
    fn a_heap_percent_out_of_range_is_refused_by_name() {
        for bad in ["5", "100", "lots"] {
            let env = BTreeMap::from([("KRILL_HEAP_PERCENT".to_owned(), bad.to_owned())]);
            let err = Settings::from_env(&env).expect_err(bad).to_string();
            assert!(err.contains("KRILL_HEAP_PERCENT"), "{err}");
        }
    }
}
