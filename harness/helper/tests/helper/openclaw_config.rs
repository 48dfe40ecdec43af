//! The rendered config against the real, pinned OpenClaw: it validates, and a hostile value
//! comes out of OpenClaw's own `${VAR}` resolution as literal text, never as a secret.

use crate::common;

use std::fs;
use std::process::Command;

use common::{Volume, openclaw_bin};

const SECRET: &str = "sk-krill-test-key";

fn openclaw(volume: &Volume, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    let bin = openclaw_bin();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(bin.join("openclaw"))
        .args(args)
        .env_clear()
        .envs(volume.env())
        .env("PATH", path)
        .env("OPENCLAW_CONFIG_PATH", config)
        .env("OPENCLAW_STATE_DIR", volume.path("state-for-cli"))
        .output()
        .expect("run openclaw")
}

fn render(volume: &Volume, model: &str) -> std::path::PathBuf {
    let output = volume
        .krill(&["prepare"])
        .env("OPENCLAW_MODEL", model)
        .output()
        .expect("run krill");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    volume.path("run/openclaw.json")
}

#[test]
fn the_built_in_template_with_overrides_passes_openclaw_config_validate() {
    let volume = Volume::new();
    fs::write(
        volume.path("config/overrides/alice.json"),
        r#"{ "agents": { "defaults": { "heartbeat": { "every": "30m" } } }, "tools": { "profile": "coding" } }"#,
    )
    .expect("write overrides");
    let config = render(&volume, "krill-model");
    let output = openclaw(&volume, &config, &["config", "validate"]);
    assert!(
        output.status.success(),
        "openclaw config validate rejected the rendered config:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let heartbeat = openclaw(
        &volume,
        &config,
        &["config", "get", "agents.defaults.heartbeat.every"],
    );
    assert_eq!(String::from_utf8_lossy(&heartbeat.stdout).trim(), "30m");
}

#[test]
fn a_value_that_looks_like_a_reference_stays_literal_in_openclaw() {
    let volume = Volume::new();
    let hostile = "m-${OPENCLAW_API_KEY}-$${OPENCLAW_GATEWAY_TOKEN}\"}";
    let config = render(&volume, hostile);
    let text = fs::read_to_string(&config).expect("rendered");
    assert!(!text.contains(SECRET));
    let output = openclaw(
        &volume,
        &config,
        &["config", "get", "models.providers.proxy.models", "--json"],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let models: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        models[0]["id"], hostile,
        "OpenClaw resolved the model id to something else"
    );
    assert!(
        !stdout.contains(SECRET),
        "a secret leaked through a filled-in value: {stdout}"
    );
}
