//! `krill prepare` (what `krill run` does before the exec): layout, first-start context,
//! rendered config, and the refusal of an unwritable volume.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use common::{Volume, tree};

fn prepare(volume: &Volume, extra: &[(&str, &str)]) -> std::process::Output {
    volume
        .krill(&["prepare"])
        .envs(extra.iter().copied())
        .output()
        .expect("run krill prepare")
}

fn assert_ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "krill failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An init.claw as a fleet operator would make it with claw.py: a bare workspace folder.
fn init_claw(volume: &Volume) {
    let source = tempfile::tempdir().expect("tempdir");
    fs::write(source.path().join("NOTES.md"), "seeded context\n").expect("write");
    fs::write(source.path().join("AGENTS.md"), "archive's own rules\n").expect("write");
    let options = krill_claw::ExportOptions {
        progress: false,
        claw_py: None,
        ..Default::default()
    };
    krill_claw::export(source.path(), &volume.path("context/init.claw"), &options).expect("export");
}

#[test]
fn first_start_imports_context_and_later_starts_leave_the_workspace_alone() {
    let volume = Volume::new();
    init_claw(&volume);
    fs::write(volume.path("context/AGENTS.md"), "chart's project rules\n").expect("write");
    assert_ok(&prepare(&volume, &[]));
    let ws = volume.paths().workspace();
    assert_eq!(
        fs::read_to_string(ws.join("NOTES.md")).expect("restored"),
        "seeded context\n"
    );
    assert_eq!(
        fs::read_to_string(ws.join("AGENTS.md")).expect("injected"),
        "chart's project rules\n"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(volume.path("run/openclaw.json")).expect("rendered"))
            .expect("json");
    assert_eq!(
        config["agents"]["defaults"]["workspace"],
        ws.display().to_string()
    );

    // The agent works; the pod restarts: its work stays.
    fs::write(ws.join("NOTES.md"), "the agent's own notes\n").expect("write");
    assert_ok(&prepare(&volume, &[]));
    assert_eq!(
        fs::read_to_string(ws.join("NOTES.md")).expect("kept"),
        "the agent's own notes\n"
    );

    // Forced: the context comes back.
    assert_ok(&prepare(&volume, &[("KRILL_FORCE_RESTORE", "true")]));
    assert_eq!(
        fs::read_to_string(ws.join("NOTES.md")).expect("re-seeded"),
        "seeded context\n"
    );
}

#[test]
fn a_changed_agents_md_reaches_the_krill_and_an_unchanged_one_keeps_the_agents_edits() {
    let volume = Volume::new();
    let chart_rules = volume.path("context/AGENTS.md");
    let workspace_rules = volume.paths().workspace().join("AGENTS.md");
    let read = || fs::read_to_string(&workspace_rules).expect("read");
    fs::write(&chart_rules, "rules v1\n").expect("write");
    assert_ok(&prepare(&volume, &[]));
    assert_eq!(read(), "rules v1\n");
    // The agent refines its rules; restarts with the same chart text keep them.
    fs::write(&workspace_rules, "rules v1, with the agent's notes\n").expect("write");
    assert_ok(&prepare(&volume, &[]));
    assert_eq!(read(), "rules v1, with the agent's notes\n");
    // The operator changes agentsMd (the chart rolls the pod): the next start brings it.
    fs::write(&chart_rules, "rules v2\n").expect("write");
    let output = prepare(&volume, &[]);
    assert_ok(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("replaced the workspace's AGENTS.md"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(read(), "rules v2\n");
    fs::write(&workspace_rules, "rules v2, edited\n").expect("write");
    assert_ok(&prepare(&volume, &[]));
    assert_eq!(read(), "rules v2, edited\n");
    // agentsMd taken out of the chart: the workspace keeps what it has.
    fs::remove_file(&chart_rules).expect("remove");
    assert_ok(&prepare(&volume, &[]));
    assert_eq!(read(), "rules v2, edited\n");
}

#[test]
fn a_reapply_request_applies_once_per_id_however_often_the_krill_restarts() {
    let volume = Volume::new();
    let ws = volume.paths().workspace();
    init_claw(&volume);
    let request = [("KRILL_REAPPLY_CONTEXT", "2026-12-03")];

    // Set before the volume existed: the first start applies the context and records the id.
    assert_ok(&prepare(&volume, &request));
    let agent_work = |text: &str| fs::write(ws.join("NOTES.md"), text).expect("write");
    let notes = || fs::read_to_string(ws.join("NOTES.md")).expect("read");
    agent_work("the agent's own notes\n");
    // The setting forgotten in place: restarts leave the agent's work alone.
    for _ in 0..2 {
        assert_ok(&prepare(&volume, &request));
        assert_eq!(notes(), "the agent's own notes\n");
    }
    // A new id: applied once, then never again.
    let again = [("KRILL_REAPPLY_CONTEXT", "second")];
    let output = prepare(&volume, &again);
    assert_ok(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("reapply request \"second\""),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(notes(), "seeded context\n");
    agent_work("work after the second restore\n");
    assert_ok(&prepare(&volume, &again));
    assert_ok(&prepare(&volume, &[]));
    assert_eq!(notes(), "work after the second restore\n");
}

#[test]
fn an_agent_edit_to_the_rendered_config_does_not_survive_a_restart() {
    let volume = Volume::new();
    assert_ok(&prepare(&volume, &[]));
    let rendered = volume.path("run/openclaw.json");
    let good = fs::read(&rendered).expect("rendered");
    fs::write(&rendered, "{ gateway: { token: broken").expect("agent edit");
    assert_ok(&prepare(&volume, &[]));
    assert_eq!(fs::read(&rendered).expect("re-rendered"), good);
}

#[test]
fn a_bad_init_claw_fails_the_start_and_changes_nothing() {
    let volume = Volume::new();
    fs::write(volume.path("context/init.claw"), "not an archive").expect("write");
    let data_before = tree(&volume.data());
    let output = prepare(&volume, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&volume.path("context/init.claw").display().to_string()),
        "{stderr}"
    );
    // prepare created the empty layout before the import; nothing beyond it exists.
    let after = tree(&volume.data());
    assert!(
        after.keys().all(|p| data_before.contains_key(p)
            || after[p] == b"<dir>"
            || p.ends_with("gateway.lock")),
        "{after:?}"
    );
    assert!(
        !volume.paths().bookkeeping().join("initialized").exists(),
        "a failed start must retry the import"
    );
}

#[test]
fn missing_variables_fail_naming_each_one() {
    let volume = Volume::new();
    let output = volume
        .krill(&["run", "--dry-run"])
        .env_remove("OPENCLAW_MODEL")
        .env_remove("OPENCLAW_API_KEY")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("OPENCLAW_MODEL (used at"), "{stderr}");
    assert!(
        stderr.contains("OPENCLAW_API_KEY (used at models.providers.proxy.apiKey)"),
        "{stderr}"
    );
}

#[test]
fn dry_run_prints_config_and_command_without_secrets_or_side_effects() {
    let volume = Volume::new();
    let output = volume.krill(&["run", "--dry-run"]).output().expect("run");
    assert_ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\"apiKey\": \"${OPENCLAW_API_KEY}\""),
        "{stdout}"
    );
    assert!(
        !stdout.contains("sk-krill-test-key") && !stdout.contains("gateway-test-token"),
        "{stdout}"
    );
    assert!(
        stdout.contains("exec openclaw gateway run --port 18789 --bind lan"),
        "{stdout}"
    );
    assert!(
        !volume.data().exists(),
        "--dry-run must not touch the volume"
    );
}

/// The chart's way: no token in the environment, a file named by KRILL_NAME in the tokens dir.
#[test]
fn a_token_file_is_used_and_never_printed() {
    let volume = Volume::new();
    let tokens = volume.path("tokens");
    fs::create_dir_all(&tokens).expect("mkdir");
    fs::write(tokens.join("alice"), "file-token-c0ffee\n").expect("token");
    let output = volume
        .krill(&["run", "--dry-run"])
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .env("KRILL_GATEWAY_TOKENS_DIR", &tokens)
        .output()
        .expect("run");
    assert_ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("file-token-c0ffee"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "OPENCLAW_GATEWAY_TOKEN=\"$(cat {})\"",
            tokens.join("alice").display()
        )),
        "{stdout}"
    );
}

#[test]
fn without_a_token_run_refuses_naming_every_source() {
    let volume = Volume::new();
    let tokens = volume.path("tokens");
    let output = volume
        .krill(&["run"])
        .env("OPENCLAW_GATEWAY_TOKEN", "")
        .env("KRILL_GATEWAY_TOKENS_DIR", &tokens)
        .output()
        .expect("run");
    assert!(!output.status.success(), "must refuse without a token");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OPENCLAW_GATEWAY_TOKEN is unset or empty"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&tokens.join("alice").display().to_string()),
        "{stderr}"
    );
    // The chart's way is the keeper: the message names it (a pod scaled past the release's
    // replicas gets its token there too).
    assert!(stderr.contains("KRILL_KEEPER_URL is unset"), "{stderr}");
    assert!(
        !volume.data().exists(),
        "refused before touching the volume"
    );
    // `prepare` never starts the gateway, so an init container needs no token.
    let prepared = volume
        .krill(&["prepare"])
        .env("OPENCLAW_GATEWAY_TOKEN", "")
        .env("KRILL_GATEWAY_TOKENS_DIR", &tokens)
        .output()
        .expect("prepare");
    assert_ok(&prepared);
}

#[test]
fn an_unwritable_volume_is_refused_naming_path_and_uid() {
    let volume = Volume::new();
    let data = volume.data();
    fs::create_dir_all(&data).expect("mkdir");
    let mut command = volume.krill(&["prepare"]);
    let uid = if nix::unistd::Uid::effective().is_root() {
        // Root ignores mode bits: run the helper as an unprivileged user on a root-owned volume.
        for dir in [volume.root.path(), data.as_path()] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        // That user may not reach the build's own binary (a target dir under a 0700 home, as
        // scripts/dev test uses), so it runs a copy from the volume's root.
        let helper = volume.root.path().join("krill");
        fs::copy(common::KRILL, &helper).expect("copy the helper binary");
        command = volume.krill_from(&helper, &["prepare"]);
        command
            .uid(65534)
            .gid(65534)
            .env("KRILL_UID", "65534")
            .env("KRILL_GID", "65534");
        65534
    } else {
        fs::set_permissions(&data, fs::Permissions::from_mode(0o555)).expect("chmod");
        nix::unistd::Uid::effective().as_raw()
    };
    let output = command.output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("{} is not writable by uid {uid}", data.display())),
        "{stderr}"
    );
    assert!(stderr.contains("fsGroup"), "{stderr}");
}

#[test]
fn run_execs_the_gateway_in_place_holding_the_lock() {
    let volume = Volume::new();
    let fake = volume.path("fake-openclaw");
    fs::write(
        &fake,
        "#!/bin/sh\n\
         echo \"pid=$$\"\n\
         echo \"args=$*\"\n\
         echo \"config=$OPENCLAW_CONFIG_PATH\"\n\
         echo \"state=$OPENCLAW_STATE_DIR\"\n\
         echo \"supervisor=$OPENCLAW_SUPERVISOR_MODE\"\n\
         if flock -n \"$KRILL_DATA/.krill/gateway.lock\" true; then echo lock=free; else echo lock=held; fi\n",
    )
    .expect("write fake gateway");
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).expect("chmod");
    let child = volume
        .krill(&["run"])
        .env("KRILL_OPENCLAW", &fake)
        .env("KRILL_GATEWAY_PORT", "18999")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn krill run");
    let pid = child.id();
    let output = child.wait_with_output().expect("wait");
    assert_ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Same pid: `exec`, not a child process, so the kubelet's SIGTERM reaches the gateway.
    assert!(stdout.contains(&format!("pid={pid}\n")), "{stdout}");
    assert!(
        stdout.contains("args=gateway run --port 18999 --bind lan\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "config={}\n",
            volume.path("run/openclaw.json").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("state={}\n", volume.paths().state().display())),
        "{stdout}"
    );
    assert!(stdout.contains("supervisor=external\n"), "{stdout}");
    assert!(
        stdout.contains("lock=held\n"),
        "the gateway must inherit the volume lock: {stdout}"
    );
    assert!(
        !krill_helper::gateway::is_held(&volume.paths().gateway_lock()),
        "released when the gateway exits"
    );
}
