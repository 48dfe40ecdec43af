//! Fleet and identity: names, DNS, volumes and KRILL_NAME as the pod contract and the cluster
//! tests expect them.

use crate::common;

use common::*;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use rstest::rstest;

#[test]
fn default_fleet_is_one_statefulset_named_krill() {
    let rendered = render(&[]);
    let sts = statefulset(&rendered, "krill");
    let spec = sts.spec.as_ref().expect("spec");
    assert_eq!(spec.service_name.as_deref(), Some("krill"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    assert_eq!(spec.replicas, Some(1));
    let claims = spec
        .volume_claim_templates
        .as_ref()
        .expect("volumeClaimTemplates");
    assert_eq!(claims.len(), 1, "one PVC per pod");
    assert_eq!(
        claims[0].metadata.name.as_deref(),
        Some("data"),
        "PVCs must be data-krill-N"
    );
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .expect("retention policy");
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
    assert_eq!(retention.when_scaled.as_deref(), Some("Retain"));

    let pod = pod_spec(&sts);
    let krill = container(pod, "krill");
    assert_eq!(
        krill.image.as_deref(),
        Some("krill:0.1.0"),
        "image defaults to krill:<appVersion>"
    );
    assert_eq!(krill.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let ports: Vec<i32> = krill
        .ports
        .iter()
        .flatten()
        .map(|port| port.container_port)
        .collect();
    assert_eq!(ports, vec![18789]);
    let name = env(krill, "KRILL_NAME")
        .value_from
        .as_ref()
        .and_then(|from| from.field_ref.as_ref())
        .expect("fieldRef");
    assert_eq!(
        name.field_path, "metadata.name",
        "anonymous krills are named after their pod"
    );

    let headless: Service = rendered
        .get("Service", "krill")
        .expect("headless Service krill");
    let service = headless.spec.expect("spec");
    assert_eq!(service.cluster_ip.as_deref(), Some("None"));
    assert_eq!(service.ports.expect("ports")[0].port, 18789);
    let selector = service.selector.expect("selector");
    let labels = sts
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.labels.clone())
        .expect("pod labels");
    for (key, value) in &selector {
        assert_eq!(
            labels.get(key),
            Some(value),
            "Service krill must select the fleet's pods ({key})"
        );
    }
}

#[rstest]
#[case::release_krill("krill", "krill")]
#[case::other_release("agents", "agents-krill")]
#[case::release_containing_krill("krill-prod", "krill-prod")]
fn fullname_follows_the_release(#[case] release: &str, #[case] fullname: &str) {
    let rendered = krill_chart_tests::render(&helm(), release, "krill", &[])
        .unwrap_or_else(|err| panic!("{err}"));
    let sts: StatefulSet = rendered
        .get("StatefulSet", fullname)
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        sts.spec.and_then(|spec| spec.service_name).as_deref(),
        Some(fullname)
    );
    assert!(
        rendered
            .find("Service", &format!("{fullname}-api-server"))
            .is_some()
    );
}

#[test]
fn fleet_size_comes_from_replicas() {
    let rendered = render(&[set("replicas=5")]);
    assert_eq!(
        statefulset(&rendered, "krill")
            .spec
            .and_then(|spec| spec.replicas),
        Some(5)
    );
}

#[rstest]
#[case("alice")]
#[case("bob-2")]
#[case("d-with-a-longer-name-that-still-fits-in-46")]
fn a_named_krill_is_its_own_statefulset(#[case] name: &str) {
    let rendered = render(&[yaml(&format!("krills:\n  {name}:\n    agentsMd: hi\n"))]);
    let sts_name = format!("krill-{name}");
    let sts = statefulset(&rendered, &sts_name);
    let spec = sts.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.service_name.as_deref(),
        Some("krill"),
        "pod DNS krill-{name}-0.krill.<ns>.svc"
    );
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    let claims = spec.volume_claim_templates.as_ref().expect("claims");
    assert_eq!(
        claims[0].metadata.name.as_deref(),
        Some("data"),
        "PVC data-krill-{name}-0"
    );
    assert!(format!("data-{sts_name}-0").len() <= 63);
    assert!(
        sts_name.len() <= 52,
        "controller-revision-hash label must fit"
    );

    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|meta| meta.labels.clone())
        .expect("labels");
    assert_eq!(labels.get("krill.dev/name").map(String::as_str), Some(name));
    let krill = container(pod_spec(&sts), "krill");
    let field = env(krill, "KRILL_NAME")
        .value_from
        .as_ref()
        .and_then(|from| from.field_ref.as_ref())
        .expect("fieldRef");
    assert_eq!(field.field_path, "metadata.labels['krill.dev/name']");

    let own: Service = rendered
        .get("Service", &sts_name)
        .unwrap_or_else(|err| panic!("{err}"));
    let own = own.spec.expect("spec");
    assert_eq!(
        own.cluster_ip.as_deref(),
        Some("None"),
        "krill-{name}.<ns>.svc resolves to the pod itself"
    );
    let selector = own.selector.expect("selector");
    assert_eq!(
        selector.get("krill.dev/name").map(String::as_str),
        Some(name)
    );
    for (key, value) in &selector {
        assert_eq!(
            labels.get(key),
            Some(value),
            "Service {sts_name} must select its pod ({key})"
        );
    }
    // The governing Service `krill` selects named pods too, or their DNS names would not exist.
    let governing: Service = rendered.get("Service", "krill").expect("Service krill");
    for (key, value) in governing
        .spec
        .and_then(|spec| spec.selector)
        .expect("selector")
    {
        assert_eq!(
            labels.get(&key),
            Some(&value),
            "Service krill must select {sts_name}'s pod ({key})"
        );
    }
}

#[test]
fn no_statefulset_selects_another_ones_pods() {
    let rendered = render_yaml(THREE_KRILLS);
    let sets: Vec<StatefulSet> = rendered.all("StatefulSet").expect("statefulsets");
    assert_eq!(sets.len(), 4, "fleet + alpha, beta, gamma");
    for owner in &sets {
        let selector = owner
            .spec
            .as_ref()
            .and_then(|spec| spec.selector.match_labels.clone())
            .expect("matchLabels");
        for other in &sets {
            let labels = other
                .spec
                .as_ref()
                .and_then(|spec| spec.template.metadata.as_ref())
                .and_then(|meta| meta.labels.clone())
                .expect("labels");
            let matches = selector
                .iter()
                .all(|(key, value)| labels.get(key) == Some(value));
            assert_eq!(
                matches,
                owner.metadata.name == other.metadata.name,
                "selector of {:?} vs pods of {:?}",
                owner.metadata.name,
                other.metadata.name
            );
        }
    }
}

#[test]
fn per_krill_overrides_apply_to_that_krill_only() {
    let rendered = render_yaml(THREE_KRILLS);
    let alpha = statefulset(&rendered, "krill-alpha");
    let beta = statefulset(&rendered, "krill-beta");
    let gamma = statefulset(&rendered, "krill-gamma");
    assert_eq!(
        env_value(container(pod_spec(&alpha), "krill"), "OPENCLAW_MODEL"),
        "large"
    );
    assert_eq!(
        env_value(container(pod_spec(&beta), "krill"), "OPENCLAW_MODEL"),
        "default"
    );
    assert_eq!(env_value(container(pod_spec(&beta), "krill"), "TZ"), "UTC");
    assert!(
        container(pod_spec(&alpha), "krill")
            .env
            .iter()
            .flatten()
            .all(|var| var.name != "TZ")
    );
    assert_eq!(
        container(pod_spec(&gamma), "krill").image.as_deref(),
        Some("krill:0.0.9")
    );
    assert_eq!(
        container(pod_spec(&beta), "krill").image.as_deref(),
        Some("krill:0.1.0")
    );
    let size = |sts: &StatefulSet| {
        sts.spec
            .as_ref()
            .and_then(|spec| spec.volume_claim_templates.as_ref())
            .and_then(|claims| claims[0].spec.as_ref())
            .and_then(|spec| spec.resources.as_ref())
            .and_then(|resources| resources.requests.as_ref())
            .and_then(|requests| requests.get("storage"))
            .map(|quantity| quantity.0.clone())
            .expect("storage request")
    };
    assert_eq!(size(&gamma), "3Gi");
    assert_eq!(size(&alpha), "10Gi");

    // AGENTS.md: own text for alpha, the fleet's for the others, at the contract path.
    let alpha_config: ConfigMap = rendered
        .get("ConfigMap", "krill-alpha-config")
        .expect("alpha's ConfigMap");
    assert_eq!(
        alpha_config
            .data
            .as_ref()
            .and_then(|data| data.get("AGENTS.md"))
            .map(String::as_str),
        Some("# Alpha\n")
    );
    let beta_config: ConfigMap = rendered
        .get("ConfigMap", "krill-beta-config")
        .expect("beta's ConfigMap");
    let beta_data = beta_config.data.expect("data");
    assert_eq!(
        beta_data.get("AGENTS.md").map(String::as_str),
        Some("# Fleet\n")
    );
    let overrides: serde_json::Value =
        serde_json::from_str(beta_data.get("beta.json").expect("beta.json"))
            .expect("overrides are JSON");
    assert_eq!(
        overrides
            .pointer("/agents/defaults/heartbeat/every")
            .and_then(|v| v.as_str()),
        Some("15m")
    );
    let mounts = container(pod_spec(&alpha), "krill")
        .volume_mounts
        .clone()
        .unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|mount| mount.mount_path == "/krill/context/AGENTS.md"
                && mount.sub_path.as_deref() == Some("AGENTS.md"))
    );
    assert!(
        mounts
            .iter()
            .any(|mount| mount.mount_path == "/krill/config" && mount.read_only == Some(true))
    );

    // /krill/config holds the template and only this krill's overrides.
    let config_volume = pod_spec(&beta)
        .volumes
        .iter()
        .flatten()
        .find(|volume| volume.name == "config")
        .expect("config volume");
    let paths: Vec<String> = config_volume
        .projected
        .as_ref()
        .expect("projected")
        .sources
        .iter()
        .flatten()
        .filter_map(|source| source.config_map.as_ref())
        .flat_map(|config_map| {
            config_map
                .items
                .iter()
                .flatten()
                .map(|item| item.path.clone())
        })
        .collect();
    assert_eq!(
        paths,
        vec![
            "openclaw.json5".to_owned(),
            "overrides/beta.json".to_owned()
        ]
    );
}

#[test]
fn a_paused_krill_keeps_its_statefulset_and_volume_at_zero_replicas() {
    let rendered = render_yaml("krills:\n  sleepy:\n    paused: true\n");
    let sts = statefulset(&rendered, "krill-sleepy");
    assert_eq!(sts.spec.as_ref().and_then(|spec| spec.replicas), Some(0));
    assert!(
        sts.spec
            .as_ref()
            .and_then(|spec| spec.volume_claim_templates.as_ref())
            .is_some()
    );
}

#[test]
fn init_claw_is_mounted_at_the_contract_path_from_each_source() {
    let rendered = render(&[krill_chart_tests::ValueSource::File(
        krill_chart_tests::repo_root().join("harness/tests/chart/cases/init-claw.yaml"),
    )]);
    for (sts_name, expected_sub_path) in [
        ("krill", "init.claw"),
        ("krill-restored", "init.claw"),
        ("krill-big", "archives/big.claw"),
    ] {
        let sts = statefulset(&rendered, sts_name);
        let mount = container(pod_spec(&sts), "krill")
            .volume_mounts
            .iter()
            .flatten()
            .find(|mount| mount.mount_path == "/krill/context/init.claw")
            .unwrap_or_else(|| panic!("{sts_name} does not mount /krill/context/init.claw"));
        assert_eq!(
            mount.sub_path.as_deref(),
            Some(expected_sub_path),
            "{sts_name}"
        );
        assert_eq!(mount.read_only, Some(true));
    }
    let fresh = statefulset(&rendered, "krill-fresh");
    assert!(
        container(pod_spec(&fresh), "krill")
            .volume_mounts
            .iter()
            .flatten()
            .all(|mount| mount.mount_path != "/krill/context/init.claw"),
        "a named krill does not inherit the fleet's init archive"
    );
}

#[test]
fn pod_management_policy_is_a_value_and_named_krills_follow_it() {
    let rendered = render_yaml("podManagementPolicy: OrderedReady\nkrills:\n  alice: {}\n");
    for name in ["krill", "krill-alice"] {
        let sts = statefulset(&rendered, name);
        let policy = sts
            .spec
            .as_ref()
            .and_then(|spec| spec.pod_management_policy.as_deref());
        assert_eq!(policy, Some("OrderedReady"), "StatefulSet {name}");
    }
}
