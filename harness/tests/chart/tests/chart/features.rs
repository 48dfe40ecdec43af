//! NetworkPolicies, the model proxy, snapshots, disruption budgets and the helm test pod.

use crate::common;

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use krill_chart_tests::Rendered;
use std::collections::BTreeMap;

fn selects(peer: &NetworkPolicyPeer, labels: &BTreeMap<String, String>) -> bool {
    peer.namespace_selector.is_none()
        && peer.ip_block.is_none()
        && peer.pod_selector.as_ref().is_some_and(|selector| {
            selector.match_expressions.is_none()
                && selector
                    .match_labels
                    .as_ref()
                    .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
}

fn krill_pod_labels() -> BTreeMap<String, String> {
    let sts = statefulset(&render_yaml(THREE_KRILLS), "krill-alpha");
    sts.spec
        .and_then(|spec| spec.template.metadata)
        .and_then(|meta| meta.labels)
        .expect("labels")
}

#[test]
fn krills_reach_only_dns_and_the_proxy_and_not_each_other() {
    let rendered = render_yaml(THREE_KRILLS);
    let policy: NetworkPolicy = rendered
        .get("NetworkPolicy", "krill")
        .expect("krill NetworkPolicy");
    let spec = policy.spec.expect("spec");
    let labels = krill_pod_labels();
    assert!(
        spec.pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v))),
        "policy must select krills"
    );
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_owned(), "Egress".to_owned()])
    );

    for rule in spec.ingress.iter().flatten() {
        for peer in rule.from.iter().flatten() {
            assert!(
                !selects(peer, &labels),
                "a krill may reach another krill's gateway: {peer:?}"
            );
        }
        let ports: Vec<_> = rule
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.port.clone())
            .collect();
        assert_eq!(ports, vec![IntOrString::Int(18789)]);
    }
    let egress = spec.egress.expect("egress");
    assert_eq!(
        egress.len(),
        3,
        "DNS, the keeper and the proxy only: {egress:?}"
    );
    let keeper_peer = &egress[1].to.as_ref().expect("to")[0];
    assert_eq!(
        keeper_peer
            .pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .and_then(|l| l.get("app.kubernetes.io/component"))
            .map(String::as_str),
        Some("keeper")
    );
    assert_eq!(
        egress[1].ports.as_ref().and_then(|p| p[0].port.clone()),
        Some(IntOrString::Int(8080))
    );
    let egress = [egress[0].clone(), egress[2].clone()];
    let dns_ports: Vec<_> = egress[0]
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.port.clone())
        .collect();
    assert_eq!(dns_ports, vec![IntOrString::Int(53), IntOrString::Int(53)]);
    let proxy_peer = &egress[1].to.as_ref().expect("to")[0];
    let proxy_labels = proxy_peer
        .pod_selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .expect("proxy selector");
    assert_eq!(
        proxy_labels
            .get("app.kubernetes.io/component")
            .map(String::as_str),
        Some("api-server")
    );
    assert_eq!(
        egress[1].ports.as_ref().and_then(|p| p[0].port.clone()),
        Some(IntOrString::Int(4000))
    );
    for rule in &egress {
        for peer in rule.to.iter().flatten() {
            assert!(
                !selects(peer, &labels),
                "a krill may reach another krill: {peer:?}"
            );
        }
    }
}

#[test]
fn extra_ingress_and_egress_are_added_and_the_policies_can_be_turned_off() {
    let rendered = render(&[krill_chart_tests::ValueSource::File(
        krill_chart_tests::repo_root().join("harness/tests/chart/cases/many-krills.yaml"),
    )]);
    let spec = rendered
        .get::<NetworkPolicy>("NetworkPolicy", "krill")
        .expect("policy")
        .spec
        .expect("spec");
    let from = spec
        .ingress
        .as_ref()
        .and_then(|rules| rules[0].from.clone())
        .expect("from");
    assert_eq!(from.len(), 2, "helm test + the configured peer");
    assert!(from[1].namespace_selector.is_some());
    let egress = spec.egress.expect("egress");
    assert_eq!(egress.len(), 4);
    assert_eq!(
        egress[3]
            .to
            .as_ref()
            .and_then(|to| to[0].ip_block.as_ref())
            .map(|b| b.cidr.as_str()),
        Some("10.0.0.0/8")
    );

    let off = render(&[set("networkPolicy.enabled=false")]);
    assert_eq!(off.of_kind("NetworkPolicy").count(), 0);
}

#[test]
fn the_proxy_accepts_krills_and_reaches_providers() {
    let rendered = render(&[]);
    let spec = rendered
        .get::<NetworkPolicy>("NetworkPolicy", "krill-api-server")
        .expect("proxy policy")
        .spec
        .expect("spec");
    let from = spec
        .ingress
        .as_ref()
        .and_then(|rules| rules[0].from.clone())
        .expect("from");
    assert!(
        selects(&from[0], &krill_pod_labels()),
        "krills must reach the proxy"
    );
    let egress = spec.egress.expect("egress");
    assert_eq!(
        egress[1].ports.as_ref().and_then(|p| p[0].port.clone()),
        Some(IntOrString::Int(443))
    );
}

#[test]
fn the_proxy_is_litellm_on_port_4000_with_health_probes() {
    let rendered = render(&[]);
    let deployment: Deployment = rendered
        .get("Deployment", "krill-api-server")
        .expect("proxy Deployment");
    let spec = deployment
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    let litellm = container(&spec, "litellm");
    assert_eq!(
        litellm.image.as_deref(),
        Some("ghcr.io/berriai/litellm:main-v1.100.5")
    );
    assert_eq!(env_value(litellm, "LITELLM_LOCAL_MODEL_COST_MAP"), "True");
    assert_eq!(
        env_secret(litellm, "LITELLM_MASTER_KEY"),
        ("krill-master-key".into(), "master-key".into())
    );
    assert_eq!(
        litellm.ports.as_ref().map(|p| p[0].container_port),
        Some(4000)
    );
    let path = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
        probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(
        path(&litellm.liveness_probe).as_deref(),
        Some("/health/liveliness")
    );
    assert_eq!(
        path(&litellm.readiness_probe).as_deref(),
        Some("/health/readiness")
    );
    let service: Service = rendered
        .get("Service", "krill-api-server")
        .expect("proxy Service");
    assert_eq!(
        service.spec.and_then(|s| s.ports).map(|p| p[0].port),
        Some(4000)
    );
}

#[test]
fn snapshots_run_in_a_sidecar_into_the_krills_own_volume() {
    let rendered = render_yaml(THREE_KRILLS);
    for name in ["krill", "krill-alpha"] {
        let sts = statefulset(&rendered, name);
        let spec = pod_spec(&sts);
        let sidecar = container(spec, "snapshot");
        assert_eq!(
            sidecar.command.as_deref(),
            Some(&SNAPSHOT_LOOP.map(str::to_owned)[..]),
            "the helper's own loop under tini, at low CPU priority"
        );
        assert_eq!(env_value(sidecar, "KRILL_SNAPSHOT_KEEP"), "7");
        assert_eq!(env_value(sidecar, "KRILL_SNAPSHOT_MIN_FREE_PERCENT"), "10");
        assert_eq!(env_value(sidecar, "KRILL_SNAPSHOT_MAX_TOTAL_SIZE"), "5Gi");
        let cpu_limit = sidecar
            .resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("cpu"))
            .map(|q| q.0.as_str());
        assert_eq!(
            cpu_limit,
            Some("500m"),
            "a snapshot never starves the gateway"
        );
        assert_eq!(
            spec.termination_grace_period_seconds,
            Some(60),
            "room for the last snapshot on SIGTERM"
        );
        let out = sidecar
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == "/krill/snapshots")
            .expect("/krill/snapshots");
        assert_eq!(
            (out.name.as_str(), out.sub_path.as_deref()),
            ("data", Some("snapshots")),
            "the krill's own PVC"
        );
        assert!(
            sidecar
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.mount_path == "/krill/data" && m.name == "data")
        );
        assert_eq!(
            sidecar.image,
            container(spec, "krill").image,
            "the sidecar runs the krill's own helper"
        );
    }
    let off = render(&[set("snapshots.enabled=false")]);
    let spec = pod_spec(&statefulset(&off, "krill")).clone();
    assert!(spec.containers.iter().all(|c| c.name != "snapshot"));
}

/// The sidecar's command with the default values.
const SNAPSHOT_LOOP: [&str; 13] = [
    "tini",
    "--",
    "nice",
    "-n",
    "10",
    "krill",
    "snapshot",
    "--out",
    "/krill/snapshots",
    "--every",
    "6h",
    "--first-after",
    "2m",
];

#[test]
fn the_snapshot_values_reach_the_sidecar() {
    let rendered = render_yaml(
        "snapshots:\n  interval: 1h\n  firstAfter: 0s\n  keep: 3\n  minFreePercent: 25\n  maxTotalSize: \"\"\n",
    );
    let sts = statefulset(&rendered, "krill");
    let sidecar = container(pod_spec(&sts), "snapshot");
    let command = sidecar.command.clone().expect("command");
    let flag = |name: &str| {
        let at = command
            .iter()
            .position(|a| a == name)
            .unwrap_or_else(|| panic!("{name} missing from {command:?}"));
        command[at + 1].clone()
    };
    assert_eq!(flag("--every"), "1h");
    assert_eq!(flag("--first-after"), "0s");
    assert_eq!(env_value(sidecar, "KRILL_SNAPSHOT_KEEP"), "3");
    assert_eq!(env_value(sidecar, "KRILL_SNAPSHOT_MIN_FREE_PERCENT"), "25");
    // An empty size is no limit: the variable is left out rather than set empty.
    assert!(
        sidecar
            .env
            .iter()
            .flatten()
            .all(|e| e.name != "KRILL_SNAPSHOT_MAX_TOTAL_SIZE"),
        "{:?}",
        sidecar.env
    );
}

#[test]
fn drains_take_one_krill_at_a_time_and_a_broken_one_never_blocks_them() {
    let rendered = render_yaml(THREE_KRILLS);
    for name in ["krill", "krill-api-server"] {
        let pdb: PodDisruptionBudget = rendered.get("PodDisruptionBudget", name).expect("PDB");
        assert_eq!(
            pdb.spec
                .and_then(|s| s.unhealthy_pod_eviction_policy)
                .as_deref(),
            Some("AlwaysAllow"),
            "{name}"
        );
    }
    let strict =
        render_yaml("podDisruptionBudget:\n  unhealthyPodEvictionPolicy: IfHealthyBudget\n");
    let pdb: PodDisruptionBudget = strict.get("PodDisruptionBudget", "krill").expect("PDB");
    assert_eq!(
        pdb.spec
            .and_then(|s| s.unhealthy_pod_eviction_policy)
            .as_deref(),
        Some("IfHealthyBudget")
    );
    let pdb: PodDisruptionBudget = rendered.get("PodDisruptionBudget", "krill").expect("PDB");
    let spec = pdb.spec.expect("spec");
    assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
    let selector = spec
        .selector
        .and_then(|s| s.match_labels)
        .expect("selector");
    let labels = krill_pod_labels();
    assert!(
        selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "the PDB must cover named krills"
    );
}

#[test]
fn a_reapply_request_reaches_only_the_krills_it_names() {
    let reapply = |rendered: &Rendered, name: &str| {
        let sts = statefulset(rendered, name);
        container(pod_spec(&sts), "krill")
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "KRILL_REAPPLY_CONTEXT")
            .and_then(|e| e.value.clone())
    };
    let rendered = render(&[
        yaml(THREE_KRILLS),
        yaml("krills:\n  alpha:\n    reapplyContext: ticket-42\n"),
    ]);
    assert_eq!(
        reapply(&rendered, "krill-alpha").as_deref(),
        Some("ticket-42")
    );
    assert_eq!(reapply(&rendered, "krill-beta"), None);
    assert_eq!(reapply(&rendered, "krill"), None);
    let fleet = render(&[yaml(THREE_KRILLS), set("reapplyContext=2026-12-03")]);
    assert_eq!(reapply(&fleet, "krill").as_deref(), Some("2026-12-03"));
    assert_eq!(
        reapply(&fleet, "krill-alpha"),
        None,
        "named krills do not inherit it"
    );
}

#[test]
fn every_krill_learns_its_own_memory_limit_for_the_heap_ceiling() {
    let rendered = render(&[
        yaml(THREE_KRILLS),
        yaml("krills:\n  alpha:\n    resources:\n      limits:\n        memory: 3Gi\n"),
    ]);
    for name in ["krill", "krill-alpha"] {
        let sts = statefulset(&rendered, name);
        let var = env(container(pod_spec(&sts), "krill"), "KRILL_MEMORY_LIMIT_MIB");
        let field = var
            .value_from
            .as_ref()
            .and_then(|f| f.resource_field_ref.as_ref())
            .unwrap_or_else(|| panic!("{name}: {var:?}"));
        assert_eq!(field.resource, "limits.memory", "{name}");
        assert_eq!(field.container_name.as_deref(), Some("krill"), "{name}");
        assert_eq!(
            field.divisor.as_ref().map(|q| q.0.as_str()),
            Some("1Mi"),
            "{name}"
        );
    }
}

#[test]
fn helm_test_checks_every_running_krill_by_dns_name() {
    let rendered = render(&[
        yaml(THREE_KRILLS),
        yaml("krills:\n  gamma:\n    paused: true\n"),
    ]);
    let pod: Pod = rendered.get("Pod", "krill-test-ready").expect("test pod");
    assert_eq!(
        pod.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("helm.sh/hook"))
            .map(String::as_str),
        Some("test")
    );
    let spec = pod.spec.expect("spec");
    let test = container(&spec, "ready");
    let urls: Vec<&str> = env_value(test, "KRILL_URLS").split(' ').collect();
    assert_eq!(
        urls,
        vec![
            "http://krill-0.krill.krill.svc.cluster.local:18789",
            "http://krill-1.krill.krill.svc.cluster.local:18789",
            "http://krill-alpha-0.krill.krill.svc.cluster.local:18789",
            "http://krill-beta-0.krill.krill.svc.cluster.local:18789",
        ],
        "paused gamma is skipped"
    );
    let script = test.command.as_ref().map(|c| c.join(" ")).expect("command");
    assert!(
        script.contains("/startupz") && script.contains(r#"body.status === "started""#),
        "the test must ask what the readiness probe asks and check the JSON body, not just the status"
    );
}
