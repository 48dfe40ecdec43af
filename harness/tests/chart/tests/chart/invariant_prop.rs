//! The fleet invariant over generated fleets: for a random set of named krills with random
//! overrides, one random edit (add, change or remove one krill) leaves every other krill's
//! StatefulSet, Service and ConfigMap byte for byte identical. Each case runs the real helm twice,
//! so the case count is kept small.

use crate::common;

use std::collections::BTreeMap;

use krill_chart_tests::{Rendered, ValueSource};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct KrillSpec {
    model_large: bool,
    agents_md: Option<String>,
    heartbeat: Option<u8>,
    tag: Option<u8>,
    size_gi: Option<u8>,
    paused: bool,
}

fn krill_spec() -> impl Strategy<Value = KrillSpec> {
    (
        any::<bool>(),
        proptest::option::of("[a-z ]{1,20}"),
        proptest::option::of(1u8..60),
        proptest::option::of(0u8..9),
        proptest::option::of(1u8..50),
        any::<bool>(),
    )
        .prop_map(
            |(model_large, agents_md, heartbeat, tag, size_gi, paused)| KrillSpec {
                model_large,
                agents_md,
                heartbeat,
                tag,
                size_gi,
                paused,
            },
        )
}

fn krill_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5})?"
}

fn yaml_of(krills: &BTreeMap<String, KrillSpec>) -> String {
    let mut out = String::from(
        "apiServer:\n  models:\n    - {name: default, model: openai/a}\n    - {name: large, model: openai/b}\nkrills:\n",
    );
    if krills.is_empty() {
        out.push_str("  {}\n");
    }
    for (name, spec) in krills {
        out.push_str(&format!(
            // Quoted: YAML 1.1 would read a generated `y` or `no` as a boolean key.
            "  \"{name}\":\n    model: {}\n    paused: {}\n",
            if spec.model_large { "large" } else { "default" },
            spec.paused
        ));
        if let Some(text) = &spec.agents_md {
            out.push_str(&format!("    agentsMd: {text:?}\n"));
        }
        if let Some(minutes) = spec.heartbeat {
            out.push_str(&format!(
                "    config: {{agents: {{defaults: {{heartbeat: {{every: {minutes}m}}}}}}}}\n"
            ));
        }
        if let Some(tag) = spec.tag {
            out.push_str(&format!("    image: {{tag: \"0.{tag}.0\"}}\n"));
        }
        if let Some(size) = spec.size_gi {
            out.push_str(&format!("    persistence: {{size: {size}Gi}}\n"));
        }
    }
    out
}

fn objects_of(rendered: &Rendered, name: &str) -> Vec<String> {
    let base = format!("krill-{name}");
    [
        ("StatefulSet", base.clone()),
        ("Service", base.clone()),
        ("ConfigMap", format!("{base}-config")),
    ]
    .iter()
    .map(|(kind, object)| {
        let manifest = rendered
            .find(kind, object)
            .unwrap_or_else(|| panic!("{kind} {object} missing"));
        serde_json::to_string(&manifest.value).expect("serialise")
    })
    .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Add(String, KrillSpec),
    Change(usize, KrillSpec),
    Remove(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (krill_name(), krill_spec()).prop_map(|(name, spec)| Edit::Add(name, spec)),
        (any::<usize>(), krill_spec()).prop_map(|(index, spec)| Edit::Change(index, spec)),
        any::<usize>().prop_map(Edit::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn one_edit_never_touches_another_krill(
        fleet in proptest::collection::btree_map(krill_name(), krill_spec(), 1..6),
        edit in edit(),
    ) {
        let mut after = fleet.clone();
        let edited = match &edit {
            Edit::Add(name, spec) => { after.insert(name.clone(), spec.clone()); name.clone() }
            Edit::Change(index, spec) => {
                let name = fleet.keys().nth(index % fleet.len()).cloned().expect("non-empty");
                after.insert(name.clone(), spec.clone());
                name
            }
            Edit::Remove(index) => {
                let name = fleet.keys().nth(index % fleet.len()).cloned().expect("non-empty");
                after.remove(&name);
                name
            }
        };
        let before_render = common::render(&[ValueSource::Yaml(yaml_of(&fleet))]);
        let after_render = common::render(&[ValueSource::Yaml(yaml_of(&after))]);
        for name in fleet.keys().filter(|name| **name != edited) {
            prop_assert_eq!(objects_of(&before_render, name), objects_of(&after_render, name), "{} changed by {:?}", name, edit);
        }
        // The anonymous fleet is never touched by a named krill's edit either.
        prop_assert_eq!(
            before_render.find("StatefulSet", "krill").map(|m| m.value.clone()),
            after_render.find("StatefulSet", "krill").map(|m| m.value.clone())
        );
    }
}
