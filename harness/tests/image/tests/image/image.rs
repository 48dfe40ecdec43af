//! The krill image under real Docker: what it is (user, entrypoint, labels, contents) and what it
//! does when run the way the chart runs it.

use krill_image_tests::Settings;
use krill_image_tests::docker::{self, describe};
use krill_image_tests::krill::empty_dir_flags;
use krill_image_tests::settings::{pinned_versions, workspace_version};

fn settings() -> Settings {
    Settings::from_env().unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn image_metadata_follows_the_pod_contract() -> anyhow::Result<()> {
    let settings = settings();
    let image = docker::inspect(&settings.krill_image)?;
    let config = &image["Config"];
    assert_eq!(
        config["User"], "1000:1000",
        "the image must run as UID/GID 1000"
    );
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["tini", "--", "krill", "run"])
    );
    assert!(
        config["ExposedPorts"].get("18789/tcp").is_some(),
        "18789 is not exposed: {config}"
    );
    assert!(
        config["Env"]
            .as_array()
            .is_some_and(|env| env.iter().any(|v| v == "HOME=/home/krill")),
        "HOME is not /home/krill: {}",
        config["Env"]
    );

    let labels = &config["Labels"];
    let pins = pinned_versions()?;
    assert_eq!(
        labels["org.opencontainers.image.version"],
        workspace_version()?.as_str()
    );
    assert_eq!(
        labels["dev.krill.openclaw.version"],
        pins["OPENCLAW_VERSION"].as_str()
    );
    assert_eq!(
        labels["dev.krill.node.version"],
        pins["NODE_VERSION"].as_str()
    );
    assert!(
        labels["org.opencontainers.image.base.name"]
            .as_str()
            .is_some_and(|base| !base.is_empty()),
        "the image does not say what it was built on: {labels}"
    );
    assert!(
        labels["org.opencontainers.image.source"]
            .as_str()
            .is_some_and(|s| s.starts_with("https://")),
        "no source label: {labels}"
    );
    Ok(())
}

#[test]
fn image_runs_as_krill_with_node_24_and_no_build_tools() -> anyhow::Result<()> {
    let settings = settings();
    let script = "id -u; id -g; id -un; echo \"$HOME\"; node --version; \
                  stat -c '%u:%g' /krill/data /krill/run; \
                  for tool in cc gcc g++ make rustc cargo; do command -v $tool || true; done; \
                  openclaw --version";
    let mut args: Vec<String> = vec!["run".into(), "--rm".into(), "--read-only".into()];
    args.extend(empty_dir_flags());
    args.extend(["--entrypoint", "sh", &settings.krill_image, "-c", script].map(String::from));
    let output = docker::run(&args)?;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let pins = pinned_versions()?;
    assert_eq!(
        lines.get(..4),
        Some(&["1000", "1000", "krill", "/home/krill"][..]),
        "{stdout}"
    );
    assert_eq!(
        lines.get(4).copied(),
        Some(format!("v{}", pins["NODE_VERSION"]).as_str())
    );
    assert_eq!(
        lines.get(5..7),
        Some(&["1000:1000", "1000:1000"][..]),
        "owner of /krill/data, /krill/run"
    );
    // No compiler or build tool may reach the final image; only `openclaw --version` follows.
    assert_eq!(lines.len(), 8, "unexpected tools in the image:\n{stdout}");
    assert!(
        lines[7].contains(&pins["OPENCLAW_VERSION"]),
        "openclaw --version printed {:?}, expected {}",
        lines[7],
        pins["OPENCLAW_VERSION"]
    );
    Ok(())
}

#[test]
fn root_filesystem_is_not_writable_by_the_krill_user() -> anyhow::Result<()> {
    let settings = settings();
    // Even without --read-only, UID 1000 must not own anything it could use to change the image.
    let output = docker::run(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &settings.krill_image,
        "-c",
        "find / -xdev -user 1000 -not -path '/home/krill*' -not -path '/krill/*' -print 2>/dev/null || true",
    ])?;
    assert!(output.status.success(), "{}", describe(&output));
    let owned = String::from_utf8_lossy(&output.stdout);
    assert!(
        owned.trim().is_empty(),
        "paths owned by UID 1000 outside its volumes:\n{owned}"
    );
    Ok(())
}

#[test]
fn dry_run_renders_the_config_with_secrets_as_references() -> anyhow::Result<()> {
    let settings = settings();
    let secret_key = "sk-dry-run-secret-that-must-not-print";
    let secret_token = "gateway-token-that-must-not-print";
    let mut args: Vec<String> = vec!["run".into(), "--rm".into(), "--read-only".into()];
    args.extend(empty_dir_flags());
    for env in [
        "KRILL_NAME=krill-0".to_owned(),
        "OPENCLAW_API_BASE=http://krill-api-server:4000/v1".to_owned(),
        format!("OPENCLAW_API_KEY={secret_key}"),
        "OPENCLAW_MODEL=stand-in".to_owned(),
        format!("OPENCLAW_GATEWAY_TOKEN={secret_token}"),
    ] {
        args.extend(["-e".to_owned(), env]);
    }
    // Arguments after the image go to the entrypoint: `tini -- krill run --dry-run`.
    args.extend([settings.krill_image.clone(), "--dry-run".to_owned()]);
    let output = docker::run(&args)?;
    assert!(
        output.status.success(),
        "krill run --dry-run failed:\n{}",
        describe(&output)
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("${OPENCLAW_API_KEY}"),
        "the API key is not a reference:\n{printed}"
    );
    assert!(
        printed.contains("openclaw"),
        "no gateway command in the dry run:\n{printed}"
    );
    assert!(
        printed.contains("18789"),
        "the gateway port is not 18789:\n{printed}"
    );
    for secret in [secret_key, secret_token] {
        assert!(
            !printed.contains(secret),
            "a secret was printed:\n{printed}"
        );
    }
    Ok(())
}

#[test]
fn python_runs_and_claw_py_works_when_the_submodule_was_built_in() -> anyhow::Result<()> {
    let settings = settings();
    // claw.py is only in images built with the submodule checked out (never in CI); python3,
    // which runs it, is always there.
    let output = docker::run(&[
        "run",
        "--rm",
        "--read-only",
        "--entrypoint",
        "sh",
        &settings.krill_image,
        "-c",
        "python3 --version && if [ -f /usr/local/bin/claw.py ]; then claw --help >/dev/null && echo claw.py: runs; \
         else echo claw.py: absent; fi",
    ])?;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("Python 3."), "{stdout}");
    assert!(
        stdout.contains("claw.py: runs") || stdout.contains("claw.py: absent"),
        "{stdout}"
    );
    Ok(())
}

/// Names of files that hold credentials wherever they are: a token of a registry, a git host, a
/// cloud or an SSH key would be readable by every krill (and by whoever pulls the image).
const CREDENTIAL_FILES: &[&str] = &[
    ".npmrc",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    "id_rsa",
    "id_ed25519",
    ".docker/config.json",
    ".aws/credentials",
    "credentials.json",
];

/// A secret-looking setting with a value (`NPM_TOKEN=…`, `--build-arg API_KEY=…`).
fn secret_setting(text: &str) -> Option<String> {
    let re = regex::Regex::new(
        r"(?i)\b[A-Z0-9_]*(TOKEN|API_KEY|SECRET|PASSWORD|PASSWD)[A-Z0-9_]*=[^\s\x22']+",
    )
    .expect("valid regex");
    re.find(text).map(|m| m.as_str().to_owned())
}

#[test]
fn no_layer_holds_a_credential_file_or_a_secret_setting() -> anyhow::Result<()> {
    let settings = settings();
    let image = docker::inspect(&settings.krill_image)?;
    // Environment and the commands every layer was built with (build arguments show there).
    let env = image["Config"]["Env"].to_string();
    assert_eq!(
        secret_setting(&env),
        None,
        "a secret in the image's environment"
    );
    let history = docker::checked(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        &settings.krill_image,
    ])?;
    assert!(history.lines().count() > 3, "no build history: {history}");
    assert_eq!(
        secret_setting(&history),
        None,
        "a secret in a layer's build command"
    );
    // Every file of every layer, including files a later layer deletes (they stay in the pull).
    let dir = tempfile::tempdir()?;
    let listing = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "docker save \"$1\" | tar -x -C \"$2\" && \
             find \"$2\" -type f -name '*.tar' -o -type f -path '*/blobs/sha256/*' | \
             while read -r layer; do tar -tf \"$layer\" 2>/dev/null; done",
        )
        .arg("sh")
        .arg(&settings.krill_image)
        .arg(dir.path())
        .output()?;
    assert!(listing.status.success(), "{}", docker::describe(&listing));
    let files = String::from_utf8_lossy(&listing.stdout);
    assert!(
        files.lines().any(|f| f.ends_with("usr/local/bin/krill")),
        "the layer listing misses the krill binary: the search would find nothing"
    );
    let found: Vec<&str> = files
        .lines()
        .filter(|f| {
            CREDENTIAL_FILES.iter().any(|c| f.ends_with(c))
                || f.starts_with("run/secrets/") && !f.ends_with('/')
        })
        .collect();
    assert!(
        found.is_empty(),
        "credential files in the image's layers: {found:?}"
    );
    Ok(())
}
