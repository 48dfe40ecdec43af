//! No secret value ever lands in a ConfigMap or a literal env value; secrets reach pods only
//! through Secret references, and generated ones are real Secrets.

use crate::common;

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

fn secret_data(rendered: &Rendered, name: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let secret: Secret = rendered
        .get("Secret", name)
        .unwrap_or_else(|err| panic!("{err}"));
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key, value.0))
        .collect()
}

/// No container of any krill gets the token through env: every krill reads its own file.
fn assert_no_token_env(sts: &k8s_openapi::api::apps::v1::StatefulSet) {
    for container in &pod_spec(sts).containers {
        assert!(
            !container
                .env
                .iter()
                .flatten()
                .any(|e| e.name == "OPENCLAW_GATEWAY_TOKEN"),
            "{:?}/{}: OPENCLAW_GATEWAY_TOKEN in env",
            sts.metadata.name,
            container.name
        );
    }
}

#[test]
fn each_named_krill_has_its_own_gateway_token() {
    let rendered = render_yaml(THREE_KRILLS);
    let mut tokens = Vec::new();
    for (name, secret_name) in [
        ("alpha", "krill-alpha-secrets"),
        ("beta", "krill-beta-secrets"),
        ("gamma", "krill-gamma-secrets"),
    ] {
        let sts = statefulset(&rendered, &format!("krill-{name}"));
        assert_no_token_env(&sts);
        let volume = gateway_tokens_volume(pod_spec(&sts));
        assert_eq!(volume.secret_name.as_deref(), Some(secret_name));
        let items: Vec<(String, String)> = volume
            .items
            .iter()
            .flatten()
            .map(|i| (i.key.clone(), i.path.clone()))
            .collect();
        assert_eq!(
            items,
            [("gateway-token".to_owned(), name.to_owned())],
            "{name} sees only its own token, as the file named by its KRILL_NAME"
        );
        let token = secret_data(&rendered, secret_name)
            .remove("gateway-token")
            .expect("gateway-token");
        assert!(token.len() >= 32, "{secret_name}: token too short");
        tokens.push(token);
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "tokens must differ between krills");
}

/// The fleet's pods share one template, so they share one Secret with a key per pod name; the
/// helper picks the file named after its pod (KRILL_NAME = metadata.name).
#[rstest]
#[case::one(&[], "krill", 1)]
#[case::three(&[], "krill", 3)]
#[case::seven(&[], "krill", 7)]
#[case::other_release_name(&["fullnameOverride=crew"], "crew", 4)]
fn each_fleet_pod_has_its_own_gateway_token(
    #[case] sets: &[&str],
    #[case] full: &str,
    #[case] replicas: usize,
) {
    let mut values: Vec<_> = sets.iter().map(|s| set(s)).collect();
    values.push(set(&format!("replicas={replicas}")));
    let rendered = render(&values);
    let data = secret_data(&rendered, &format!("{full}-gateway-tokens"));
    let expected: std::collections::BTreeSet<String> =
        (0..replicas).map(|i| format!("{full}-{i}")).collect();
    assert_eq!(
        data.keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        expected,
        "one key per pod name"
    );
    for pod in &expected {
        let token = data
            .get(pod)
            .unwrap_or_else(|| panic!("no token for {pod}"));
        assert!(token.len() >= 32, "{pod}: token too short");
    }
    let mut distinct: Vec<&Vec<u8>> = data.values().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), replicas, "every fleet pod's token differs");

    let public = public_text(&rendered);
    for (pod, token) in &data {
        let token = String::from_utf8_lossy(token);
        assert!(
            !public.contains(token.as_ref()),
            "{pod}'s token outside a Secret"
        );
        assert!(
            !public.contains(&b64(&token)),
            "{pod}'s token (base64) outside a Secret"
        );
    }

    let sts = statefulset(&rendered, full);
    assert_no_token_env(&sts);
    let spec = pod_spec(&sts);
    let volume = gateway_tokens_volume(spec);
    assert_eq!(
        volume.secret_name.as_deref(),
        Some(format!("{full}-gateway-tokens").as_str())
    );
    assert!(
        volume.items.is_none(),
        "the template must not depend on replicas (a scale would roll every pod)"
    );
    assert_eq!(volume.default_mode, Some(0o440));
    assert_eq!(
        spec.security_context.as_ref().and_then(|s| s.fs_group),
        Some(1000),
        "0440 files are readable by the krill only through fsGroup"
    );
    let name_ref = env(container(spec, "krill"), "KRILL_NAME")
        .value_from
        .as_ref()
        .and_then(|v| v.field_ref.as_ref())
        .map(|f| f.field_path.clone());
    assert_eq!(
        name_ref.as_deref(),
        Some("metadata.name"),
        "the key is the pod name"
    );
    // The snapshot sidecar has no use for a token.
    if let Some(sidecar) = spec.containers.iter().find(|c| c.name != "krill") {
        assert!(
            !sidecar
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.mount_path == GATEWAY_TOKENS_DIR),
            "{} mounts the tokens",
            sidecar.name
        );
    }
}

#[test]
fn gateway_token_key_names_outside_the_fleet_secret_are_refused_by_the_schema() {
    let stderr = helm()
        .template_error(&[yaml(
            "gatewayToken:\n  existingSecret: mine\n  existingSecretKey: token\n",
        )])
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(stderr.contains("existingSecretKey"), "{stderr}");
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
    let rendered = render(&[krill_chart_tests::ValueSource::File(
        krill_chart_tests::repo_root().join("harness/tests/chart/cases/existing-secrets.yaml"),
    )]);
    let fleet = statefulset(&rendered, "krill");
    let krill = container(pod_spec(&fleet), "krill");
    let tokens = gateway_tokens_volume(pod_spec(&fleet));
    assert_eq!(tokens.secret_name.as_deref(), Some("fleet-token"));
    assert!(
        tokens.items.is_none(),
        "keys are the pod names, all mounted"
    );
    assert_eq!(
        env_secret(krill, "OPENCLAW_API_KEY"),
        ("proxy-master".into(), "key".into())
    );
    let vip = statefulset(&rendered, "krill-vip");
    let vip_token = gateway_tokens_volume(pod_spec(&vip));
    assert_eq!(vip_token.secret_name.as_deref(), Some("vip-token"));
    assert_eq!(
        vip_token
            .items
            .iter()
            .flatten()
            .map(|i| (i.key.as_str(), i.path.as_str()))
            .collect::<Vec<_>>(),
        [("gateway-token", "vip")]
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
    "config.gateway.auth.token holds a literal secret"
)]
#[case::template_api_key(
    "config:\n  models:\n    providers:\n      proxy:\n        apiKey: sk-live-123\n",
    "config.models.providers.proxy.apiKey holds a literal secret"
)]
#[case::krill_override(
    "krills:\n  alice:\n    config:\n      gateway:\n        auth:\n          password: pw\n",
    "krills.alice.config.gateway.auth.password holds a literal secret"
)]
#[case::proxy_extra_config(
    "apiServer:\n  extraConfig:\n    general_settings:\n      master_key: sk-plain\n",
    "apiServer.extraConfig.general_settings.master_key holds a literal secret"
)]
#[case::authorization_header(
    "config:\n  models:\n    providers:\n      p:\n        headers:\n          Authorization: Bearer sk-123\n",
    "config.models.providers.p.headers.Authorization holds a literal secret"
)]
#[case::x_api_key_header(
    "krills:\n  alice:\n    config:\n      models:\n        providers:\n          p:\n            headers:\n              x-api-key: abc123\n",
    "krills.alice.config.models.providers.p.headers.x-api-key holds a literal secret"
)]
#[case::aws_secret(
    "apiServer:\n  models:\n    - name: default\n      model: bedrock/claude\n      extraParams:\n        aws_secret_access_key: wJalrXUtnFEMI\n",
    "apiServer.models[0].extraParams.aws_secret_access_key holds a literal secret"
)]
#[case::private_key_field(
    "config:\n  tools:\n    signer:\n      privateKey: abc\n",
    "config.tools.signer.privateKey holds a literal secret"
)]
#[case::pem_under_any_key(
    "config:\n  tools:\n    - note: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Bl\"\n",
    "config.tools[0].note holds a private key"
)]
#[case::service_account_json(
    "apiServer:\n  extraConfig:\n    vertex:\n      vertex_json: '{\"type\": \"service_account\", \"private_key\": \"x\"}'\n",
    "apiServer.extraConfig.vertex.vertex_json holds a service-account key"
)]
#[case::password_in_url(
    "apiServer:\n  extraConfig:\n    general_settings:\n      database_url: postgresql://litellm:pw@db:5432/litellm\n",
    "apiServer.extraConfig.general_settings.database_url holds a URL with a password in it"
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
    let rendered = render_yaml(
        "config:\n  gateway:\n    auth:\n      token: ${OPENCLAW_GATEWAY_TOKEN}\n  \
         models:\n    providers:\n      p:\n        headers:\n          \
         Authorization: Bearer ${P_KEY}\n          x-api-key: ${P_KEY}\n\
         apiServer:\n  extraConfig:\n    general_settings:\n      \
         database_url: os.environ/DATABASE_URL\n",
    );
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
    for name in ["krill-gateway-tokens", "krill-alpha-secrets"] {
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

/// Scaling the fleet must not touch its pod template: a changed template rolls every krill.
#[rstest]
#[case(1, 2)]
#[case(2, 5)]
#[case(3, 0)]
fn scaling_the_fleet_keeps_its_pod_template(#[case] before: usize, #[case] after: usize) {
    let template = |replicas: usize| {
        render(&[set(&format!("replicas={replicas}"))])
            .find("StatefulSet", "krill")
            .and_then(|m| m.value.pointer("/spec/template").cloned())
            .expect("fleet pod template")
    };
    assert_eq!(template(before), template(after));
}
