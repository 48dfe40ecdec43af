//! The image run the way the chart runs a pod, with a real LiteLLM proxy in front of the stand-in
//! model server: the gateway comes up on a read-only root filesystem, an agent turn completes
//! through the proxy, the conversation survives a restart on the same volume, `docker stop` ends
//! it through the signal path, and a broken context archive stops it before it touches anything.

use std::time::{Duration, Instant};

use krill_image_tests::docker::{Volume, describe};
use krill_image_tests::krill::{Pod, PodSpec};
use krill_image_tests::stack::{ModelStack, PROXY_KEY};
use krill_image_tests::{Settings, unique_name};

/// What `docker stop -t` grants before SIGKILL; also the chart's terminationGracePeriodSeconds
/// order of magnitude. OpenClaw shuts down in ~2 s.
const STOP_GRACE_SECONDS: i32 = 20;

fn settings() -> Settings {
    Settings::from_env().unwrap_or_else(|error| panic!("{error}"))
}

async fn sessions(pod: &Pod) -> anyhow::Result<serde_json::Value> {
    let (code, stdout, stderr) = pod.exec(&["openclaw", "sessions", "--json"]).await?;
    anyhow::ensure!(code == 0, "openclaw sessions --json exited {code}: {stderr}");
    // The CLI may print a banner line before the JSON document.
    let start = stdout.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&stdout[start..])
        .map_err(|error| anyhow::anyhow!("openclaw sessions --json is not JSON ({error}): {stdout}"))
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
async fn agent_turn_through_litellm_survives_a_restart_and_stops_on_sigterm() -> anyhow::Result<()> {
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
    };

    let first = spec.start().await?;
    first.wait_ready().await?;

    // The rendered config is on the emptyDir and holds references, never the secrets.
    let (code, rendered, stderr) = first.exec(&["cat", "/krill/run/openclaw.json"]).await?;
    assert_eq!(code, 0, "no rendered config at /krill/run/openclaw.json: {stderr}");
    assert!(!rendered.contains(PROXY_KEY), "the proxy key was written to disk:\n{rendered}");
    assert!(!rendered.contains(&token), "the gateway token was written to disk:\n{rendered}");

    // The root filesystem really is read-only for the agent's user.
    let (code, _, _) = first.exec(&["sh", "-c", "touch /opt/openclaw/x || touch /x"]).await?;
    assert_ne!(code, 0, "the krill user could write to the root filesystem");

    let reply = first.chat("Write a note into the workspace, then tell me you did.").await?;
    let text = reply["choices"][0]["message"]["content"].as_str().unwrap_or_default();
    assert!(!text.trim().is_empty(), "the agent turn produced no text: {reply}");

    // The stand-in's scripted `write` tool call landed in the workspace on the volume.
    let (_, listing, _) = first
        .exec(&["sh", "-c", "cd /krill/data/workspace && find . -maxdepth 2 -type f -newer AGENTS.md \
                 -not -path './.git/*' | sort"])
        .await?;
    assert!(!listing.trim().is_empty(), "no file written by the agent in the workspace");

    let before = session_keys(&sessions(&first).await?);
    assert!(!before.is_empty(), "no session recorded after a completed turn");

    // SIGTERM must reach OpenClaw through tini and krill's exec: a clean exit within the grace
    // period, not the SIGKILL (137) docker sends when it runs out.
    let started = Instant::now();
    first.container.stop_with_timeout(Some(STOP_GRACE_SECONDS)).await?;
    let took = started.elapsed();
    let exit = first.container.exit_code().await?;
    assert!(
        matches!(exit, Some(0) | Some(143)),
        "docker stop ended the gateway with exit code {exit:?} (137 = killed after the grace period)"
    );
    assert!(took < Duration::from_secs(STOP_GRACE_SECONDS as u64), "stop needed {took:?}");
    first.container.rm().await?;

    // Same volume, new container: the conversation is still there.
    let second = spec.start().await?;
    second.wait_ready().await?;
    let after = session_keys(&sessions(&second).await?);
    for key in &before {
        assert!(after.contains(key), "session {key} was lost over the restart; now: {after:?}");
    }
    let (_, listing_after, _) = second
        .exec(&["sh", "-c", "cd /krill/data/workspace && find . -maxdepth 2 -type f -newer AGENTS.md \
                 -not -path './.git/*' | sort"])
        .await?;
    assert_eq!(listing_after, listing, "workspace files changed over the restart");
    second.container.rm().await?;
    drop(stack);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_init_claw_stops_the_start_and_leaves_the_volume_untouched() -> anyhow::Result<()> {
    let settings = settings();
    let volume = Volume::create(unique_name("krill-it-data"))?;
    // A krill volume with something worth keeping on it.
    let seeded = volume.sh(
        &settings.krill_image,
        "mkdir -p /krill/data/workspace/memory && echo 'keep me' >/krill/data/workspace/NOTES.md \
         && echo 'remember' >/krill/data/workspace/memory/today.md",
    )?;
    assert!(seeded.status.success(), "seeding the volume: {}", describe(&seeded));
    let before = volume.fingerprint(&settings.krill_image)?;

    let dir = std::env::temp_dir().join(unique_name("krill-it-context"));
    std::fs::create_dir_all(&dir)?;
    let archive = dir.join("init.claw");
    std::fs::write(&archive, b"this is not a zip archive")?;
    // The container user (1000) must be able to read the bind-mounted file.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644))?;

    // No proxy is needed: the archive must be rejected before anything talks to a model.
    let token = unique_name("gateway-token");
    let network = unique_name("krill-it-net");
    let spec = PodSpec {
        image: &settings.krill_image,
        network: &network,
        proxy_url: "http://krill-api-server:4000/v1",
        volume: &volume.name,
        krill_name: "krill-0",
        gateway_token: &token,
        init_claw: Some(&archive),
    };
    let pod = spec.start().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while pod.container.is_running().await? {
        assert!(Instant::now() < deadline, "the krill kept running with a broken init.claw");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let exit = pod.container.exit_code().await?;
    let logs = krill_image_tests::stack::logs(&pod.container).await;
    pod.container.rm().await?;
    std::fs::remove_dir_all(&dir)?;

    assert!(matches!(exit, Some(code) if code != 0), "exit code {exit:?} for a broken init.claw\n{logs}");
    assert!(logs.contains("init.claw"), "the error does not name init.claw:\n{logs}");
    assert_eq!(volume.fingerprint(&settings.krill_image)?, before, "the volume changed\n{logs}");
    Ok(())
}
