//! The whole pod life cycle with the real thing: the pinned OpenClaw gateway started by
//! `krill run`, the real LiteLLM proxy in front of our LLM-provider stand-in. One agent turn
//! travels gateway -> LiteLLM -> stand-in and writes a workspace file through a `write` tool call;
//! then `krill snapshot` (gateway running), stop, wipe the volume, `krill restore`, start again:
//! the session and the file are back, and every restored database passes `integrity_check`.
//! The gateway token comes the way the chart delivers it: a file named by `KRILL_NAME` in the
//! tokens directory, with `OPENCLAW_GATEWAY_TOKEN` unset.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Running, Volume, free_port, litellm_bin, openclaw_bin};
use krill_stand_in::{Script, StandIn};
use serde_json::{Value, json};

const UPSTREAM_KEY: &str = "upstream-provider-key-7f3a";
const KRILL_KEY: &str = "sk-krill-proxy-master-91c2";
const GATEWAY_TOKEN: &str = "gateway-token-e2e-5d10";
const MODEL: &str = "krill-model";

struct World {
    volume: Volume,
    gateway_port: u16,
    litellm_port: u16,
    openclaw_bin: PathBuf,
}

impl World {
    fn env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}",
            self.openclaw_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut env = self.volume.env();
        env.retain(|(k, _)| !k.starts_with("OPENCLAW_"));
        env.extend(
            [
                (
                    "OPENCLAW_API_BASE",
                    format!("http://127.0.0.1:{}/v1", self.litellm_port),
                ),
                ("OPENCLAW_MODEL", MODEL.to_owned()),
                ("OPENCLAW_API_KEY", KRILL_KEY.to_owned()),
                (
                    "KRILL_GATEWAY_TOKENS_DIR",
                    self.volume
                        .path("secrets/gateway-tokens")
                        .display()
                        .to_string(),
                ),
                ("KRILL_GATEWAY_PORT", self.gateway_port.to_string()),
                // As the chart's downward API gives it: the gateway runs with the heap ceiling.
                ("KRILL_MEMORY_LIMIT_MIB", "2048".to_owned()),
                (
                    "KRILL_OPENCLAW",
                    self.openclaw_bin.join("openclaw").display().to_string(),
                ),
                ("PATH", path),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }

    /// Like the chart's Secret volume: one file per krill, ending in a newline.
    fn write_token_file(&self) {
        let dir = self.volume.path("secrets/gateway-tokens");
        fs::create_dir_all(&dir).expect("tokens dir");
        let name = self
            .env()
            .into_iter()
            .find_map(|(k, v)| (k == "KRILL_NAME").then_some(v))
            .expect("KRILL_NAME");
        fs::write(dir.join(name), format!("{GATEWAY_TOKEN}\n")).expect("token file");
    }

    fn krill(&self, args: &[&str]) -> Command {
        let mut command = Command::new(common::KRILL);
        command.args(args).env_clear().envs(self.env());
        command
    }

    fn start_gateway(&self, log: &str) -> Running {
        let log = fs::File::create(self.volume.path(log)).expect("log file");
        let child = self
            .krill(&["run"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start krill run");
        Running {
            name: "gateway",
            child,
        }
    }

    fn openclaw(&self, args: &[&str]) -> Value {
        let output = Command::new(self.openclaw_bin.join("openclaw"))
            .args(args)
            .env_clear()
            .envs(self.env())
            .env(
                "OPENCLAW_CONFIG_PATH",
                self.volume.path("run/openclaw.json"),
            )
            .env("OPENCLAW_STATE_DIR", self.volume.paths().state())
            .env("OPENCLAW_GATEWAY_TOKEN", GATEWAY_TOKEN)
            .output()
            .expect("run openclaw");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "openclaw {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("openclaw {args:?} printed no JSON ({e}):\n{stdout}"))
    }

    fn session_keys(&self) -> Vec<String> {
        let listing = self.openclaw(&["sessions", "list", "--json"]);
        let mut keys: Vec<String> = listing["sessions"]
            .as_array()
            .unwrap_or_else(|| panic!("no sessions array in {listing}"))
            .iter()
            .filter_map(|s| s["key"].as_str().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }
}

async fn wait_for(what: &str, log: &Path, timeout: Duration, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let tail = fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = tail.lines().rev().take(40).collect();
    panic!(
        "{what} not ready after {timeout:?}; last log lines:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}

async fn gateway_ready(client: &reqwest::Client, port: u16) -> bool {
    match client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
    {
        Ok(response) => response
            .text()
            .await
            .is_ok_and(|body| body.contains("\"ready\":true")),
        Err(_) => false,
    }
}

fn start_litellm(dir: &Path, port: u16, upstream: &str) -> Running {
    let config = dir.join("litellm.yaml");
    fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: {MODEL}\n    litellm_params:\n      model: openai/stand-in\n      \
             api_base: {upstream}\n      api_key: {UPSTREAM_KEY}\ngeneral_settings:\n  master_key: {KRILL_KEY}\n"
        ),
    )
    .expect("litellm config");
    let log = fs::File::create(dir.join("litellm.log")).expect("log");
    let child = Command::new(litellm_bin().join("litellm"))
        .args([
            "--config",
            config.to_str().expect("utf-8"),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("NO_DOCS", "True")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start litellm");
    Running {
        name: "litellm",
        child,
    }
}

fn sqlite_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && krill_helper::sqlite::is_database(e.path()))
        .map(|e| e.into_path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_turn_survives_snapshot_wipe_and_restore() {
    let openclaw_bin = openclaw_bin();
    let litellm_dir = litellm_bin();
    assert!(litellm_dir.join("litellm").is_file());

    let script = Script {
        model: "stand-in".to_owned(),
        file_path: "proof/krill-e2e.txt".to_owned(),
        file_content: "written by a krill through LiteLLM\n".to_owned(),
        final_text: "Done: the proof file is written.".to_owned(),
    };
    let stand_in = StandIn::start("127.0.0.1:0".parse().expect("addr"), script.clone())
        .await
        .expect("stand-in");
    let world = World {
        volume: Volume::new(),
        gateway_port: free_port(),
        litellm_port: free_port(),
        openclaw_bin,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(180))
        .build()
        .expect("client");

    let litellm_log = world.volume.path("litellm.log");
    let _litellm = start_litellm(
        world.volume.root.path(),
        world.litellm_port,
        &stand_in.base_url(),
    );
    let litellm_port = world.litellm_port;
    wait_for(
        "LiteLLM",
        &litellm_log,
        Duration::from_secs(120),
        async || {
            client
                .get(format!("http://127.0.0.1:{litellm_port}/health/liveliness"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        },
    )
    .await;

    // First life: one agent turn.
    world.write_token_file();
    let mut gateway = world.start_gateway("gateway-1.log");
    let port = world.gateway_port;
    wait_for(
        "gateway",
        &world.volume.path("gateway-1.log"),
        Duration::from_secs(180),
        async || gateway_ready(&client, port).await,
    )
    .await;
    // The gateway answered with what `krill run` gave it: heap sizes from the memory limit
    // and its config home on the volume.
    let environ = fs::read(format!("/proc/{}/environ", gateway.child.id())).expect("environ");
    let environ: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    assert!(
        environ.contains(
            &b"NODE_OPTIONS=--max-old-space-size=1536 --max-semi-space-size=2".as_slice()
        ),
        "the gateway's NODE_OPTIONS lacks the heap ceiling and the young generation's size"
    );
    let config_home = world.volume.paths().config_home();
    assert!(
        environ.contains(&format!("XDG_CONFIG_HOME={}", config_home.display()).as_bytes()),
        "the gateway's XDG_CONFIG_HOME is not on the volume"
    );
    assert!(config_home.is_dir(), "{}", config_home.display());
    let wrong = client
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("not-the-token-from-the-file")
        .json(&json!({ "model": "openclaw/default", "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .expect("chat request with a wrong token");
    assert_eq!(
        wrong.status(),
        reqwest::StatusCode::UNAUTHORIZED,
        "the gateway must enforce the file's token"
    );
    let reply: Value = client
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(GATEWAY_TOKEN)
        .json(&json!({ "model": "openclaw/default", "messages": [{ "role": "user", "content": "Write the proof file." }] }))
        .send()
        .await
        .expect("chat request")
        .json()
        .await
        .expect("chat JSON");
    assert_eq!(
        reply["choices"][0]["message"]["content"], script.final_text,
        "{reply}"
    );

    let requests = stand_in.requests();
    let chats: Vec<_> = requests.iter().filter(|r| r.is_chat()).collect();
    let tool_call = chats
        .iter()
        .position(|r| r.reply == "tool_call")
        .expect("the stand-in was asked and answered with a tool call");
    assert!(
        chats[tool_call..].iter().any(|r| r.reply == "text"),
        "no final text after the tool call"
    );
    for request in &chats {
        // LiteLLM, not the krill, talked to the provider: its upstream key, never the krill's.
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {UPSTREAM_KEY}").as_str())
        );
        assert_eq!(
            request.body["model"], "stand-in",
            "LiteLLM maps {MODEL} to the upstream model"
        );
    }
    let litellm_said = fs::read_to_string(&litellm_log).expect("litellm log");
    assert!(
        litellm_said.contains("POST /v1/chat/completions"),
        "LiteLLM logged no completion:\n{litellm_said}"
    );
    let proof = world.volume.paths().workspace().join(&script.file_path);
    assert_eq!(
        fs::read_to_string(&proof).expect("the write tool created the file"),
        script.file_content
    );
    let sessions = world.session_keys();
    assert!(
        !sessions.is_empty(),
        "OpenClaw lists no session after a turn"
    );

    // Snapshot while the gateway runs.
    let snapshots = world.volume.path("snapshots");
    let output = world
        .krill(&[
            "snapshot",
            "--out",
            snapshots.to_str().expect("utf-8"),
            "--keep",
            "3",
        ])
        .output()
        .expect("snapshot");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome: Value = serde_json::from_slice(&output.stdout).expect("snapshot JSON");
    assert_eq!(outcome["outcome"], "written", "{outcome}");
    let archive = PathBuf::from(outcome["path"].as_str().expect("path"));

    // Restore refuses while the gateway holds the volume.
    let refused = world
        .krill(&["restore", archive.to_str().expect("utf-8")])
        .output()
        .expect("restore");
    assert!(
        !refused.status.success(),
        "restore under a running gateway must be refused"
    );

    // Stop, lose the volume, restore, start again.
    let status = gateway
        .terminate(Duration::from_secs(60))
        .expect("the gateway stops on SIGTERM");
    assert!(
        status.success() || status.code().is_some(),
        "gateway exit: {status:?}"
    );
    fs::remove_dir_all(world.volume.data()).expect("wipe the volume");
    let output = world
        .krill(&["restore", archive.to_str().expect("utf-8")])
        .output()
        .expect("restore");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let databases = sqlite_files(&world.volume.paths().state());
    assert!(
        databases
            .iter()
            .any(|p| p.ends_with("openclaw-agent.sqlite")),
        "{databases:?}"
    );
    for db in &databases {
        krill_helper::sqlite::integrity_check(db).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        fs::read_to_string(&proof).expect("the file came back"),
        script.file_content
    );

    let _second = world.start_gateway("gateway-2.log");
    wait_for(
        "restored gateway",
        &world.volume.path("gateway-2.log"),
        Duration::from_secs(180),
        async || gateway_ready(&client, port).await,
    )
    .await;
    assert_eq!(
        world.session_keys(),
        sessions,
        "OpenClaw lists different sessions after the restore"
    );
}
