//! The real parts the tests run: a PostgreSQL server in a temp dir, the real LiteLLM proxy, the
//! stand-in model server as its upstream.
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MASTER_KEY: &str = "sk-krill-master-key-for-tests-only";
/// Each turn the stand-in reports 10 prompt and 5 completion tokens; at these prices a turn
/// costs 10 * 0.001 + 5 * 0.002 = 0.02.
pub const COST_PER_TURN: f64 = 0.02;
pub const MODELS: [&str; 2] = ["model-a", "model-b"];

fn pins() -> krill_test_support::Versions {
    krill_test_support::Versions::load().unwrap_or_else(|e| panic!("{e}"))
}

/// A tool's bin dir from `$var` (scripts/dev), else its pinned cache location; fails naming both.
fn tool_dir(var: &str, cache: PathBuf, exe: &str, installer: &str) -> PathBuf {
    let dir = std::env::var(var)
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or(cache);
    assert!(
        dir.join(exe).is_file(),
        "{exe} not found in {} ({var} or the cache). Run `scripts/dev tools` (sets {var}) or `{installer}`.",
        dir.display()
    );
    dir
}

pub fn postgres_bin() -> PathBuf {
    let v = pins();
    let major = v.get("POSTGRESQL_MAJOR").unwrap_or_else(|e| panic!("{e}"));
    let cache = krill_test_support::cache_root()
        .join("postgresql")
        .join(major)
        .join("bin");
    tool_dir(
        "KRILL_POSTGRES_BIN",
        cache,
        "pg_ctl",
        "scripts/tools/postgresql.sh",
    )
}

pub fn litellm_bin() -> PathBuf {
    let v = pins();
    let cache = krill_test_support::cache_root()
        .join("litellm")
        .join(v.get("LITELLM_VERSION").unwrap_or_else(|e| panic!("{e}")))
        .join("bin");
    tool_dir(
        "KRILL_LITELLM_BIN",
        cache,
        "litellm",
        "scripts/tools/python-tools.sh litellm",
    )
}

/// Why LiteLLM cannot use a database here, or `None` when it can: its DB layer is Prisma's
/// generated client plus Prisma's native engines (docs/proxy-keys.md).
pub fn litellm_database_missing() -> Option<String> {
    let python = litellm_bin().join("python");
    let probe = Command::new(&python)
        .args(["-c", "import prisma"])
        .output()
        .expect("run the venv's python");
    if probe.status.success() && litellm_bin().join("prisma").is_file() {
        None
    } else {
        Some(
            "LiteLLM's database layer (Prisma Client Python and Prisma's native engines) is not \
             installed in KRILL_LITELLM_BIN's venv and cannot be fetched here (docs/proxy-keys.md)"
                .to_owned(),
        )
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// PostgreSQL refuses to run as root; as root, run it in a user namespace where we are uid 1000.
fn as_non_root(program: &Path) -> Command {
    if nix::unistd::Uid::effective().is_root() {
        let mut command = Command::new("unshare");
        command.args(["--user", "--map-user=1000", "--map-group=1000"]);
        command.arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL server in its own temp dir, stopped on drop.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let port = free_port();
        let mut initdb = as_non_root(&bin.join("initdb"));
        initdb.args(["-D", data.to_str().expect("utf-8")]);
        initdb.args(["-U", "krill", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        run(initdb, "initdb");
        let mut start = as_non_root(&bin.join("pg_ctl"));
        start.args(["-D", data.to_str().expect("utf-8"), "-w", "-l"]);
        start.arg(dir.path().join("postgres.log"));
        start.arg("-o").arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        ));
        start.arg("start");
        run(start, "pg_ctl start");
        Postgres {
            bin,
            data,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgresql://krill@127.0.0.1:{}/{database}", self.port)
    }

    /// One SQL statement through psql; its unaligned output.
    pub fn sql(&self, database: &str, statement: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "krill",
            ])
            .args(["-d", database, "-Atc", statement])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {statement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = as_non_root(&self.bin.join("pg_ctl"));
        stop.args([
            "-D",
            self.data.to_str().unwrap_or("."),
            "-m",
            "immediate",
            "stop",
        ]);
        let _ = stop.output();
    }
}

/// The real LiteLLM proxy serving MODELS from the stand-in, stopped on drop.
pub struct Proxy {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Proxy {
    pub fn start(dir: &Path, upstream: &str, database_url: Option<&str>) -> Proxy {
        let port = free_port();
        let config = dir.join("litellm.yaml");
        let mut yaml = String::from("model_list:\n");
        for model in MODELS {
            yaml.push_str(&format!(
                "  - model_name: {model}\n    litellm_params:\n      model: openai/stand-in\n      \
                 api_base: {upstream}\n      api_key: sk-upstream\n      \
                 input_cost_per_token: 0.001\n      output_cost_per_token: 0.002\n"
            ));
        }
        // Spend reaches the database in batches; one second keeps the tests short.
        yaml.push_str(&format!(
            "general_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 1\n"
        ));
        fs::write(&config, yaml).expect("litellm config");
        let log = dir.join(format!("litellm-{port}.log"));
        let file = fs::File::create(&log).expect("log");
        let mut command = Command::new(litellm_bin().join("litellm"));
        command
            .args(["--config", config.to_str().expect("utf-8")])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .env("LITELLM_SALT_KEY", "sk-krill-salt-for-tests-only")
            .env("NO_DOCS", "True")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file);
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        let child = command.spawn().expect("start litellm");
        Proxy { child, port, log }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn wait_ready(&self, timeout: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let url = format!("{}/health/readiness", self.base_url());
            if let Ok(r) = client.get(url).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "LiteLLM not ready after {timeout:?}:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    /// One chat turn with `key` for `model`: the status and the body.
    pub async fn turn(&self, key: &str, model: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", self.base_url()))
            .bearer_auth(key)
            .json(&serde_json::json!({
                "model": model,
                "messages": [{ "role": "user", "content": "hello" }],
            }))
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("LiteLLM answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
