//! LiteLLM's database: the development PostgreSQL the chart deploys, or an external one whose URL
//! sits in the operator's Secret; either way the proxy alone gets DATABASE_URL.

use crate::common;

use common::*;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use krill_chart_tests::Rendered;

const DEV_DB: &str = "apiServer:\n  database:\n    postgres:\n      enabled: true\n";

fn proxy(rendered: &Rendered) -> k8s_openapi::api::core::v1::Container {
    let deployment: Deployment = rendered
        .get("Deployment", "krill-api-server")
        .expect("proxy Deployment");
    let spec = deployment
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    container(&spec, "litellm").clone()
}

fn has_env(container: &k8s_openapi::api::core::v1::Container, name: &str) -> bool {
    container.env.iter().flatten().any(|e| e.name == name)
}

#[test]
fn without_a_database_the_proxy_gets_no_url_and_no_postgres_is_deployed() {
    let rendered = render(&[]);
    assert!(!has_env(&proxy(&rendered), "DATABASE_URL"));
    assert!(rendered.find("StatefulSet", "krill-postgres").is_none());
    assert!(rendered.find("Secret", "krill-postgres").is_none());
}

#[test]
fn the_dev_postgres_serves_the_proxy_alone_with_a_generated_password() {
    let rendered = render_yaml(DEV_DB);
    assert_eq!(
        env_secret(&proxy(&rendered), "DATABASE_URL"),
        ("krill-postgres".into(), "url".into())
    );
    // The URL carries the very password the server is initialised with.
    let secret: Secret = rendered.get("Secret", "krill-postgres").expect("Secret");
    let data = secret.data.expect("data");
    let password = String::from_utf8(data["password"].0.clone()).expect("utf-8");
    assert!(password.len() >= 32, "password too short: {password}");
    let url = String::from_utf8(data["url"].0.clone()).expect("utf-8");
    assert_eq!(
        url,
        format!("postgresql://litellm:{password}@krill-postgres:5432/litellm")
    );
    let sts: StatefulSet = rendered
        .get("StatefulSet", "krill-postgres")
        .expect("StatefulSet");
    let spec = pod_spec(&sts);
    let postgres = container(spec, "postgres");
    assert_eq!(
        env_secret(postgres, "POSTGRES_PASSWORD"),
        ("krill-postgres".into(), "password".into())
    );
    assert_eq!(
        postgres.image.as_deref(),
        Some("docker.io/library/postgres:17.6-bookworm")
    );
    let claims = sts
        .spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.clone())
        .expect("a data volume");
    assert_eq!(claims[0].metadata.name.as_deref(), Some("data"));
    let service: Service = rendered.get("Service", "krill-postgres").expect("Service");
    assert_eq!(
        service.spec.and_then(|s| s.ports).map(|p| p[0].port),
        Some(5432)
    );
    // Not a krill's secret: no krill pod mounts or reads it.
    let text = rendered_krill_specs(&rendered);
    assert!(
        !text.contains("krill-postgres"),
        "a krill references the database Secret"
    );
    // Reached by the proxy only, reaching nothing.
    let policy: NetworkPolicy = rendered
        .get("NetworkPolicy", "krill-postgres")
        .expect("policy");
    let spec = policy.spec.expect("spec");
    let from = spec
        .ingress
        .as_ref()
        .and_then(|r| r[0].from.clone())
        .expect("from");
    assert_eq!(from.len(), 1);
    let labels = from[0]
        .pod_selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .expect("pod selector");
    assert_eq!(labels["app.kubernetes.io/component"], "api-server");
    assert_eq!(spec.egress.as_deref().map(<[_]>::len), Some(0));
    let proxy_policy: NetworkPolicy = rendered
        .get("NetworkPolicy", "krill-api-server")
        .expect("proxy policy");
    let to_postgres = proxy_policy
        .spec
        .and_then(|s| s.egress)
        .expect("egress")
        .into_iter()
        .any(|rule| {
            rule.ports
                .as_ref()
                .is_some_and(|p| p[0].port == Some(IntOrString::Int(5432)))
                && rule.to.as_ref().is_some_and(|to| {
                    to[0]
                        .pod_selector
                        .as_ref()
                        .and_then(|s| s.match_labels.as_ref())
                        .is_some_and(|l| l["app.kubernetes.io/component"] == "postgres")
                })
        });
    assert!(to_postgres, "the proxy must reach the database");
}

fn rendered_krill_specs(rendered: &Rendered) -> String {
    rendered
        .all::<StatefulSet>("StatefulSet")
        .expect("StatefulSets")
        .into_iter()
        .filter(|s| s.metadata.name.as_deref() != Some("krill-postgres"))
        .map(|s| serde_json::to_string(&s).expect("json"))
        .collect()
}

#[test]
fn an_external_database_comes_from_the_operators_secret() {
    let rendered = render_yaml(
        "apiServer:\n  database:\n    existingSecret: litellm-db\n    existingSecretKey: DATABASE_URL\n",
    );
    assert_eq!(
        env_secret(&proxy(&rendered), "DATABASE_URL"),
        ("litellm-db".into(), "DATABASE_URL".into())
    );
    assert!(rendered.find("StatefulSet", "krill-postgres").is_none());
    assert!(rendered.find("Secret", "krill-postgres").is_none());
}
