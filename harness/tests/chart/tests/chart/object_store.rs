//! Copies off the node (`snapshots.objectStore`) and an `initClaw` from a bucket: the credentials
//! reach the snapshot sidecar and the fetch-init-claw init container only, and the NetworkPolicy
//! opens the storage endpoint's port alone.

use crate::common;

use common::*;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const OBJECT_STORE: &str = "\
snapshots:
  objectStore:
    bucket: krill-snapshots
    endpoint: http://seaweedfs.storage.svc:8333
    prefix: team/a
    keep: 3
    existingSecret:
      name: s3-credentials
      accessKeyIdKey: id
      secretAccessKeyKey: secret
    egressTo:
      - ipBlock:
          cidr: 10.1.2.3/32
initClaw:
  objectStore:
    latestOf: alice
krills:
  bob:
    initClaw:
      objectStore:
        key: team/a/old/bob/20261201T120000Z.claw
  carol: {}
";

fn init_container<'a>(
    spec: &'a k8s_openapi::api::core::v1::PodSpec,
    name: &str,
) -> Option<&'a Container> {
    spec.init_containers
        .iter()
        .flatten()
        .find(|c| c.name == name)
}

fn secret_refs(container: &Container) -> Vec<(String, String, String)> {
    container
        .env
        .iter()
        .flatten()
        .filter_map(|var| {
            let from = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((var.name.clone(), from.name.clone(), from.key.clone()))
        })
        .collect()
}

fn expected_refs() -> Vec<(String, String, String)> {
    vec![
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            "s3-credentials".to_owned(),
            "id".to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            "s3-credentials".to_owned(),
            "secret".to_owned(),
        ),
    ]
}

#[test]
fn the_sidecar_gets_the_bucket_and_the_credentials_and_the_krill_container_does_not() {
    let rendered = render_yaml(OBJECT_STORE);
    for name in ["krill", "krill-bob", "krill-carol"] {
        let sts = statefulset(&rendered, name);
        let spec = pod_spec(&sts);
        let sidecar = container(spec, "snapshot");
        assert_eq!(secret_refs(sidecar), expected_refs(), "{name}");
        assert_eq!(
            env_value(sidecar, "KRILL_OBJECT_STORE_BUCKET"),
            "krill-snapshots"
        );
        assert_eq!(
            env_value(sidecar, "KRILL_OBJECT_STORE_ENDPOINT"),
            "http://seaweedfs.storage.svc:8333"
        );
        assert_eq!(env_value(sidecar, "KRILL_OBJECT_STORE_PREFIX"), "team/a");
        assert_eq!(env_value(sidecar, "KRILL_OBJECT_STORE_KEEP"), "3");
        assert_eq!(env_value(sidecar, "KRILL_RELEASE"), "krill");
        let krill = container(spec, "krill");
        assert!(
            secret_refs(krill).is_empty(),
            "{name}: {:?}",
            secret_refs(krill)
        );
        assert!(
            krill
                .env
                .iter()
                .flatten()
                .all(|v| !v.name.starts_with("AWS_") && !v.name.starts_with("KRILL_OBJECT_STORE")),
            "{name}: {:?}",
            krill.env
        );
    }
}

#[test]
fn an_init_claw_from_a_bucket_is_fetched_by_an_init_container() {
    let rendered = render_yaml(OBJECT_STORE);
    let cases = [
        // The fleet: the newest copy of alice in this release.
        (
            "krill",
            Some("s3://krill-snapshots/team/a/krill/alice/latest"),
        ),
        // bob: one key.
        (
            "krill-bob",
            Some("s3://krill-snapshots/team/a/old/bob/20261201T120000Z.claw"),
        ),
        // carol: named krills do not inherit initClaw.
        ("krill-carol", None),
    ];
    for (name, object) in cases {
        let sts = statefulset(&rendered, name);
        let spec = pod_spec(&sts);
        let krill = container(spec, "krill");
        assert!(
            krill
                .volume_mounts
                .iter()
                .flatten()
                .all(|m| m.mount_path != "/krill/context/init.claw"),
            "{name}"
        );
        assert!(
            spec.volumes.iter().flatten().all(|v| v.name != "init-claw"),
            "{name}"
        );
        let fetch = init_container(spec, "fetch-init-claw");
        match object {
            Some(object) => {
                let fetch = fetch.unwrap_or_else(|| panic!("{name}: no fetch-init-claw"));
                assert_eq!(
                    fetch.command.clone().unwrap_or_default(),
                    ["krill", "fetch-init-claw"]
                );
                assert_eq!(env_value(fetch, "KRILL_INIT_CLAW_OBJECT"), object);
                assert_eq!(secret_refs(fetch), expected_refs(), "{name}");
                assert!(
                    fetch
                        .volume_mounts
                        .iter()
                        .flatten()
                        .any(|m| m.name == "data" && m.mount_path == "/krill/data"),
                    "{name}"
                );
                // The krill container learns which object it was, to restore the download.
                assert_eq!(env_value(krill, "KRILL_INIT_CLAW_OBJECT"), object);
            }
            None => {
                assert!(fetch.is_none(), "{name}");
                assert!(
                    krill
                        .env
                        .iter()
                        .flatten()
                        .all(|v| v.name != "KRILL_INIT_CLAW_OBJECT"),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn the_network_policy_opens_the_storage_port_only() {
    let egress_to_storage = |values: &str| {
        let policy: NetworkPolicy = render_yaml(values)
            .get("NetworkPolicy", "krill")
            .expect("krill NetworkPolicy");
        policy
            .spec
            .expect("spec")
            .egress
            .unwrap_or_default()
            .into_iter()
            .filter(|rule| {
                rule.ports
                    .iter()
                    .flatten()
                    .any(|p| !matches!(p.port, Some(IntOrString::Int(53 | 8080 | 4000))))
            })
            .collect::<Vec<_>>()
    };
    let rules = egress_to_storage(OBJECT_STORE);
    assert_eq!(rules.len(), 1, "{rules:?}");
    let ports = rules[0].ports.clone().unwrap_or_default();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].port, Some(IntOrString::Int(8333)));
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
    let peers = rules[0].to.clone().unwrap_or_default();
    assert_eq!(
        peers[0].ip_block.as_ref().map(|b| b.cidr.as_str()),
        Some("10.1.2.3/32")
    );

    // AWS itself: https, 443, any address.
    let aws = egress_to_storage(
        "snapshots:\n  objectStore:\n    bucket: krill-snapshots\n    existingSecret:\n      name: s3\n",
    );
    assert_eq!(aws.len(), 1, "{aws:?}");
    assert_eq!(
        aws[0].ports.clone().unwrap_or_default()[0].port,
        Some(IntOrString::Int(443))
    );
    assert!(aws[0].to.is_none());

    // No bucket, no rule.
    assert!(egress_to_storage("").is_empty());
}
