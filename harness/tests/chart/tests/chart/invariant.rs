//! The fleet invariant: adding, changing or removing one krill never restarts, renames or re-maps
//! another krill's pod or volume. Each case renders the chart before and after one edit and
//! compares every other krill's objects byte for byte.

use crate::common;

use common::*;
use krill_chart_tests::{Rendered, ValueSource};
use rstest::rstest;
use serde_json::Value;

const BEFORE: &str = THREE_KRILLS;
/// Marker case: delete beta's entry from the values (a null entry means "a krill with defaults").
const REMOVE_BETA: &str = "remove beta";

fn without_beta() -> String {
    let start = BEFORE.find("  beta:\n").expect("beta in BEFORE");
    let end = BEFORE.find("  gamma:\n").expect("gamma in BEFORE");
    format!("{}{}", &BEFORE[..start], &BEFORE[end..])
}

/// The objects that make up one krill (Secret data excluded: `helm template` cannot `lookup`, so
/// generated tokens differ between renders; on a cluster they are read back and kept).
fn krill_objects(rendered: &Rendered, statefulset: &str) -> Vec<(String, String)> {
    let mut objects = Vec::new();
    for (kind, name) in [
        ("StatefulSet", statefulset.to_owned()),
        ("Service", statefulset.to_owned()),
        ("ConfigMap", format!("{statefulset}-config")),
        ("Secret", format!("{statefulset}-secrets")),
    ] {
        if let Some(manifest) = rendered.find(kind, &name) {
            let mut value = manifest.value.clone();
            if kind == "Secret"
                && let Some(object) = value.as_object_mut()
            {
                object.remove("data");
            }
            let text = serde_json::to_string(&value).expect("serialise");
            objects.push((format!("{kind}/{name}"), text));
        }
    }
    objects
}

fn pod_template(rendered: &Rendered, statefulset: &str) -> Value {
    rendered
        .find("StatefulSet", statefulset)
        .and_then(|manifest| manifest.value.pointer("/spec/template").cloned())
        .unwrap_or_else(|| panic!("no StatefulSet {statefulset}"))
}

/// One edit of `beta` (or adding `delta`), and whether beta's pod must roll.
#[rstest]
#[case::add_a_krill("krills:\n  delta:\n    agentsMd: new\n", None)]
#[case::change_model("krills:\n  beta:\n    model: large\n", Some(true))]
#[case::change_agents_md("krills:\n  beta:\n    agentsMd: \"# Beta now\"\n", Some(true))]
#[case::change_overrides(
    "krills:\n  beta:\n    config:\n      agents:\n        defaults:\n          heartbeat:\n            every: 1h\n",
    Some(true)
)]
#[case::change_env(
    "krills:\n  beta:\n    env:\n      - name: TZ\n        value: Europe/Paris\n",
    Some(true)
)]
#[case::change_resources(
    "krills:\n  beta:\n    resources:\n      requests:\n        cpu: 50m\n        memory: 1Gi\n      limits:\n        memory: 4Gi\n",
    Some(true)
)]
#[case::change_image_tag("krills:\n  beta:\n    image:\n      tag: 0.2.0\n", Some(true))]
#[case::change_volume_size("krills:\n  beta:\n    persistence:\n      size: 50Gi\n", Some(false))]
#[case::pause("krills:\n  beta:\n    paused: true\n", Some(false))]
#[case::remove_a_krill(REMOVE_BETA, None)]
fn editing_one_krill_leaves_the_others_byte_for_byte(
    #[case] edit: &str,
    #[case] beta_rolls: Option<bool>,
) {
    let before = render(&[yaml(BEFORE)]);
    let after = if edit == REMOVE_BETA {
        render(&[yaml(&without_beta())])
    } else {
        render(&[yaml(BEFORE), ValueSource::Yaml(edit.to_owned())])
    };

    for untouched in ["krill", "krill-alpha", "krill-gamma"] {
        let old = krill_objects(&before, untouched);
        let new = krill_objects(&after, untouched);
        assert!(!old.is_empty(), "{untouched} missing before the edit");
        assert_eq!(old, new, "editing beta ({edit:?}) changed {untouched}");
    }

    // Names map to volumes by name alone: each StatefulSet keeps its name and claim template.
    for untouched in ["krill-alpha", "krill-gamma"] {
        assert_eq!(
            before
                .find("StatefulSet", untouched)
                .and_then(|m| m.value.pointer("/spec/volumeClaimTemplates").cloned()),
            after
                .find("StatefulSet", untouched)
                .and_then(|m| m.value.pointer("/spec/volumeClaimTemplates").cloned()),
        );
    }

    match beta_rolls {
        Some(rolls) => {
            let changed = pod_template(&before, "krill-beta") != pod_template(&after, "krill-beta");
            assert_eq!(changed, rolls, "beta's pod template change after {edit:?}");
            assert_ne!(
                krill_objects(&before, "krill-beta"),
                krill_objects(&after, "krill-beta"),
                "the edit {edit:?} had no effect"
            );
        }
        None if edit == REMOVE_BETA => {
            assert!(
                after.find("StatefulSet", "krill-beta").is_none(),
                "beta was not removed"
            );
            assert!(after.find("Service", "krill-beta").is_none());
            assert!(after.find("ConfigMap", "krill-beta-config").is_none());
        }
        None => {
            assert!(
                after.find("StatefulSet", "krill-delta").is_some(),
                "delta was not added"
            );
            assert_eq!(
                krill_objects(&before, "krill-beta"),
                krill_objects(&after, "krill-beta"),
                "adding delta changed beta"
            );
        }
    }
}

#[test]
fn changing_the_shared_template_rolls_every_krill_and_nothing_else_in_their_pods() {
    let before = render(&[yaml(BEFORE)]);
    let after = render(&[
        yaml(BEFORE),
        yaml("config:\n  agents:\n    defaults:\n      heartbeat:\n        every: 5m\n"),
    ]);
    for name in ["krill", "krill-alpha", "krill-beta", "krill-gamma"] {
        let old_sts = statefulset(&before, name);
        let new_sts = statefulset(&after, name);
        assert_ne!(
            annotation(&old_sts, "checksum/config"),
            annotation(&new_sts, "checksum/config"),
            "{name} would not roll"
        );
        assert_eq!(
            annotation(&old_sts, "checksum/krill"),
            annotation(&new_sts, "checksum/krill"),
            "{name}"
        );
        let mut old = pod_template(&before, name);
        let mut new = pod_template(&after, name);
        for template in [&mut old, &mut new] {
            if let Some(annotations) = template
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                annotations.remove("checksum/config");
            }
        }
        assert_eq!(old, new, "{name}: only the checksum may change");
    }
}

#[test]
fn changing_a_krills_overrides_rolls_only_that_krill() {
    let before = render(&[yaml(BEFORE)]);
    let after = render(&[
        yaml(BEFORE),
        yaml("krills:\n  alpha:\n    config:\n      tools:\n        profile: minimal\n"),
    ]);
    assert_ne!(
        annotation(&statefulset(&before, "krill-alpha"), "checksum/krill"),
        annotation(&statefulset(&after, "krill-alpha"), "checksum/krill"),
    );
    for name in ["krill", "krill-beta", "krill-gamma"] {
        assert_eq!(
            pod_template(&before, name),
            pod_template(&after, name),
            "{name} rolled"
        );
    }
}

#[test]
fn changing_the_fleet_instructions_does_not_roll_a_krill_with_its_own() {
    let before = render(&[yaml(BEFORE)]);
    let after = render(&[yaml(BEFORE), yaml("agentsMd: \"# Fleet v2\"\n")]);
    assert_eq!(
        pod_template(&before, "krill-alpha"),
        pod_template(&after, "krill-alpha"),
        "alpha has its own AGENTS.md"
    );
    assert_ne!(
        pod_template(&before, "krill-beta"),
        pod_template(&after, "krill-beta"),
        "beta inherits the fleet's AGENTS.md"
    );
}

#[test]
fn the_proxy_config_is_not_part_of_any_krill_pod() {
    let before = render(&[yaml(BEFORE)]);
    let after = render(&[
        yaml(BEFORE),
        yaml("apiServer:\n  extraConfig:\n    router_settings:\n      num_retries: 5\n"),
    ]);
    for name in ["krill", "krill-alpha", "krill-beta", "krill-gamma"] {
        assert_eq!(
            pod_template(&before, name),
            pod_template(&after, name),
            "{name} rolled on a proxy change"
        );
    }
    let proxy_sum = |rendered: &Rendered| {
        rendered
            .find("Deployment", "krill-api-server")
            .and_then(|m| {
                m.value
                    .pointer("/spec/template/metadata/annotations/checksum~1config")
                    .cloned()
            })
            .expect("proxy checksum")
    };
    assert_ne!(
        proxy_sum(&before),
        proxy_sum(&after),
        "the proxy itself must roll"
    );
}
