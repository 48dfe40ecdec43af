//! Shared by the rendering tests: the real helm, values helpers and pod-spec accessors.
#![allow(dead_code)]

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec};
use krill_chart_tests::{Helm, Rendered, ValueSource};

pub fn helm() -> Helm {
    Helm::locate().unwrap_or_else(|err| panic!("{err}"))
}

/// Renders release `krill` in namespace `krill` with the given values.
pub fn render(values: &[ValueSource]) -> Rendered {
    krill_chart_tests::render(&helm(), "krill", "krill", values)
        .unwrap_or_else(|err| panic!("{err}"))
}

pub fn render_yaml(yaml: &str) -> Rendered {
    render(&[ValueSource::Yaml(yaml.to_owned())])
}

pub fn yaml(text: &str) -> ValueSource {
    ValueSource::Yaml(text.to_owned())
}

pub fn set(expression: &str) -> ValueSource {
    ValueSource::Set(expression.to_owned())
}

pub fn statefulset(rendered: &Rendered, name: &str) -> StatefulSet {
    rendered
        .get("StatefulSet", name)
        .unwrap_or_else(|err| panic!("{err}"))
}

pub fn pod_spec(sts: &StatefulSet) -> &PodSpec {
    sts.spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .unwrap_or_else(|| panic!("StatefulSet {:?} has no pod spec", sts.metadata.name))
}

pub fn container<'a>(spec: &'a PodSpec, name: &str) -> &'a Container {
    spec.containers
        .iter()
        .find(|container| container.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no container {name}; have {:?}",
                spec.containers.iter().map(|c| &c.name).collect::<Vec<_>>()
            )
        })
}

pub fn env<'a>(container: &'a Container, name: &str) -> &'a EnvVar {
    container
        .env
        .iter()
        .flatten()
        .find(|var| var.name == name)
        .unwrap_or_else(|| panic!("container {} has no env {name}", container.name))
}

pub fn env_value<'a>(container: &'a Container, name: &str) -> &'a str {
    env(container, name)
        .value
        .as_deref()
        .unwrap_or_else(|| panic!("env {name} has no literal value"))
}

/// (secret name, key) of an env var that must come from a Secret.
pub fn env_secret(container: &Container, name: &str) -> (String, String) {
    let selector = env(container, name)
        .value_from
        .as_ref()
        .and_then(|from| from.secret_key_ref.as_ref())
        .unwrap_or_else(|| panic!("env {name} of {} is not a secretKeyRef", container.name));
    (selector.name.clone(), selector.key.clone())
}

pub fn annotation(sts: &StatefulSet, key: &str) -> String {
    sts.spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.annotations.as_ref())
        .and_then(|annotations| annotations.get(key))
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "StatefulSet {:?} has no pod annotation {key}",
                sts.metadata.name
            )
        })
}

/// Named krills used by several tests, with a bit of every kind of override.
pub const THREE_KRILLS: &str = r##"
replicas: 2
agentsMd: "# Fleet\n"
apiServer:
  models:
    - name: default
      model: openai/a
      apiKeyEnv: KEY_A
    - name: large
      model: openai/b
      apiKeyEnv: KEY_B
krills:
  alpha:
    model: large
    agentsMd: "# Alpha\n"
  beta:
    config:
      agents:
        defaults:
          heartbeat:
            every: 15m
    env:
      - name: TZ
        value: UTC
  gamma:
    image:
      tag: 0.0.9
    persistence:
      size: 3Gi
"##;
