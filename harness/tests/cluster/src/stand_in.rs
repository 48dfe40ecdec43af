//! The stand-in model (`krill-stand-in`, harness/tests/stand-in) run inside a test's namespace, so
//! the chart's proxy can reach it by a Service name as it would a real provider. This is the only
//! place its Deployment and Service are written down.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, HTTPGetAction, PodSpec, PodTemplateSpec, Probe as PodProbe, Service,
    ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::PostParams;
use kube::{Api, Client};

use crate::{ClusterError, wait_for_deployment_ready};

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

/// Creates the stand-in's Deployment (one replica, image never pulled: it is loaded into the
/// nodes) and Service in `namespace`, and waits until its pod answers its readiness probe.
pub async fn deploy_stand_in(
    client: &Client,
    namespace: &str,
    image: &str,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let labels = BTreeMap::from([(
        "app.kubernetes.io/name".to_owned(),
        STAND_IN_NAME.to_owned(),
    )]);
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(STAND_IN_NAME.to_owned()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "stand-in".to_owned(),
                        image: Some(image.to_owned()),
                        image_pull_policy: Some("Never".to_owned()),
                        args: Some(vec![
                            "--listen".to_owned(),
                            format!("0.0.0.0:{STAND_IN_PORT}"),
                        ]),
                        ports: Some(vec![ContainerPort {
                            name: Some("http".to_owned()),
                            container_port: STAND_IN_PORT,
                            ..ContainerPort::default()
                        }]),
                        readiness_probe: Some(PodProbe {
                            http_get: Some(HTTPGetAction {
                                path: Some("/health".to_owned()),
                                port: IntOrString::String("http".to_owned()),
                                ..HTTPGetAction::default()
                            }),
                            period_seconds: Some(2),
                            ..PodProbe::default()
                        }),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    let service = Service {
        metadata: ObjectMeta {
            name: Some(STAND_IN_NAME.to_owned()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: STAND_IN_PORT,
                target_port: Some(IntOrString::String("http".to_owned())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
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
