//! No secret value ever lands in a ConfigMap or a literal env value; secrets reach pods only
//! through Secret references, and generated ones are real Secrets.

use crate::common;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use krill_chart_tests::Rendered;
use rstest::rstest;

const PROVIDER_SENTINEL: &str = "sentinel-provider-key-7f3a9c";

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
fn gateway_token_key_names_outside_the_fleet_secret_are_refused_by_the_schema() {
    let stderr = helm()
        .template_error(&[yaml(
            "gatewayToken:\n  existingSecret: mine\n  existingSecretKey: token\n",
        )])
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(stderr.contains("existingSecretKey"), "{stderr}");
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

/// Every krill StatefulSet of a render.
fn krill_statefulsets(rendered: &Rendered) -> Vec<k8s_openapi::api::apps::v1::StatefulSet> {
    rendered
        .manifests
        .iter()
        .filter(|m| m.kind == "StatefulSet")
        .map(|m| statefulset(rendered, &m.name))
        .collect()
}

fn keeper_config(rendered: &Rendered) -> serde_json::Value {
    let map: ConfigMap = rendered
        .get("ConfigMap", "krill-keeper")
        .unwrap_or_else(|err| panic!("{err}"));
    let text = map
        .data
        .and_then(|d| d.get("keeper.json").cloned())
        .expect("keeper.json");
    serde_json::from_str(&text).expect("keeper.json is JSON")
}

/// A krill pod holds no Secret: no Secret volume but a user's init.claw, no Secret in a projected
/// volume, no env from a Secret. Only the keeper-audience token, which the API server refuses.
/// The one exception is the snapshot bucket's credentials (`snapshots.objectStore`), and only in
/// the snapshot sidecar and the fetch-init-claw init container: never in the krill container.
#[rstest]
#[case::object_store(crate::object_store::OBJECT_STORE)]
#[case::defaults("")]
#[case::named(THREE_KRILLS)]
#[case::existing(include_str!("../../cases/existing-secrets.yaml"))]
#[case::no_proxy(
    "apiServer:\n  enabled: false\napiBase: http://models:8000/v1\napiKey:\n  value: sk-direct\n"
)]
fn no_krill_pod_mounts_or_references_a_secret(#[case] values: &str) {
    let rendered = render_yaml(values);
    let audience = keeper_config(&rendered)["audience"]
        .as_str()
        .expect("audience")
        .to_owned();
    assert!(audience.starts_with("krill-keeper:"), "{audience}");
    let statefulsets = krill_statefulsets(&rendered);
    assert!(!statefulsets.is_empty());
    for sts in &statefulsets {
        let name = sts.metadata.name.clone().unwrap_or_default();
        let spec = pod_spec(sts);
        assert_eq!(spec.automount_service_account_token, Some(false), "{name}");
        let mut keeper_tokens = 0;
        for volume in spec.volumes.iter().flatten() {
            if let Some(secret) = &volume.secret {
                assert_eq!(
                    volume.name, "init-claw",
                    "{name}: Secret volume {:?} ({:?})",
                    volume.name, secret.secret_name
                );
            }
            for source in volume
                .projected
                .iter()
                .flat_map(|p| p.sources.iter().flatten())
            {
                assert!(
                    source.secret.is_none(),
                    "{name}: a Secret in {}",
                    volume.name
                );
                if let Some(token) = &source.service_account_token {
                    assert_eq!(token.audience.as_deref(), Some(audience.as_str()), "{name}");
                    assert_eq!(token.expiration_seconds, Some(600), "{name}");
                    keeper_tokens += 1;
                }
            }
        }
        assert_eq!(keeper_tokens, 1, "{name}: one keeper token");
        for container in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            let bucket_client = ["snapshot", "fetch-init-claw"].contains(&container.name.as_str());
            for var in container.env.iter().flatten() {
                let Some(from) = var
                    .value_from
                    .as_ref()
                    .and_then(|f| f.secret_key_ref.as_ref())
                else {
                    continue;
                };
                let bucket_credential = bucket_client
                    && ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].contains(&var.name.as_str())
                    && from.name == "s3-credentials";
                assert!(
                    bucket_credential,
                    "{name}/{}: env {} from Secret {}",
                    container.name, var.name, from.name
                );
            }
            assert!(
                container.env_from.is_none(),
                "{name}/{}: envFrom",
                container.name
            );
        }
        assert_eq!(
            env_value(container(spec, "krill"), "KRILL_KEEPER_URL"),
            "http://krill-keeper.krill.svc.cluster.local:8080"
        );
    }
}

/// GitOps renders with `helm template`, where `lookup` finds nothing: two renders must be
/// byte-identical, and no token or key is rendered at all (the keeper creates them in the cluster).
#[rstest]
#[case::defaults("")]
#[case::named(THREE_KRILLS)]
fn nothing_random_is_rendered(#[case] values: &str) {
    let first = render_yaml(values);
    let second = render_yaml(values);
    let text = |r: &Rendered| {
        r.manifests
            .iter()
            .map(|m| m.value.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(text(&first), text(&second), "two renders differ");
    for manifest in &first.manifests {
        if manifest.kind == "Secret" {
            assert!(
                !manifest.name.contains("gateway-token")
                    && !manifest.name.ends_with("-master-key")
                    && !manifest.name.ends_with("-secrets"),
                "Secret {} is rendered; the keeper creates it",
                manifest.name
            );
        }
    }
}

/// The keeper knows where each krill's token and key live; user Secrets are read, never made.
#[test]
fn the_keeper_config_names_each_krills_secrets() {
    let rendered = render_yaml(THREE_KRILLS);
    let config = keeper_config(&rendered);
    assert_eq!(config["krillServiceAccount"], "krill");
    assert_eq!(config["fleet"]["statefulSet"], "krill");
    assert_eq!(config["fleet"]["legacySecret"], "krill-gateway-tokens");
    for name in ["alpha", "beta", "gamma"] {
        let named = &config["named"][name];
        assert_eq!(named["statefulSet"], format!("krill-{name}"));
        assert_eq!(named["token"]["name"], format!("krill-{name}-secrets"));
        assert_eq!(named["generate"], true);
    }
    assert_eq!(config["proxyKey"]["secret"]["name"], "krill-master-key");
    assert_eq!(config["proxyKey"]["generate"], true);

    let existing = render_yaml(include_str!("../../cases/existing-secrets.yaml"));
    let config = keeper_config(&existing);
    assert!(config["fleet"]["existingSecret"].is_string(), "{config}");
    assert_eq!(config["proxyKey"]["generate"], false, "{config}");
    for named in config["named"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        if named["generate"] == false {
            assert!(named["token"]["name"].is_string(), "{named}");
        }
    }
}

/// The keeper's rights are exactly what it uses: Secrets get/create and pods get in the
/// namespace, TokenReviews create cluster-wide under a name carrying release and namespace.
#[test]
fn the_keeper_has_only_the_rights_it_needs() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
    let rendered = render_yaml("");
    let role: Role = rendered.get("Role", "krill-keeper").expect("Role");
    let rules: Vec<(Vec<String>, Vec<String>)> = role
        .rules
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.resources.unwrap_or_default(), r.verbs))
        .collect();
    assert_eq!(
        rules,
        [
            (
                vec!["secrets".to_owned()],
                vec!["get".to_owned(), "create".to_owned()]
            ),
            (vec!["pods".to_owned()], vec!["get".to_owned()]),
        ]
    );
    let cluster: ClusterRole = rendered
        .get("ClusterRole", "krill-krill-keeper")
        .expect("ClusterRole named after release and namespace");
    let rules = cluster.rules.unwrap_or_default();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["tokenreviews".to_owned()][..])
    );
    assert_eq!(rules[0].verbs, ["create"]);
}
