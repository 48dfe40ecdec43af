//! Where things live in a krill pod (docs/pod-contract.md). Every root can be moved with a
//! KRILL_* environment variable so tests and local runs work outside a container.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_PORT: u16 = 18789;
pub const DEFAULT_UID: u32 = 1000;
pub const DEFAULT_GID: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "KRILL_NAME is not set: the chart sets it from the pod's downward API (label krill.dev/name)"
    )]
    NameMissing,
    #[error(
        "KRILL_NAME={0:?} is not a valid krill name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit"
    )]
    BadName(String),
    #[error("{name}={value:?} is not a valid {what}")]
    BadNumber {
        name: &'static str,
        value: String,
        what: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The krill's persistent volume.
    pub data: PathBuf,
    /// Template and per-krill overrides (read-only, from the chart).
    pub config: PathBuf,
    /// init.claw and AGENTS.md (read-only, optional).
    pub context: PathBuf,
    /// The rendered config (emptyDir, rewritten every start).
    pub run: PathBuf,
    /// Where `krill snapshot` writes archives.
    pub snapshots: PathBuf,
    /// One file per krill, named by `KRILL_NAME`, holding its gateway token (a Secret volume).
    pub gateway_tokens: PathBuf,
    /// The init.claw comes from a bucket: `krill fetch-init-claw` (an init container, the only
    /// one with the bucket's credentials) leaves it verified at [`Paths::fetched_init_claw`].
    /// `KRILL_INIT_CLAW_OBJECT`: `s3://...` when set.
    pub init_claw_object: Option<String>,
    /// The temp directory the gateway sees (`TMPDIR`, else `/tmp`; an emptyDir in the pod).
    pub tmp: PathBuf,
    /// The Node compile cache built into the image (`KRILL_COMPILE_CACHE_SEED`), copied into
    /// [`Paths::tmp`] before the gateway starts (see `compile_cache`).
    pub compile_cache_seed: PathBuf,
}

impl Paths {
    pub fn from_env(env: &BTreeMap<String, String>) -> Self {
        let dir = |name: &str, default: &str| {
            PathBuf::from(
                env.get(name)
                    .filter(|v| !v.is_empty())
                    .map_or(default, |v| v),
            )
        };
        Paths {
            data: dir("KRILL_DATA", "/krill/data"),
            config: dir("KRILL_CONFIG_DIR", "/krill/config"),
            context: dir("KRILL_CONTEXT_DIR", "/krill/context"),
            run: dir("KRILL_RUN_DIR", "/krill/run"),
            snapshots: dir("KRILL_SNAPSHOT_DIR", "/krill/snapshots"),
            gateway_tokens: dir("KRILL_GATEWAY_TOKENS_DIR", "/krill/secrets/gateway-tokens"),
            init_claw_object: env
                .get("KRILL_INIT_CLAW_OBJECT")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            tmp: dir("TMPDIR", "/tmp"),
            compile_cache_seed: dir("KRILL_COMPILE_CACHE_SEED", "/opt/krill/node-compile-cache"),
        }
    }

    /// The gateway's `XDG_CONFIG_HOME`, on the volume so what OpenClaw keeps under
    /// `~/.config/openclaw` (its auth-profile key) survives restarts; beside `state/`, because
    /// OpenClaw refuses that key inside the state dir, and outside snapshots, because it is one.
    pub fn config_home(&self) -> PathBuf {
        self.data.join(".config")
    }

    /// `OPENCLAW_STATE_DIR`: sessions and transcripts (SQLite), memory index.
    pub fn state(&self) -> PathBuf {
        self.data.join("state")
    }
    /// `agents.defaults.workspace`.
    pub fn workspace(&self) -> PathBuf {
        self.data.join("workspace")
    }
    /// The helper's own bookkeeping on the volume.
    pub fn bookkeeping(&self) -> PathBuf {
        self.data.join(".krill")
    }
    pub fn template(&self) -> PathBuf {
        self.config.join("openclaw.json5")
    }
    pub fn overrides(&self, name: &KrillName) -> PathBuf {
        self.config
            .join("overrides")
            .join(format!("{}.json", name.as_str()))
    }
    /// The archive a first start restores: the chart's `/krill/context/init.claw`, or the one
    /// fetched from a bucket.
    pub fn init_claw(&self) -> PathBuf {
        if self.init_claw_object.is_some() {
            self.fetched_init_claw()
        } else {
            self.context.join("init.claw")
        }
    }
    /// Where `krill fetch-init-claw` leaves the archive it downloaded and verified.
    pub fn fetched_init_claw(&self) -> PathBuf {
        self.bookkeeping().join("fetched-init.claw")
    }
    pub fn agents_md(&self) -> PathBuf {
        self.context.join("AGENTS.md")
    }
    /// This krill's gateway token, when the chart mounts it instead of setting the env var.
    pub fn gateway_token(&self, name: &KrillName) -> PathBuf {
        self.gateway_tokens.join(name.as_str())
    }
    /// `OPENCLAW_CONFIG_PATH`.
    pub fn rendered_config(&self) -> PathBuf {
        self.run.join("openclaw.json")
    }
    /// Held (flock) by `krill run` and inherited by the gateway it execs.
    pub fn gateway_lock(&self) -> PathBuf {
        self.bookkeeping().join("gateway.lock")
    }
}

/// A krill's name, safe to use as a file name (it picks the overrides file and names snapshots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrillName(String);

impl KrillName {
    pub fn parse(value: &str) -> Result<Self, SettingsError> {
        let bytes = value.as_bytes();
        let edge_ok =
            |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid = (1..=63).contains(&bytes.len())
            && edge_ok(bytes.first())
            && edge_ok(bytes.last())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if valid {
            Ok(KrillName(value.to_owned()))
        } else {
            Err(SettingsError::BadName(value.to_owned()))
        }
    }

    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, SettingsError> {
        match env.get("KRILL_NAME").filter(|v| !v.is_empty()) {
            Some(value) => Self::parse(value),
            None => Err(SettingsError::NameMissing),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How the gateway is started and who owns the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `openclaw` executable (`KRILL_OPENCLAW`); benchmarks point it at /bin/true.
    pub openclaw: PathBuf,
    pub port: u16,
    pub uid: u32,
    pub gid: u32,
    /// The container's memory limit in MiB (`KRILL_MEMORY_LIMIT_MIB`, from the downward API).
    pub memory_limit_mib: Option<u64>,
    /// Share of that limit Node's V8 heap may take (`KRILL_HEAP_PERCENT`, default 75).
    pub heap_percent: u64,
    /// `NODE_OPTIONS` as the pod set it, kept in front of what the helper adds.
    pub node_options: String,
}

/// Default `KRILL_HEAP_PERCENT`: the rest of the limit is Node's own memory outside the V8 heap
/// (buffers, code, native modules such as SQLite) and the snapshot-free headroom of a turn.
pub const DEFAULT_HEAP_PERCENT: u64 = 75;

impl Settings {
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, SettingsError> {
        fn number<T: std::str::FromStr>(
            env: &BTreeMap<String, String>,
            name: &'static str,
            default: T,
            what: &'static str,
        ) -> Result<T, SettingsError> {
            match env.get(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| SettingsError::BadNumber {
                    name,
                    value: v.clone(),
                    what,
                }),
            }
        }
        Ok(Settings {
            openclaw: PathBuf::from(
                env.get("KRILL_OPENCLAW")
                    .filter(|v| !v.is_empty())
                    .map_or("openclaw", |v| v),
            ),
            port: number(env, "KRILL_GATEWAY_PORT", DEFAULT_PORT, "TCP port")?,
            uid: number(env, "KRILL_UID", DEFAULT_UID, "user id")?,
            gid: number(env, "KRILL_GID", DEFAULT_GID, "group id")?,
            memory_limit_mib: match env.get("KRILL_MEMORY_LIMIT_MIB").filter(|v| !v.is_empty()) {
                None => None,
                Some(_) => Some(number(
                    env,
                    "KRILL_MEMORY_LIMIT_MIB",
                    0,
                    "memory limit in MiB",
                )?),
            },
            heap_percent: match number(
                env,
                "KRILL_HEAP_PERCENT",
                DEFAULT_HEAP_PERCENT,
                "percentage (10-95)",
            )? {
                p @ 10..=95 => p,
                _ => {
                    return Err(SettingsError::BadNumber {
                        name: "KRILL_HEAP_PERCENT",
                        value: env["KRILL_HEAP_PERCENT"].clone(),
                        what: "percentage (10-95)",
                    });
                }
            },
            node_options: env.get("NODE_OPTIONS").cloned().unwrap_or_default(),
        })
    }
}

/// Displays a path for messages.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("krill-0")]
    #[case("alice")]
    #[case("a")]
    #[case("9lives")]
    fn accepts_dns_labels(#[case] name: &str) {
        assert_eq!(KrillName::parse(name).expect("valid").as_str(), name);
    }

    #[rstest]
    #[case("")]
    #[case("../etc/passwd")]
    #[case("Alice")]
    #[case("-x")]
    #[case("x-")]
    #[case("a.b")]
    #[case("a/b")]
    fn rejects_anything_else(#[case] name: &str) {
        let error = KrillName::parse(name).expect_err("invalid").to_string();
        assert!(error.contains(&format!("{name:?}")), "{error}");
    }

    #[test]
    fn every_root_can_be_moved_by_env() {
        let env: BTreeMap<String, String> = [("KRILL_DATA", "/tmp/d"), ("KRILL_RUN_DIR", "/tmp/r")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let paths = Paths::from_env(&env);
        assert_eq!(paths.state(), Path::new("/tmp/d/state"));
        assert_eq!(paths.rendered_config(), Path::new("/tmp/r/openclaw.json"));
        assert_eq!(paths.config, Path::new("/krill/config"));
    }

    #[test]
    fn bad_port_is_named() {
        let env: BTreeMap<String, String> =
            [("KRILL_GATEWAY_PORT".to_owned(), "http".to_owned())].into();
        let error = Settings::from_env(&env).expect_err("invalid").to_string();
        assert_eq!(error, "KRILL_GATEWAY_PORT=\"http\" is not a valid TCP port");
    }
}
