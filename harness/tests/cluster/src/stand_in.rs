//! The stand-in model (`krill-stand-in`, harness/tests/stand-in) run inside a test's namespace, so
//! the chart's proxy can reach it by a Service name as it would a real provider. Its Deployment
//! and Service are the manifest `scripts/dev up` applies too
//! (harness/tests/image/images/stand-in/kubernetes.yaml); this module only fills in the image.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use kube::{Api, Client};
use serde::Deserialize;

use crate::{ClusterError, wait_for_deployment_ready};

const MANIFEST_PATH: &str = "harness/tests/image/images/stand-in/kubernetes.yaml";
const MANIFEST: &str = include_str!("../../image/images/stand-in/kubernetes.yaml");
/// What the manifest says in place of the image reference.
const IMAGE_PLACEHOLDER: &str = "image: IMAGE";

/// Name of the Deployment and of the Service the proxy's `apiBase` points at.
pub const STAND_IN_NAME: &str = "krill-stand-in";
/// The Service port and the container's (charts/krill/ci/named-values.yaml uses the same
/// address). One number for both: a NetworkPolicy egress rule matches the pod's port after the
/// Service is resolved, so values that open "the stand-in's port" need only this one.
pub const STAND_IN_PORT: i32 = 8080;

/// The stand-in image: `KRILL_TEST_STAND_IN_IMAGE` as the kind phase exports it after loading the
/// image into the node, else the tag scripts/image/lib.sh gives it (the workspace version).
pub fn stand_in_image() -> String {
    std::env::var("KRILL_TEST_STAND_IN_IMAGE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("krill-test-stand-in:{}", env!("CARGO_PKG_VERSION")))
}

/// `http://krill-stand-in:8080/v1`: the OpenAI-compatible base URL for the proxy's model list.
pub fn stand_in_api_base() -> String {
    format!("http://{STAND_IN_NAME}:{STAND_IN_PORT}/v1")
}

/// Chart values that make the proxy serve the stand-in as its one model (`default`), with the
/// proxy's egress opened to the stand-in's port (the chart's default only allows 443), so turns
/// also work where NetworkPolicies are enforced.
pub fn stand_in_model_values() -> String {
    format!(
        "apiServer:\n\
         \x20 models:\n\
         \x20   - name: default\n\
         \x20     model: openai/stand-in\n\
         \x20     apiBase: {base}\n\
         \x20     apiKeyEnv: STAND_IN_KEY\n\
         \x20 providerKeys:\n\
         \x20   STAND_IN_KEY: stand-in-upstream-key\n\
         \x20 egress:\n\
         \x20   - ports: [{{port: {port}, protocol: TCP}}]\n",
        base = stand_in_api_base(),
        port = STAND_IN_PORT,
    )
}

/// The chat requests the stand-in has answered so far (its `/_stand-in/requests` record), read
/// through the API server's service proxy: no port-forward, and no NetworkPolicy in the way.
pub async fn stand_in_chats(
    client: &Client,
    namespace: &str,
) -> Result<Vec<serde_json::Value>, ClusterError> {
    let path = format!(
        "/api/v1/namespaces/{namespace}/services/{STAND_IN_NAME}:{STAND_IN_PORT}/proxy/_stand-in/requests"
    );
    let action = || format!("reading the stand-in's requests ({path})");
    let request =
        http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| ClusterError::BadAnswer {
                action: action(),
                detail: e.to_string(),
            })?;
    let text = client
        .request_text(request)
        .await
        .map_err(ClusterError::api(action()))?;
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| ClusterError::BadAnswer {
            action: action(),
            detail: format!("{e}: {text:.300}"),
        })?;
    Ok(all
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("chat/completions"))
        })
        .collect())
}

/// The manifest's Deployment and Service, with `image` in place of the placeholder.
fn stand_in_objects(image: &str) -> Result<(Deployment, Service), ClusterError> {
    let text = MANIFEST.replace(IMAGE_PLACEHOLDER, &format!("image: {image:?}"));
    let mut docs = serde_yaml::Deserializer::from_str(&text);
    let parse = |doc| ClusterError::Manifest {
        path: MANIFEST_PATH,
        source: doc,
    };
    let deployment = Deployment::deserialize(
        docs.next()
            .ok_or_else(|| parse(serde::de::Error::custom("no Deployment (first document)")))?,
    )
    .map_err(parse)?;
    let service = Service::deserialize(
        docs.next()
            .ok_or_else(|| parse(serde::de::Error::custom("no Service (second document)")))?,
    )
    .map_err(parse)?;
    Ok((deployment, service))
}

/// Creates the stand-in's Deployment (one replica, image never pulled: it is loaded into the
/// nodes) and Service in `namespace`, and waits until its pod answers its readiness probe.
pub async fn deploy_stand_in(
    client: &Client,
    namespace: &str,
    image: &str,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let (deployment, service) = stand_in_objects(image)?;
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .map_err(ClusterError::api(format!(
            "creating Deployment {namespace}/{STAND_IN_NAME}"
        )))?;
    Api::<Service>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &service)
        .await
        .map_err(ClusterError::api(format!(
            "creating Service {namespace}/{STAND_IN_NAME}"
        )))?;
    wait_for_deployment_ready(client, namespace, STAND_IN_NAME, timeout).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names and port the tests rely on are the manifest's.
    #[test]
    fn the_manifest_names_what_the_tests_use() {
        let (deployment, service) = stand_in_objects("example:1").unwrap();
        assert_eq!(deployment.metadata.name.as_deref(), Some(STAND_IN_NAME));
        assert_eq!(service.metadata.name.as_deref(), Some(STAND_IN_NAME));
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.containers[0].image.as_deref(), Some("example:1"));
        let port = &pod.containers[0].ports.as_ref().unwrap()[0];
        assert_eq!(port.container_port, STAND_IN_PORT);
        assert_eq!(service.spec.unwrap().ports.unwrap()[0].port, STAND_IN_PORT);
    }
}
