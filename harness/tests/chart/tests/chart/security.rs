//! Pod Security "restricted" for every pod the chart can render, plus the krill pod's writable
//! scratch volumes, resources and probes.

use crate::common;

use std::path::PathBuf;

use common::*;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodSpec, ServiceAccount};
use krill_chart_tests::{Rendered, ValueSource};
use rstest::rstest;

fn pod_specs(rendered: &Rendered) -> Vec<(String, PodSpec)> {
    let mut specs = Vec::new();
    for sts in rendered
        .all::<StatefulSet>("StatefulSet")
        .expect("StatefulSets")
    {
        let name = sts.metadata.name.clone().unwrap_or_default();
        specs.push((
            format!("StatefulSet/{name}"),
            sts.spec.and_then(|s| s.template.spec).expect("pod spec"),
        ));
    }
    for deployment in rendered
        .all::<Deployment>("Deployment")
        .expect("Deployments")
    {
        let name = deployment.metadata.name.clone().unwrap_or_default();
        specs.push((
            format!("Deployment/{name}"),
            deployment
                .spec
                .and_then(|s| s.template.spec)
                .expect("pod spec"),
        ));
    }
    for pod in rendered.all::<Pod>("Pod").expect("Pods") {
        let name = pod.metadata.name.clone().unwrap_or_default();
        specs.push((format!("Pod/{name}"), pod.spec.expect("pod spec")));
    }
    specs
}

/// The Pod Security Standard "restricted" checks that apply to these pods, and krill's own
/// stricter rules (UID/GID 1000, read-only root, no API token).
fn assert_restricted(owner: &str, spec: &PodSpec) {
    let pod = spec
        .security_context
        .as_ref()
        .unwrap_or_else(|| panic!("{owner}: no pod securityContext"));
    assert_eq!(pod.run_as_non_root, Some(true), "{owner}: runAsNonRoot");
    assert_eq!(pod.run_as_user, Some(1000), "{owner}: runAsUser");
    assert_eq!(pod.run_as_group, Some(1000), "{owner}: runAsGroup");
    assert_eq!(pod.fs_group, Some(1000), "{owner}: fsGroup");
    assert_eq!(
        pod.fs_group_change_policy.as_deref(),
        Some("OnRootMismatch"),
        "{owner}: fsGroupChangePolicy"
    );
    assert_eq!(
        pod.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
        Some("RuntimeDefault"),
        "{owner}: seccomp"
    );
    // Only the keeper talks to the API server, with its own account (keeper-rbac.yaml).
    let is_keeper = spec.service_account_name.as_deref() == Some("krill-keeper");
    assert_eq!(
        spec.automount_service_account_token,
        Some(is_keeper),
        "{owner}: automountServiceAccountToken"
    );
    assert_ne!(spec.host_network, Some(true), "{owner}: hostNetwork");
    assert_ne!(spec.host_pid, Some(true), "{owner}: hostPID");
    assert_ne!(spec.host_ipc, Some(true), "{owner}: hostIPC");
    for volume in spec.volumes.iter().flatten() {
        let allowed = volume.config_map.is_some()
            || volume.secret.is_some()
            || volume.empty_dir.is_some()
            || volume.projected.is_some()
            || volume.persistent_volume_claim.is_some()
            || volume.downward_api.is_some();
        assert!(
            allowed,
            "{owner}: volume {} has a type restricted pods may not use",
            volume.name
        );
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for container in containers {
        let id = format!("{owner}/{}", container.name);
        let security = container
            .security_context
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no securityContext"));
        assert_eq!(
            security.allow_privilege_escalation,
            Some(false),
            "{id}: allowPrivilegeEscalation"
        );
        assert_eq!(
            security.read_only_root_filesystem,
            Some(true),
            "{id}: readOnlyRootFilesystem"
        );
        assert_ne!(security.privileged, Some(true), "{id}: privileged");
        let capabilities = security
            .capabilities
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no capabilities"));
        assert_eq!(
            capabilities.drop.as_deref(),
            Some(&["ALL".to_owned()][..]),
            "{id}: drop ALL"
        );
        assert!(
            capabilities.add.as_ref().is_none_or(Vec::is_empty),
            "{id}: adds capabilities"
        );
        for port in container.ports.iter().flatten() {
            assert!(port.host_port.is_none(), "{id}: hostPort");
        }
        let resources = container
            .resources
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no resources"));
        assert!(
            resources
                .limits
                .as_ref()
                .is_some_and(|l| l.contains_key("memory")),
            "{id}: no memory limit"
        );
        assert!(
            resources
                .requests
                .as_ref()
                .is_some_and(|r| r.contains_key("memory")),
            "{id}: no memory request"
        );
    }
}

#[rstest]
fn every_pod_is_restricted(
    #[files("../../../charts/krill/values*.yaml")]
    #[exclude("values\\.schema\\.yaml$")]
    #[files("../../../charts/krill/ci/*-values.yaml")]
    #[files("cases/*.yaml")]
    values: PathBuf,
) {
    let rendered = render(&[ValueSource::File(values.clone())]);
    let specs = pod_specs(&rendered);
    assert!(
        specs.iter().any(|(owner, _)| owner.starts_with("Pod/")),
        "{}: no helm test pod",
        values.display()
    );
    for (owner, spec) in &specs {
        assert_restricted(&format!("{}: {owner}", values.display()), spec);
    }
}

#[test]
fn the_service_account_token_is_never_mounted() {
    let rendered = render(&[]);
    let account: ServiceAccount = rendered
        .get("ServiceAccount", "krill")
        .expect("ServiceAccount");
    assert_eq!(account.automount_service_account_token, Some(false));
}

#[test]
fn openclaw_gets_writable_scratch_on_a_read_only_root() {
    let rendered = render(&[]);
    let sts = statefulset(&rendered, "krill");
    let spec = pod_spec(&sts);
    let krill = container(spec, "krill");
    for path in ["/tmp", "/home/krill", "/krill/run"] {
        let mount = krill
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == path)
            .unwrap_or_else(|| panic!("{path} is not mounted"));
        let volume = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .expect("volume");
        let empty_dir = volume
            .empty_dir
            .as_ref()
            .unwrap_or_else(|| panic!("{path} must be an emptyDir"));
        assert!(
            empty_dir.size_limit.is_some(),
            "{path}: emptyDir without sizeLimit can fill the node"
        );
        assert_ne!(mount.read_only, Some(true), "{path} must be writable");
    }
    let data = krill
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == "/krill/data")
        .expect("/krill/data");
    assert_eq!(data.name, "data", "/krill/data is the krill's PVC");
}

#[test]
fn krill_resources_and_probes_follow_the_contract() {
    let rendered = render(&[]);
    let sts = statefulset(&rendered, "krill");
    let krill = container(pod_spec(&sts), "krill");
    let resources = krill.resources.as_ref().expect("resources");
    assert_eq!(
        resources
            .requests
            .as_ref()
            .and_then(|r| r.get("memory"))
            .map(|q| q.0.as_str()),
        Some("1Gi")
    );
    assert_eq!(
        resources
            .limits
            .as_ref()
            .and_then(|r| r.get("memory"))
            .map(|q| q.0.as_str()),
        Some("2Gi")
    );
    assert!(
        resources
            .requests
            .as_ref()
            .is_some_and(|r| r.contains_key("cpu")),
        "a CPU request"
    );
    for (probe, path) in [
        (&krill.startup_probe, "/startupz"),
        (&krill.readiness_probe, "/startupz"),
        (&krill.liveness_probe, "/healthz"),
    ] {
        let http = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("no httpGet probe for {path}"));
        assert_eq!(http.path.as_deref(), Some(path));
        assert_eq!(
            http.port,
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("gateway".into())
        );
    }
}
