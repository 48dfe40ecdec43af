//! No secret value ever lands in a ConfigMap or a literal env value; secrets reach pods only
//! through Secret references, and generated ones are real Secrets.

mod common;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use krill_chart_tests::Rendered;
use rstest::rstest;

const PROVIDER_SENTINEL: &str = "sentinel-provider-key-7f3a9c";
const API_KEY_SENTINEL: &str = "sentinel-direct-api-key-51bd02";

fn b64(text: &str) -> String {
    // Enough base64 for the assertion (standard alphabet, padding).
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every ConfigMap's data and every literal env value, as one searchable text.
fn public_text(rendered: &Rendered) -> String {
    let mut text = String::new();
    for config_map in rendered.all::<ConfigMap>("ConfigMap").expect("ConfigMaps") {
        for value in config_map.data.unwrap_or_default().values() {
            text.push_str(value);
            text.push('\n');
        }
        for value in config_map.binary_data.unwrap_or_default().values() {
            text.push_str(&String::from_utf8_lossy(&value.0));
        }
    }
    for manifest in rendered.manifests.iter().filter(|m| m.kind != "Secret") {
        // Literal env values, annotations and labels of every workload.
        text.push_str(&serde_json::to_string(&manifest.value).expect("serialise"));
    }
    text
}

fn secret_values(rendered: &Rendered) -> Vec<String> {
    rendered
        .all::<Secret>("Secret")
        .expect("Secrets")
        .into_iter()
        .flat_map(|secret| secret.data.unwrap_or_default().into_values())
        .map(|bytes| String::from_utf8_lossy(&bytes.0).into_owned())
        .collect()
}

#[test]
fn provider_keys_stay_in_the_proxys_secret() {
    let rendered = render(&[
        yaml(THREE_KRILLS),
        yaml(&format!(
            "apiServer:\n  providerKeys:\n    KEY_A: {PROVIDER_SENTINEL}\n"
        )),
    ]);
    let public = public_text(&rendered);
    assert!(
        !public.contains(PROVIDER_SENTINEL),
        "provider key found outside a Secret"
    );
    assert!(
        !public.contains(&b64(PROVIDER_SENTINEL)),
        "base64 provider key found outside a Secret"
    );
    assert!(
        secret_values(&rendered)
            .iter()
            .any(|value| value == PROVIDER_SENTINEL),
        "the key must be in a Secret"
    );

    let proxy: ConfigMap = rendered
        .get("ConfigMap", "krill-api-server")
        .expect("proxy config");
    let config = proxy
        .data
        .and_then(|data| data.get("config.yaml").cloned())
        .expect("config.yaml");
    assert!(config.contains("api_key: os.environ/KEY_A"), "{config}");
    assert!(
        config.contains("master_key: os.environ/LITELLM_MASTER_KEY"),
        "{config}"
    );

    // Agent pods never see provider keys: no envFrom of the provider Secret in any krill.
    for manifest in rendered.of_kind("StatefulSet") {
        let text = serde_json::to_string(&manifest.value).expect("serialise");
        assert!(
            !text.contains("krill-api-server-providers"),
            "{} references the provider keys",
            manifest.name
        );
    }
}

#[test]
fn krills_present_the_proxy_key_from_a_secret() {
    let rendered = render_yaml(THREE_KRILLS);
    for name in ["krill", "krill-alpha", "krill-beta", "krill-gamma"] {
        let sts = statefulset(&rendered, name);
        let krill = container(pod_spec(&sts), "krill");
        assert_eq!(
            env_secret(krill, "OPENCLAW_API_KEY"),
            ("krill-api-server".into(), "master-key".into())
        );
        assert_eq!(
            env_value(krill, "OPENCLAW_API_BASE"),
            "http://krill-api-server:4000/v1"
        );
    }
    let master: Secret = rendered
        .get("Secret", "krill-api-server")
        .expect("master key Secret");
    let key = master
        .data
        .and_then(|data| data.get("master-key").cloned())
        .expect("master-key");
    assert!(
        String::from_utf8_lossy(&key.0).starts_with("sk-"),
        "LiteLLM master keys start with sk-"
    );
}

#[test]
fn each_named_krill_has_its_own_gateway_token() {
    let rendered = render_yaml(THREE_KRILLS);
    let mut tokens = Vec::new();
    for (sts_name, secret_name) in [
        ("krill", "krill-secrets"),
        ("krill-alpha", "krill-alpha-secrets"),
        ("krill-beta", "krill-beta-secrets"),
    ] {
        let sts = statefulset(&rendered, sts_name);
        let krill = container(pod_spec(&sts), "krill");
        assert_eq!(
            env_secret(krill, "OPENCLAW_GATEWAY_TOKEN"),
            (secret_name.to_owned(), "gateway-token".to_owned())
        );
        let secret: Secret = rendered
            .get("Secret", secret_name)
            .unwrap_or_else(|err| panic!("{err}"));
        let token = secret
            .data
            .and_then(|data| data.get("gateway-token").cloned())
            .expect("gateway-token");
        assert!(token.0.len() >= 32, "{secret_name}: token too short");
        tokens.push(token.0);
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "tokens must differ between krills");
}

#[test]
fn a_direct_api_key_goes_to_a_secret_when_the_proxy_is_off() {
    let rendered = render(&[yaml(&format!(
        "apiServer:\n  enabled: false\napiBase: https://models.example.com/v1\napiKey:\n  value: {API_KEY_SENTINEL}\n"
    ))]);
    assert!(!public_text(&rendered).contains(API_KEY_SENTINEL));
    assert!(
        secret_values(&rendered)
            .iter()
            .any(|value| value == API_KEY_SENTINEL)
    );
    let sts = statefulset(&rendered, "krill");
    let krill = container(pod_spec(&sts), "krill");
    assert_eq!(
        env_secret(krill, "OPENCLAW_API_KEY"),
        ("krill-secrets".into(), "api-key".into())
    );
    assert_eq!(
        env_value(krill, "OPENCLAW_API_BASE"),
        "https://models.example.com/v1"
    );
    assert!(rendered.find("Deployment", "krill-api-server").is_none());
}

#[test]
fn existing_secrets_are_used_and_nothing_is_generated_for_them() {
    let rendered = render(&[krill_chart_tests::Values::File(
        krill_chart_tests::repo_root().join("harness/chart-tests/cases/existing-secrets.yaml"),
    )]);
    let fleet = statefulset(&rendered, "krill");
    let krill = container(pod_spec(&fleet), "krill");
    assert_eq!(
        env_secret(krill, "OPENCLAW_GATEWAY_TOKEN"),
        ("fleet-token".into(), "token".into())
    );
    assert_eq!(
        env_secret(krill, "OPENCLAW_API_KEY"),
        ("proxy-master".into(), "key".into())
    );
    let vip = statefulset(&rendered, "krill-vip");
    assert_eq!(
        env_secret(container(pod_spec(&vip), "krill"), "OPENCLAW_GATEWAY_TOKEN"),
        ("vip-token".into(), "gateway-token".into())
    );
    let generated: Vec<String> = rendered.of_kind("Secret").map(|m| m.name.clone()).collect();
    assert!(
        generated.is_empty(),
        "no Secret should be generated, got {generated:?}"
    );
    let proxy = rendered
        .find("Deployment", "krill-api-server")
        .expect("proxy");
    let env_from = proxy
        .value
        .pointer("/spec/template/spec/containers/0/envFrom/0/secretRef/name")
        .and_then(|v| v.as_str());
    assert_eq!(env_from, Some("provider-keys"));
}

#[rstest]
#[case::template_token(
    "config:\n  gateway:\n    auth:\n      token: hunter2hunter2\n",
    "config: \"token\" holds a literal secret"
)]
#[case::template_api_key(
    "config:\n  models:\n    providers:\n      proxy:\n        apiKey: sk-live-123\n",
    "config: \"apiKey\" holds a literal secret"
)]
#[case::krill_override(
    "krills:\n  alice:\n    config:\n      gateway:\n        auth:\n          password: pw\n",
    "krills.alice.config: \"password\" holds a literal secret"
)]
#[case::proxy_extra_config(
    "apiServer:\n  extraConfig:\n    general_settings:\n      master_key: sk-plain\n",
    "apiServer: \"master_key\" holds a literal secret"
)]
fn a_literal_secret_in_a_config_is_refused(#[case] values: &str, #[case] message: &str) {
    let stderr = helm()
        .template_error(&[yaml(values)])
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        stderr.contains(message),
        "expected {message:?} in:\n{stderr}"
    );
}

#[test]
fn env_references_in_configs_are_accepted() {
    let rendered =
        render_yaml("config:\n  gateway:\n    auth:\n      token: ${OPENCLAW_GATEWAY_TOKEN}\n");
    let config: ConfigMap = rendered.get("ConfigMap", "krill-config").expect("config");
    assert!(
        config
            .data
            .and_then(|d| d.get("openclaw.json5").cloned())
            .is_some_and(|text| text.contains("${OPENCLAW_GATEWAY_TOKEN}"))
    );
}

#[test]
fn a_krill_can_present_its_own_proxy_key() {
    let rendered = render(&[
        yaml(THREE_KRILLS),
        yaml("krills:\n  alpha:\n    proxyKey:\n      existingSecret: alpha-virtual-key\n"),
    ]);
    let alpha = statefulset(&rendered, "krill-alpha");
    assert_eq!(
        env_secret(container(pod_spec(&alpha), "krill"), "OPENCLAW_API_KEY"),
        ("alpha-virtual-key".into(), "api-key".into())
    );
    let beta = statefulset(&rendered, "krill-beta");
    assert_eq!(
        env_secret(container(pod_spec(&beta), "krill"), "OPENCLAW_API_KEY"),
        ("krill-api-server".into(), "master-key".into())
    );
}

#[test]
fn gateway_tokens_outlive_their_krill_like_its_volume() {
    let rendered = render_yaml(THREE_KRILLS);
    for name in ["krill-secrets", "krill-alpha-secrets"] {
        let secret: Secret = rendered
            .get("Secret", name)
            .unwrap_or_else(|err| panic!("{err}"));
        let policy = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("helm.sh/resource-policy"))
            .map(String::as_str);
        assert_eq!(
            policy,
            Some("keep"),
            "{name}: a re-added krill must find its token next to its retained PVC"
        );
    }
    let master: Secret = rendered
        .get("Secret", "krill-api-server")
        .expect("master key");
    assert!(
        master.metadata.annotations.is_none(),
        "the proxy key is regenerated with the release"
    );
}
