//! Admission by the real API server: the chart installs under Pod Security "restricted", and bad
//! values are refused at install with the schema's message, leaving nothing behind.

use crate::support;

use std::sync::Arc;

use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, SecurityContext};
use krill_cluster::{Cluster, Probe, TestRelease, Values, poll};
use kube::api::{ListParams, ObjectMeta, PostParams};
use rstest::rstest;
use support::{Fleet, ROLLOUT, cluster, release, wait_for_fleet};

const RESTRICTED: &[(&str, &str)] = &[
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/enforce-version", "latest"),
];

#[rstest]
#[tokio::test]
async fn installs_into_a_namespace_enforcing_restricted_pod_security(
    #[future(awt)] cluster: Arc<Cluster>,
) -> anyhow::Result<()> {
    let release = TestRelease::for_current_test(cluster, RESTRICTED).await?;

    // First prove the namespace really enforces: a privileged pod must be refused.
    let privileged = Pod {
        metadata: ObjectMeta {
            name: Some("privileged-probe".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "probe".into(),
                image: Some("krill:latest".into()),
                security_context: Some(SecurityContext {
                    privileged: Some(true),
                    ..SecurityContext::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    let refusal = release
        .api::<Pod>()
        .create(&PostParams::default(), &privileged)
        .await;
    let message = match refusal {
        Err(kube::Error::Api(status)) => status.message,
        other => {
            anyhow::bail!("a privileged pod was not refused under enforce=restricted: {other:?}")
        }
    };
    ensure!(
        message.contains("PodSecurity"),
        "refused, but not by PodSecurity: {message}"
    );

    release
        .install(&Values::new().yaml("replicas: 2\nkrills:\n  alice: {}\n"))
        .await?;
    // The StatefulSet and Deployment controllers create the pods, so admission of every pod
    // shows as the workloads reaching their replica counts.
    wait_for_fleet(&release, &Fleet::new(2, &["alice"])).await?;
    let deployments = release.api::<Deployment>();
    poll(
        "the model proxy Deployment to have its pod",
        ROLLOUT,
        || async {
            let list = deployments.list(&ListParams::default()).await?;
            let pending: Vec<String> = list
                .items
                .iter()
                .filter(|d| {
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    d.status
                        .as_ref()
                        .and_then(|s| s.ready_replicas)
                        .unwrap_or(0)
                        < want
                })
                .map(|d| {
                    format!(
                        "{:?}: {:?}",
                        d.metadata.name,
                        d.status.as_ref().and_then(|s| s.conditions.clone())
                    )
                })
                .collect();
            Ok(if list.items.is_empty() {
                Probe::Pending("no Deployment".into())
            } else if pending.is_empty() {
                Probe::Ready(())
            } else {
                Probe::Pending(pending.join("; "))
            })
        },
    )
    .await?;
    Ok(())
}

#[rstest]
#[case::wrong_type("replicas: many\n", &["replicas"])]
#[case::misspelt_key("replica: 3\n", &["replica"])]
#[case::bad_krill_name("krills:\n  Not_A_DNS_Label: {}\n", &["Not_A_DNS_Label"])]
#[tokio::test]
async fn invalid_values_are_refused_at_install_with_the_schema_message(
    #[case] values: &str,
    #[case] named: &[&str],
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    let err = match release.install(&Values::new().yaml(values)).await {
        Ok(out) => anyhow::bail!("helm installed invalid values {values:?}: {}", out.stdout),
        Err(e) => e,
    };
    let stderr = err.stderr();
    ensure!(
        stderr.contains("schema"),
        "refusal does not come from the values schema: {stderr}"
    );
    for word in named {
        ensure!(
            stderr.contains(word),
            "refusal does not name {word:?}: {stderr}"
        );
    }
    // Refused means nothing was created: no release, no workloads.
    let list = release
        .helm()
        .run([
            "list",
            "--namespace",
            release.namespace(),
            "--all",
            "--short",
        ])
        .await?;
    ensure!(
        list.stdout.trim().is_empty(),
        "a release exists after a refused install: {}",
        list.stdout
    );
    let pods = release
        .api::<Pod>()
        .list(&ListParams::default())
        .await
        .context("listing pods")?;
    ensure!(pods.items.is_empty(), "pods exist after a refused install");
    Ok(())
}
