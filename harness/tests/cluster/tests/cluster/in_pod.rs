//! What the real-node tests do from inside a krill's own container, the way an agent's tool or a
//! client next to the gateway would: HTTP requests with the image's Node, a chat turn, SQLite's
//! own integrity check. Also the values that make the chart's proxy serve the stand-in model.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use k8s_openapi::api::core::v1::{Pod, Secret};
use krill_cluster::{PodRuntime, TestRelease, Values};
use kube::api::LogParams;
use serde_json::Value;

use crate::support::ROLLOUT;

pub const GATEWAY_PORT: i32 = 18789;
/// An exec runs `node` in a pod on a busy node: its start alone can take seconds.
pub const EXEC: Duration = Duration::from_secs(60);

/// The runtime, or a NOT RUN note and `false` when no container can start on these nodes.
pub async fn real_nodes(release: &TestRelease, what: &str) -> anyhow::Result<bool> {
    Ok(match release.cluster().pod_runtime().await? {
        PodRuntime::Real => true,
        PodRuntime::Simulated { reason } => {
            krill_test_support::not_run(format!("{what} needs containers that run: {reason}"));
            false
        }
    })
}

/// A krill's gateway token from the Secret the keeper made for it (`<pod>-gateway-token` for a
/// fleet pod, `krill-<name>-secrets` for a named krill).
pub async fn gateway_token(
    release: &TestRelease,
    secret: &str,
    key: &str,
) -> anyhow::Result<String> {
    let secret_obj = release
        .api::<Secret>()
        .get(secret)
        .await
        .with_context(|| format!("Secret {secret}"))?;
    let bytes = secret_obj
        .data
        .unwrap_or_default()
        .remove(key)
        .with_context(|| format!("Secret {secret} has no key {key}"))?;
    Ok(String::from_utf8(bytes.0)?.trim().to_owned())
}

/// GET `url` from inside `pod` with the image's Node: `Ok((status, body))` when something
/// answered, `Err(reason)` when nothing did (refused, timed out, unresolvable). The outer error
/// is the exec itself failing.
pub async fn try_fetch_in_pod(
    release: &TestRelease,
    pod: &str,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<Result<(u16, String), String>> {
    const SCRIPT: &str = r#"
const [url, token] = process.argv.slice(1);
const headers = token ? { authorization: `Bearer ${token}` } : {};
try {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10000) });
  console.log(JSON.stringify({ status: res.status, body: await res.text() }));
} catch (err) {
  console.log(JSON.stringify({ error: String(err && err.cause ? err.cause : err) }));
}
"#;
    let mut command = vec!["node", "--input-type=module", "-e", SCRIPT, url];
    if let Some(token) = token {
        command.push(token);
    }
    let out = release
        .exec(pod, Some("krill"), &command, EXEC)
        .await?
        .require_success(pod, &["node", "-e", "<fetch>", url])?;
    let reply: Value = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("fetch in {pod} printed no JSON: {out:?}"))?;
    if let Some(error) = reply.get("error") {
        return Ok(Err(error.as_str().unwrap_or_default().to_owned()));
    }
    let status = reply["status"].as_u64().context("no status")? as u16;
    Ok(Ok((
        status,
        reply["body"].as_str().unwrap_or_default().to_owned(),
    )))
}

/// GET `url` from inside `pod`: (HTTP status, body); no answer at all is an error.
pub async fn fetch_in_pod(
    release: &TestRelease,
    pod: &str,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    match try_fetch_in_pod(release, pod, url, token).await? {
        Ok(answer) => Ok(answer),
        Err(error) => bail!("GET {url} from {pod} failed: {error}"),
    }
}

/// One agent turn as a client of the gateway asks for it: `POST /v1/chat/completions` with the
/// gateway token, run with the image's Node inside `pod` against its own gateway. With `user`,
/// the gateway keeps one session per value (OpenClaw's OpenAI API derives the session key from
/// it), so later turns with the same `user` continue the conversation. Returns (HTTP status,
/// body).
pub async fn chat_in_pod(
    release: &TestRelease,
    pod: &str,
    token: &str,
    user: Option<&str>,
    message: &str,
) -> anyhow::Result<(u16, String)> {
    const SCRIPT: &str = r#"
const [url, token, message, user] = process.argv.slice(1);
const body = { model: "openclaw/default", messages: [{ role: "user", content: message }] };
if (user) body.user = user;
try {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(240000),
  });
  console.log(JSON.stringify({ status: res.status, body: await res.text() }));
} catch (err) {
  console.log(JSON.stringify({ error: String(err && err.cause ? err.cause : err) }));
}
"#;
    let url = format!("http://127.0.0.1:{GATEWAY_PORT}/v1/chat/completions");
    let mut command = vec![
        "node",
        "--input-type=module",
        "-e",
        SCRIPT,
        url.as_str(),
        token,
        message,
    ];
    command.extend(user);
    // The turn itself (two model calls through the proxy, a tool run) on a busy node.
    let out = release
        .exec(pod, Some("krill"), &command, Duration::from_secs(270))
        .await?
        .require_success(pod, &["node", "-e", "<chat>", &url])?;
    let reply: Value = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("chat in {pod} printed no JSON: {out:?}"))?;
    if let Some(error) = reply.get("error") {
        bail!("POST {url} in {pod} failed: {error}");
    }
    let status = reply["status"].as_u64().context("no status")? as u16;
    Ok((
        status,
        reply["body"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// A turn that must succeed: its final text, which for the stand-in's script is always the same.
pub async fn turn(
    release: &TestRelease,
    pod: &str,
    token: &str,
    user: &str,
    message: &str,
) -> anyhow::Result<String> {
    let (status, body) = chat_in_pod(release, pod, token, Some(user), message).await?;
    ensure!(
        status == 200,
        "{pod}: the turn answered HTTP {status}: {body:.1000}"
    );
    let reply: Value =
        serde_json::from_str(&body).with_context(|| format!("the turn's body: {body:.1000}"))?;
    Ok(reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

/// Deploys the stand-in model into the release's namespace; returns the values that make the
/// chart's proxy serve it ([`krill_cluster::stand_in_model_values`]).
pub async fn with_stand_in_model(release: &TestRelease) -> anyhow::Result<Values> {
    krill_cluster::deploy_stand_in(
        &release.client(),
        release.namespace(),
        &krill_cluster::stand_in_image(),
        ROLLOUT,
    )
    .await?;
    Ok(Values::new().yaml(krill_cluster::stand_in_model_values()))
}

/// Whether the stand-in's latest chat request carried `marker`: what the model is sent is the
/// whole conversation, so a marker from an earlier turn there means the krill still holds it.
pub async fn last_model_request_holds(release: &TestRelease, marker: &str) -> anyhow::Result<bool> {
    let chats = krill_cluster::stand_in_chats(&release.client(), release.namespace()).await?;
    let last = chats.last().context("the stand-in has answered no chat")?;
    Ok(last["body"]["messages"].to_string().contains(marker))
}

/// Runs SQLite's `PRAGMA integrity_check` (Node's built-in `node:sqlite`) on every database under
/// the krill's state directory, from inside its container; returns the databases checked. A
/// database that is not `ok` is an error naming it and what SQLite said.
pub async fn state_databases_pass_integrity_check(
    release: &TestRelease,
    pod: &str,
) -> anyhow::Result<Vec<String>> {
    const SCRIPT: &str = r#"
import { DatabaseSync } from "node:sqlite";
import { readdirSync } from "node:fs";
// OpenClaw's `*-lock.sqlite` / `*.lock.sqlite` files are locks, not data: the gateway holds them
// in an exclusive transaction, so nothing else can read them (snapshots leave them out too).
const found = readdirSync("/krill/data/state", { recursive: true })
  .filter((f) => f.endsWith(".sqlite") && !/[.-]lock\.sqlite$/.test(f))
  .map((f) => `/krill/data/state/${f}`);
const results = found.map((path) => {
  const db = new DatabaseSync(path, { timeout: 30000 });
  try {
    return { path, result: db.prepare("PRAGMA integrity_check").all().map((r) => r.integrity_check).join("; ") };
  } catch (e) {
    return { path, result: `could not be checked: ${e.message}` };
  } finally {
    db.close();
  }
});
console.log(JSON.stringify(results));
"#;
    let out = release
        .exec(
            pod,
            Some("krill"),
            &["node", "--no-warnings", "--input-type=module", "-e", SCRIPT],
            // Room for the busy timeout above on every database.
            Duration::from_secs(200),
        )
        .await?
        .require_success(pod, &["node", "-e", "<integrity_check>"])?;
    let results: Vec<Value> = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("integrity check in {pod} printed no JSON: {out:?}"))?;
    ensure!(
        !results.is_empty(),
        "{pod} has no SQLite database under /krill/data/state"
    );
    let mut checked = Vec::new();
    for r in &results {
        let path = r["path"].as_str().unwrap_or_default().to_owned();
        ensure!(
            r["result"] == "ok",
            "{pod}: {path} fails integrity_check: {}",
            r["result"]
        );
        checked.push(path);
    }
    Ok(checked)
}

/// Takes a snapshot now in `pod`'s sidecar container, with the sidecar's own settings, and returns
/// the archive's path; a snapshot not written (skipped, unchanged) is an error showing the report.
pub async fn snapshot_now(release: &TestRelease, pod: &str) -> anyhow::Result<String> {
    let snapshot = ["krill", "snapshot", "--out", "/krill/snapshots", "--force"];
    let taken = release
        .exec(pod, Some("snapshot"), &snapshot, Duration::from_secs(240))
        .await?
        .require_success(pod, &snapshot)?;
    taken
        .stdout
        .lines()
        .find_map(|line| {
            let report: Value = serde_json::from_str(line).ok()?;
            (report["outcome"] == "written").then_some(())?;
            Some(report["path"].as_str()?.to_owned())
        })
        .with_context(|| format!("{pod}: the snapshot named no archive: {taken:?}"))
}

/// Every container of `pod` started, is ready and never restarted; a restart is an error that
/// shows what the previous instance logged last.
pub async fn no_container_restarted(release: &TestRelease, pod: &Pod) -> anyhow::Result<()> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .with_context(|| format!("{name} has no container statuses"))?;
    for status in statuses {
        ensure!(
            status.ready && status.started == Some(true),
            "{name}: container {} is not started and ready: {status:?}",
            status.name
        );
        if status.restart_count > 0 {
            // What the container said before it died is the only clue left: the kubelet keeps
            // the previous instance's log until the next restart.
            let previous = release
                .api::<Pod>()
                .logs(
                    &name,
                    &LogParams {
                        container: Some(status.name.clone()),
                        previous: true,
                        tail_lines: Some(40),
                        ..LogParams::default()
                    },
                )
                .await
                .unwrap_or_else(|e| format!("(no log of the previous instance: {e})"));
            bail!(
                "{name}: container {} restarted {} times (last state {:?}); its previous log \
                 ends:\n{previous}",
                status.name,
                status.restart_count,
                status.last_state
            );
        }
    }
    Ok(())
}
