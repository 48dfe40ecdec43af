//! The image run the way the chart runs a pod, with a real LiteLLM proxy in front of the stand-in
//! model server: the gateway comes up on a read-only root filesystem, an agent turn completes
//! through the proxy, the conversation survives a restart on the same volume, `docker stop` ends
//! it through the signal path, and a broken context archive stops it before it touches anything.

use std::time::{Duration, Instant};

use krill_image_tests::docker::{self, Volume, describe};
use krill_image_tests::krill::{Pod, PodSpec, one_shot_krill};
use krill_image_tests::stack::{ModelStack, PROXY_KEY, UPSTREAM_KEY};
use krill_image_tests::{Settings, unique_name};
use krill_stand_in::Script;

/// What `docker stop -t` grants before SIGKILL; also the chart's terminationGracePeriodSeconds
/// order of magnitude. OpenClaw shuts down in ~2 s.
const STOP_GRACE_SECONDS: i32 = 20;

fn settings() -> Settings {
    Settings::from_env().unwrap_or_else(|error| panic!("{error}"))
}

async fn sessions(pod: &Pod) -> anyhow::Result<serde_json::Value> {
    let (code, stdout, stderr) = pod.exec(&["openclaw", "sessions", "--json"]).await?;
    anyhow::ensure!(
        code == 0,
        "openclaw sessions --json exited {code}: {stderr}"
    );
    // The CLI may print a banner line before the JSON document.
    let start = stdout.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&stdout[start..]).map_err(|error| {
        anyhow::anyhow!("openclaw sessions --json is not JSON ({error}): {stdout}")
    })
}

/// Session keys in the CLI's JSON, whichever shape it uses (a list, or an object with one).
fn session_keys(listing: &serde_json::Value) -> Vec<String> {
    let list = listing
        .as_array()
        .or_else(|| listing.get("sessions").and_then(|s| s.as_array()))
        .cloned()
        .unwrap_or_default();
    let mut keys: Vec<String> = list
        .iter()
        .filter_map(|session| {
            ["key", "sessionKey", "id", "sessionId"]
                .iter()
                .find_map(|field| session.get(*field).and_then(|v| v.as_str()))
                .map(str::to_owned)
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_turn_through_litellm_survives_a_restart_and_stops_on_sigterm() -> anyhow::Result<()>
{
    let settings = settings();
    let stack = ModelStack::start(&settings).await?;
    let volume = Volume::create(unique_name("krill-it-data"))?;
    let token = unique_name("gateway-token");
    let spec = PodSpec {
        image: &settings.krill_image,
        network: &stack.network,
        proxy_url: &stack.proxy_url,
        volume: &volume.name,
        krill_name: "krill-0",
        gateway_token: &token,
        init_claw: None,
        force_restore: false,
    };

    let first = spec.start().await?;
    first.wait_ready().await?;

    // The rendered config is on the emptyDir and holds references, never the secrets.
    let (code, rendered, stderr) = first.exec(&["cat", "/krill/run/openclaw.json"]).await?;
    assert_eq!(
        code, 0,
        "no rendered config at /krill/run/openclaw.json: {stderr}"
    );
    assert!(
        !rendered.contains(PROXY_KEY),
        "the proxy key was written to disk:\n{rendered}"
    );
    assert!(
        !rendered.contains(&token),
        "the gateway token was written to disk:\n{rendered}"
    );

    // The root filesystem really is read-only for the agent's user.
    let (code, _, _) = first
        .exec(&["sh", "-c", "touch /opt/openclaw/x || touch /x"])
        .await?;
    assert_ne!(code, 0, "the krill user could write to the root filesystem");

    let script = Script::default();
    let reply = first
        .chat("Write a note into the workspace, then tell me you did.")
        .await?;
    let text = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        text.trim(),
        script.final_text,
        "unexpected final answer: {reply}"
    );

    // Both model calls of the turn (the `write` tool call, then the text after its result)
    // reached the stand-in through LiteLLM: with the proxy's upstream key, never the krill's.
    let requests = stack.stand_in_requests().await?;
    let chats: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/chat/completions"))
        })
        .collect();
    let replies: Vec<&str> = chats.iter().filter_map(|r| r["reply"].as_str()).collect();
    assert!(
        replies.contains(&"tool_call") && replies.contains(&"text"),
        "the stand-in did not see a tool call and a final answer: {replies:?}"
    );
    for request in &chats {
        assert_eq!(
            request["authorization"],
            format!("Bearer {UPSTREAM_KEY}"),
            "request not from LiteLLM"
        );
    }

    // The scripted `write` tool call landed in the workspace on the volume.
    let written = format!("/krill/data/workspace/{}", script.file_path);
    let (code, content, stderr) = first.exec(&["cat", &written]).await?;
    assert_eq!(code, 0, "the agent's file {written} is missing: {stderr}");
    assert_eq!(content, script.file_content);

    let before = session_keys(&sessions(&first).await?);
    assert!(
        !before.is_empty(),
        "no session recorded after a completed turn"
    );

    // SIGTERM must reach OpenClaw through tini and krill's exec: a clean exit within the grace
    // period, not the SIGKILL (137) docker sends when it runs out.
    let started = Instant::now();
    first
        .container
        .stop_with_timeout(Some(STOP_GRACE_SECONDS))
        .await?;
    let took = started.elapsed();
    let exit = first.container.exit_code().await?;
    assert!(
        matches!(exit, Some(0) | Some(143)),
        "docker stop ended the gateway with exit code {exit:?} (137 = killed after the grace period)"
    );
    assert!(
        took < Duration::from_secs(STOP_GRACE_SECONDS as u64),
        "stop needed {took:?}"
    );
    first.container.rm().await?;

    // Same volume, new container: the conversation is still there.
    let second = spec.start().await?;
    second.wait_ready().await?;
    let after = session_keys(&sessions(&second).await?);
    for key in &before {
        assert!(
            after.contains(key),
            "session {key} was lost over the restart; now: {after:?}"
        );
    }
    let (code, content_after, _) = second.exec(&["cat", &written]).await?;
    assert_eq!(
        (code, content_after),
        (0, script.file_content),
        "the agent's file did not survive"
    );
    second.container.rm().await?;
    drop(stack);
    Ok(())
}

/// A host directory holding an `init.claw` that is not a zip archive, readable by UID 1000.
struct BrokenArchive {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl BrokenArchive {
    fn new() -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(unique_name("krill-it-context"));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("init.claw");
        std::fs::write(&path, b"this is not a zip archive")?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        Ok(Self { dir, path })
    }
}

impl Drop for BrokenArchive {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a krill with the broken archive and waits for it to give up; returns (exit code, logs).
async fn start_with_broken_archive(
    settings: &Settings,
    volume: &Volume,
    archive: &BrokenArchive,
    force_restore: bool,
) -> anyhow::Result<(Option<i64>, String)> {
    // No proxy: the archive must be refused before anything talks to a model.
    let network = unique_name("krill-it-net");
    let token = unique_name("gateway-token");
    let spec = PodSpec {
        image: &settings.krill_image,
        network: &network,
        proxy_url: "http://krill-api-server:4000/v1",
        volume: &volume.name,
        krill_name: "krill-0",
        gateway_token: &token,
        init_claw: Some(&archive.path),
        force_restore,
    };
    let container = spec.launch().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while container.is_running().await? {
        if Instant::now() > deadline {
            let logs = krill_image_tests::stack::logs(&container).await;
            anyhow::bail!("the krill kept running with a broken init.claw\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let exit = container.exit_code().await?;
    let logs = krill_image_tests::stack::logs(&container).await;
    container.rm().await?;
    Ok((exit, logs))
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_init_claw_on_a_fresh_volume_fails_clearly_and_is_retried_next_start()
-> anyhow::Result<()> {
    let settings = settings();
    let volume = Volume::create(unique_name("krill-it-data"))?;
    let archive = BrokenArchive::new()?;

    let (exit, logs) = start_with_broken_archive(&settings, &volume, &archive, false).await?;
    assert!(
        matches!(exit, Some(code) if code != 0),
        "exit code {exit:?} for a broken init.claw\n{logs}"
    );
    assert!(
        logs.contains("krill: error:"),
        "no error line from krill:\n{logs}"
    );
    assert!(
        logs.contains("init.claw"),
        "the error does not name init.claw:\n{logs}"
    );

    // Nothing half-restored, and the first start is not marked done, so a fixed archive is
    // applied on the next start instead of being skipped.
    let files = volume.sh(
        &settings.krill_image,
        "find /krill/data -type f -not -path /krill/data/.krill/gateway.lock | sort",
    )?;
    assert!(files.status.success(), "{}", describe(&files));
    let files = String::from_utf8_lossy(&files.stdout);
    assert!(
        files.trim().is_empty(),
        "files left on the volume after a refused restore:\n{files}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_init_claw_forced_over_a_krills_data_leaves_the_volume_untouched()
-> anyhow::Result<()> {
    let settings = settings();
    let volume = Volume::create(unique_name("krill-it-data"))?;
    // A krill that has lived: prepared by its own first start, then with work in its workspace.
    let prepared = docker::run(&one_shot_krill(
        &settings.krill_image,
        &volume.name,
        &["prepare"],
    ))?;
    assert!(
        prepared.status.success(),
        "krill prepare: {}",
        describe(&prepared)
    );
    let seeded = volume.sh(
        &settings.krill_image,
        "mkdir -p /krill/data/workspace/memory && echo 'keep me' >/krill/data/workspace/NOTES.md \
         && echo 'remember' >/krill/data/workspace/memory/today.md",
    )?;
    assert!(
        seeded.status.success(),
        "seeding the volume: {}",
        describe(&seeded)
    );
    let before = volume.fingerprint(&settings.krill_image)?;
    assert!(
        before.contains("./workspace/NOTES.md"),
        "seeding did not land:\n{before}"
    );

    let archive = BrokenArchive::new()?;
    let (exit, logs) = start_with_broken_archive(&settings, &volume, &archive, true).await?;
    assert!(
        matches!(exit, Some(code) if code != 0),
        "exit code {exit:?} for a broken init.claw\n{logs}"
    );
    assert!(
        logs.contains("init.claw"),
        "the error does not name init.claw:\n{logs}"
    );
    assert_eq!(
        volume.fingerprint(&settings.krill_image)?,
        before,
        "the volume changed\n{logs}"
    );
    Ok(())
}

#[test]
fn prepare_as_root_hands_a_root_owned_volume_to_the_krill_user() -> anyhow::Result<()> {
    let settings = settings();
    let volume = Volume::create(unique_name("krill-it-data"))?;
    // A volume as a provisioner without fsGroup support leaves it: everything owned by root.
    let seeded = docker::run(&[
        "run",
        "--rm",
        "--user",
        "0",
        "-v",
        &format!("{}:/krill/data", volume.name),
        "--entrypoint",
        "sh",
        &settings.krill_image,
        "-c",
        "mkdir -p /krill/data/workspace && echo keep >/krill/data/workspace/NOTES.md && chown -R 0:0 /krill/data",
    ])?;
    assert!(seeded.status.success(), "seeding: {}", describe(&seeded));

    // The contract's init-container path: `krill prepare` as root, with only the capabilities
    // chown needs.
    let mut args = one_shot_krill(&settings.krill_image, &volume.name, &["prepare"]);
    let at = args
        .iter()
        .position(|arg| arg == "--entrypoint")
        .unwrap_or(args.len());
    args.splice(
        at..at,
        [
            "--user",
            "0",
            "--cap-add",
            "CHOWN",
            "--cap-add",
            "FOWNER",
            "--cap-add",
            "DAC_OVERRIDE",
        ]
        .map(String::from),
    );
    let prepared = docker::run(&args)?;
    assert!(
        prepared.status.success(),
        "krill prepare as root: {}",
        describe(&prepared)
    );

    let owners = volume.sh(
        &settings.krill_image,
        "stat -c '%u:%g %n' /krill/data /krill/data/workspace /krill/data/workspace/NOTES.md /krill/data/state",
    )?;
    let owners = String::from_utf8_lossy(&owners.stdout);
    for line in owners.lines() {
        assert!(
            line.starts_with("1000:1000 "),
            "not handed to 1000:1000: {line}\n{owners}"
        );
    }
    assert_eq!(owners.lines().count(), 4, "{owners}");
    Ok(())
}
