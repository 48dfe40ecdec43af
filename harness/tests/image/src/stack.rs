//! The model chain a krill talks to in these tests: the stand-in model server (the only part that
//! is not real) behind a real LiteLLM proxy, both on a user-defined docker network so every
//! container reaches the others by name, as pods reach Services in the cluster.

use std::time::Duration;

use anyhow::Context;
use testcontainers::core::{ContainerPort, IntoContainerPort};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::settings::{Settings, split_reference};
use crate::unique_name;

/// The model name krills ask the proxy for; LiteLLM maps it to the stand-in.
pub const MODEL: &str = "stand-in";
/// The proxy's master key: what the chart hands every krill as OPENCLAW_API_KEY.
pub const PROXY_KEY: &str = "sk-krill-image-test-proxy-key";
/// The key LiteLLM presents upstream. The stand-in seeing this one (and never PROXY_KEY) shows a
/// request went through the proxy.
pub const UPSTREAM_KEY: &str = "stand-in-upstream-key";
const STAND_IN_PORT: u16 = 8000;
const PROXY_PORT: u16 = 4000;

pub struct ModelStack {
    pub network: String,
    /// Base URL of the proxy as seen from containers on the network.
    pub proxy_url: String,
    pub proxy: ContainerAsync<GenericImage>,
    pub stand_in: ContainerAsync<GenericImage>,
}

impl ModelStack {
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let network = unique_name("krill-it-net");
        let stand_in_name = unique_name("stand-in");
        let proxy_name = unique_name("litellm");

        let (name, tag) = split_reference(&settings.stand_in_image);
        let stand_in = GenericImage::new(name, tag)
            .with_exposed_port(STAND_IN_PORT.tcp())
            .with_network(&network)
            .with_container_name(&stand_in_name)
            .start()
            .await
            .context("starting the stand-in model server container")?;

        let config = format!(
            "model_list:\n\
             \x20 - model_name: {MODEL}\n\
             \x20   litellm_params:\n\
             \x20     model: openai/{MODEL}\n\
             \x20     api_base: http://{stand_in_name}:{STAND_IN_PORT}/v1\n\
             \x20     api_key: {UPSTREAM_KEY}\n\
             general_settings:\n\
             \x20 master_key: {PROXY_KEY}\n"
        );
        let (name, tag) = split_reference(&settings.litellm_image);
        let proxy = GenericImage::new(name, tag)
            .with_exposed_port(PROXY_PORT.tcp())
            .with_network(&network)
            .with_container_name(&proxy_name)
            .with_copy_to("/etc/litellm/config.yaml", config.into_bytes())
            .start()
            .await
            .context("starting the LiteLLM proxy container")?;

        let stack = Self {
            proxy_url: format!("http://{proxy_name}:{PROXY_PORT}/v1"),
            network,
            proxy,
            stand_in,
        };
        wait_http_ok(
            &stack.stand_in_url("/health").await?,
            Duration::from_secs(60),
            &stack.stand_in,
        )
        .await
        .context("the stand-in never answered /health")?;
        let proxy_port = stack
            .proxy
            .get_host_port_ipv4(ContainerPort::Tcp(PROXY_PORT))
            .await?;
        wait_http_ok(
            &format!("http://127.0.0.1:{proxy_port}/health/liveliness"),
            Duration::from_secs(180),
            &stack.proxy,
        )
        .await
        .context("LiteLLM proxy never became live")?;
        Ok(stack)
    }
}

impl ModelStack {
    /// `path` on the stand-in, from the host.
    pub async fn stand_in_url(&self, path: &str) -> anyhow::Result<String> {
        let port = self
            .stand_in
            .get_host_port_ipv4(ContainerPort::Tcp(STAND_IN_PORT))
            .await?;
        Ok(format!("http://127.0.0.1:{port}{path}"))
    }

    /// Every request the stand-in received, as it recorded them.
    pub async fn stand_in_requests(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let url = self.stand_in_url("/_stand-in/requests").await?;
        let body = reqwest::get(&url).await?.error_for_status()?.text().await?;
        serde_json::from_str(&body).with_context(|| format!("{url} answered {body}"))
    }
}

/// Polls `url` until it answers 2xx; fails early, with the container's logs, if the container
/// stops.
pub async fn wait_http_ok(
    url: &str,
    timeout: Duration,
    container: &ContainerAsync<GenericImage>,
) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    while tokio::time::Instant::now() < deadline {
        match client.get(url).send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if status.is_success() {
                    return Ok(body);
                }
                last = format!("{status}: {body}");
            }
            Err(error) => last = error.to_string(),
        }
        if !container.is_running().await.unwrap_or(false) {
            anyhow::bail!(
                "container {} stopped while waiting for {url}\n{}",
                container.id(),
                logs(container).await
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!(
        "{url} did not answer 2xx within {timeout:?}; last: {last}\n{}",
        logs(container).await
    )
}

/// Both output streams of a container, for failure messages.
pub async fn logs(container: &ContainerAsync<GenericImage>) -> String {
    let stdout = container.stdout_to_vec().await.unwrap_or_default();
    let stderr = container.stderr_to_vec().await.unwrap_or_default();
    format!(
        "--- {} stdout ---\n{}\n--- stderr ---\n{}",
        container.id(),
        String::from_utf8_lossy(&stdout).trim_end(),
        String::from_utf8_lossy(&stderr).trim_end()
    )
}
