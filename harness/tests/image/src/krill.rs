//! A krill container started the way the chart starts a pod: UID 1000 (the image's user), read-only
//! root filesystem, no capabilities, emptyDir-like tmpfs for /tmp, /home/krill and /krill/run, the
//! krill's volume at /krill/data, and the contract's environment.

use std::time::Duration;

use anyhow::Context;
use testcontainers::core::{AccessMode, ContainerPort, ExecCommand, IntoContainerPort, Mount};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::settings::split_reference;
use crate::stack::{self, MODEL, PROXY_KEY};

pub const GATEWAY_PORT: u16 = 18789;

pub struct PodSpec<'a> {
    pub image: &'a str,
    pub network: &'a str,
    pub proxy_url: &'a str,
    pub volume: &'a str,
    pub krill_name: &'a str,
    pub gateway_token: &'a str,
    /// Host file mounted read-only at /krill/context/init.claw.
    pub init_claw: Option<&'a std::path::Path>,
    /// Sets KRILL_FORCE_RESTORE: restore init.claw even over an initialised volume.
    pub force_restore: bool,
}

pub struct Pod {
    pub container: ContainerAsync<GenericImage>,
    /// Gateway base URL from the host.
    pub gateway: String,
    pub gateway_token: String,
}

/// The chart's emptyDirs as tmpfs mounts. In the cluster fsGroup 1000 makes them writable for the
/// krill user; docker's equivalent is mounting them owned by 1000.
pub fn empty_dirs() -> std::collections::HashMap<String, String> {
    [
        ("/tmp", "mode=1777"),
        ("/home/krill", "uid=1000,gid=1000,mode=0700"),
        ("/krill/run", "uid=1000,gid=1000,mode=0700"),
    ]
    .into_iter()
    .map(|(path, options)| (path.to_owned(), options.to_owned()))
    .collect()
}

/// `docker run` arguments for a one-shot `krill <args>` in the image, with the pod's mounts and
/// environment (no network: nothing it does may need one).
pub fn one_shot_krill(image: &str, volume: &str, args: &[&str]) -> Vec<String> {
    let mut run: Vec<String> = ["run", "--rm", "--read-only", "--cap-drop", "ALL"]
        .map(String::from)
        .into();
    run.extend(empty_dir_flags());
    run.extend(["-v".to_owned(), format!("{volume}:/krill/data")]);
    for env in [
        "KRILL_NAME=krill-0",
        "OPENCLAW_API_BASE=http://krill-api-server:4000/v1",
        "OPENCLAW_API_KEY=unused",
        "OPENCLAW_MODEL=stand-in",
        "OPENCLAW_GATEWAY_TOKEN=unused",
    ] {
        run.extend(["-e".to_owned(), env.to_owned()]);
    }
    run.extend([
        "--entrypoint".to_owned(),
        "krill".to_owned(),
        image.to_owned(),
    ]);
    run.extend(args.iter().map(|arg| (*arg).to_owned()));
    run
}

/// The same mounts as `docker run` flags, for one-shot runs.
pub fn empty_dir_flags() -> Vec<String> {
    empty_dirs()
        .into_iter()
        .flat_map(|(path, options)| ["--tmpfs".to_owned(), format!("{path}:{options}")])
        .collect()
}

impl PodSpec<'_> {
    pub fn request(&self) -> testcontainers::ContainerRequest<GenericImage> {
        let (name, tag) = split_reference(self.image);
        let mut request = GenericImage::new(name, tag)
            .with_exposed_port(GATEWAY_PORT.tcp())
            .with_network(self.network)
            .with_container_name(crate::unique_name(self.krill_name))
            .with_readonly_rootfs(true)
            .with_cap_drop("ALL")
            .with_security_opt("no-new-privileges:true")
            .with_host_config_modifier(|host| host.tmpfs = Some(empty_dirs()))
            .with_mount(Mount::volume_mount(self.volume, "/krill/data"))
            .with_env_var("KRILL_NAME", self.krill_name)
            .with_env_var("OPENCLAW_API_BASE", self.proxy_url)
            .with_env_var("OPENCLAW_API_KEY", PROXY_KEY)
            .with_env_var("OPENCLAW_MODEL", MODEL)
            .with_env_var("OPENCLAW_GATEWAY_TOKEN", self.gateway_token)
            .with_startup_timeout(Duration::from_secs(120));
        if self.force_restore {
            request = request.with_env_var("KRILL_FORCE_RESTORE", "true");
        }
        if let Some(path) = self.init_claw {
            request = request.with_mount(
                Mount::bind_mount(path.to_string_lossy(), "/krill/context/init.claw")
                    .with_access_mode(AccessMode::ReadOnly),
            );
        }
        request
    }

    /// Starts the container and nothing else: for starts that are meant to fail, whose container
    /// may be gone before its port could be looked up.
    pub async fn launch(&self) -> anyhow::Result<ContainerAsync<GenericImage>> {
        self.request()
            .start()
            .await
            .context("starting the krill container")
    }

    /// Starts the container without waiting for the gateway.
    pub async fn start(&self) -> anyhow::Result<Pod> {
        self.start_request(self.request()).await
    }

    /// [`PodSpec::start`] with a request changed from [`PodSpec::request`] (a mount, a variable).
    pub async fn start_request(
        &self,
        request: testcontainers::ContainerRequest<GenericImage>,
    ) -> anyhow::Result<Pod> {
        let container = request
            .start()
            .await
            .context("starting the krill container")?;
        let port = container
            .get_host_port_ipv4(ContainerPort::Tcp(GATEWAY_PORT))
            .await?;
        Ok(Pod {
            container,
            gateway: format!("http://127.0.0.1:{port}"),
            gateway_token: self.gateway_token.to_owned(),
        })
    }
}

impl Pod {
    /// Waits for `/readyz` to say `"ready":true` (a bare 200 is not enough: unknown paths get the
    /// Control UI with 200 too).
    pub async fn wait_ready(&self) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.gateway);
        let body = stack::wait_http_ok(&url, Duration::from_secs(240), &self.container).await?;
        anyhow::ensure!(
            body.contains("\"ready\":true"),
            "/readyz answered 2xx without \"ready\":true: {body}"
        );
        Ok(())
    }

    /// One agent turn through the gateway's OpenAI-compatible endpoint.
    pub async fn chat(&self, message: &str) -> anyhow::Result<serde_json::Value> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()?;
        let response = client
            .post(format!("{}/v1/chat/completions", self.gateway))
            .bearer_auth(&self.gateway_token)
            .json(&serde_json::json!({
                "model": "openclaw/default",
                "messages": [{ "role": "user", "content": message }],
            }))
            .send()
            .await
            .context("POST /v1/chat/completions")?;
        let status = response.status();
        let body = response.text().await?;
        anyhow::ensure!(
            status.is_success(),
            "chat completion answered {status}: {body}\n{}",
            stack::logs(&self.container).await
        );
        serde_json::from_str(&body)
            .with_context(|| format!("chat completion body is not JSON: {body}"))
    }

    /// Runs a command in the container as its user; returns (exit code, stdout, stderr).
    pub async fn exec(&self, command: &[&str]) -> anyhow::Result<(i64, String, String)> {
        let mut result = self
            .container
            .exec(ExecCommand::new(command.iter().copied()))
            .await
            .with_context(|| format!("exec {command:?}"))?;
        let stdout = String::from_utf8_lossy(&result.stdout_to_vec().await?).into_owned();
        let stderr = String::from_utf8_lossy(&result.stderr_to_vec().await?).into_owned();
        let code = result.exit_code().await?.unwrap_or(-1);
        Ok((code, stdout, stderr))
    }
}
