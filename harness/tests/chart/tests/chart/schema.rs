//! Every rejection the chart promises: bad values fail `helm template` with a message that names
//! the offending value or key (from values.schema.json or the templates' own checks).

use crate::common;

use common::*;
use krill_chart_tests::ValueSource;
use rstest::rstest;

#[rstest]
// values.schema.json
#[case::unknown_top_level_key(set("replicaz=2"), &["additional properties 'replicaz' not allowed"])]
#[case::negative_replicas(set("replicas=-1"), &["/replicas", "minimum"])]
#[case::replicas_not_a_number(set("replicas=many"), &["/replicas", "want integer"])]
#[case::bad_pull_policy(set("image.pullPolicy=Sometimes"), &["/image/pullPolicy", "Always"])]
#[case::bad_pod_management_policy(set("podManagementPolicy=Random"), &["/podManagementPolicy", "OrderedReady"])]
#[case::bad_image_tag(set("image.tag=bad tag"), &["/image/tag", "bad tag"])]
#[case::krill_name_uppercase(yaml("krills:\n  Alice: {}\n"), &["'Alice'", "does not match pattern"])]
#[case::krill_name_underscore(yaml("krills:\n  my_krill: {}\n"), &["'my_krill'"])]
#[case::krill_name_leading_digit(yaml("krills:\n  7up: {}\n"), &["'7up'"])]
#[case::krill_name_too_long(yaml(&format!("krills:\n  {}: {{}}\n", "a".repeat(47))), &[&"a".repeat(47), "maxLength"])]
#[case::krill_name_reserved(yaml("krills:\n  api-server: {}\n"), &["'api-server'"])]
#[case::krill_name_yaml_boolean(yaml("krills:\n  no: {}\n"), &["invalid propertyName 'false'"])]
#[case::unknown_krill_key(yaml("krills:\n  alice:\n    colour: red\n"), &["/krills/alice", "'colour' not allowed"])]
#[case::bad_krill_size(yaml("krills:\n  alice:\n    persistence:\n      size: lots\n"), &["/krills/alice/persistence/size", "'lots'"])]
#[case::bad_volume_size(set("persistence.size=ten"), &["/persistence/size", "'ten'"])]
#[case::bad_retention(set("persistence.retentionPolicy.whenDeleted=Keep"), &["/persistence/retentionPolicy/whenDeleted", "Retain"])]
#[case::bad_access_mode(yaml("persistence:\n  accessModes: [ReadWriteSometimes]\n"), &["/persistence/accessModes/0"])]
#[case::bad_snapshot_interval(set("snapshots.interval=daily"), &["/snapshots/interval", "'daily'"])]
#[case::zero_snapshots_kept(set("snapshots.keep=0"), &["/snapshots/keep", "minimum"])]
#[case::bad_first_snapshot_delay(set("snapshots.firstAfter=soon"), &["/snapshots/firstAfter", "'soon'"])]
#[case::no_free_space_kept(set("snapshots.minFreePercent=100"), &["/snapshots/minFreePercent", "maximum"])]
#[case::negative_free_space(set("snapshots.minFreePercent=-1"), &["/snapshots/minFreePercent", "minimum"])]
#[case::decimal_snapshot_size(set("snapshots.maxTotalSize=5GB"), &["/snapshots/maxTotalSize", "'5GB'"])]
#[case::two_init_sources(yaml("initClaw:\n  configMap: {name: a, key: b}\n  secret: {name: c, key: d}\n"), &["/initClaw", "maxProperties"])]
#[case::init_pvc_without_path(yaml("krills:\n  alice:\n    initClaw:\n      persistentVolumeClaim: {claimName: archives}\n"), &["/krills/alice/initClaw/persistentVolumeClaim", "path"])]
#[case::bad_bucket_name(set("snapshots.objectStore.bucket=My_Bucket"), &["/snapshots/objectStore/bucket", "'My_Bucket'"])]
#[case::endpoint_without_scheme(set("snapshots.objectStore.endpoint=s3.example.com"), &["/snapshots/objectStore/endpoint", "'s3.example.com'"])]
#[case::prefix_with_slashes(set("snapshots.objectStore.prefix=/krill/"), &["/snapshots/objectStore/prefix", "'/krill/'"])]
#[case::init_object_key_and_latest(yaml("initClaw:\n  objectStore: {key: a.claw, latestOf: alice}\n"), &["/initClaw/objectStore", "oneOf"])]
#[case::init_object_not_a_claw(yaml("initClaw:\n  objectStore: {key: a.tar}\n"), &["/initClaw/objectStore/key", "'a.tar'"])]
#[case::reserved_env(yaml("env:\n  - name: OPENCLAW_API_KEY\n    value: x\n"), &["/env/0/name"])]
#[case::force_restore_in_env(yaml("env:\n  - name: KRILL_FORCE_RESTORE\n    value: \"true\"\n"), &["/env/0/name"])]
#[case::force_restore_in_krill_env(yaml("krills:\n  alice:\n    env:\n      - name: KRILL_FORCE_RESTORE\n        value: \"true\"\n"), &["/krills/alice/env/0/name"])]
#[case::reserved_krill_env(yaml("krills:\n  alice:\n    env:\n      - name: KRILL_NAME\n        value: bob\n"), &["/krills/alice/env/0/name"])]
#[case::bad_api_base(set("apiBase=models.example.com"), &["/apiBase", "models.example.com"])]
#[case::network_policy_not_bool(set("networkPolicy.enabled=yes"), &["/networkPolicy/enabled", "want boolean"])]
#[case::no_models(yaml("apiServer:\n  models: []\n"), &["/apiServer/models", "minItems"])]
#[case::bad_provider_env_name(yaml("apiServer:\n  providerKeys:\n    openai-key: x\n"), &["'openai-key'"])]
#[case::selector_label_in_pod_labels(yaml("podLabels:\n  krill.dev/name: x\n"), &["invalid propertyName 'krill.dev/name'"])]
// the templates' own checks
#[case::model_not_served(set("model=gpt-5"), &["model: model \"gpt-5\" is not served by the proxy", "default"])]
#[case::krill_model_not_served(yaml("krills:\n  alice:\n    model: gpt-5\n"), &["krills.alice.model: model \"gpt-5\""])]
#[case::no_api_base_without_proxy(set("apiServer.enabled=false"), &["apiBase: must be set"])]
#[case::api_base_beside_the_proxy(set("apiBase=https://models.example.com/v1"), &["apiBase: \"https://models.example.com/v1\" is set while apiServer.enabled is true", "master key"])]
#[case::no_api_key_without_proxy(yaml("apiServer:\n  enabled: false\napiBase: https://x.example/v1\n"), &["apiKey: set apiKey.value or apiKey.existingSecret"])]
#[case::two_databases(yaml("apiServer:\n  database:\n    existingSecret: db\n    postgres:\n      enabled: true\n"), &["apiServer.database: existingSecret \"db\" and postgres.enabled are both set"])]
#[case::database_without_proxy(yaml("apiBase: https://x.example/v1\napiKey:\n  value: k\napiServer:\n  enabled: false\n  database:\n    existingSecret: db\n"), &["apiServer.database: a database is configured but apiServer.enabled is false", "apiServer.enabled=true"])]
#[case::bad_database_size(yaml("apiServer:\n  database:\n    postgres:\n      size: big\n"), &["/apiServer/database/postgres/size", "'big'"])]
#[case::unknown_database_key(yaml("apiServer:\n  database:\n    url: postgresql://x\n"), &["/apiServer/database", "'url' not allowed"])]
#[case::bucket_without_secret(set("snapshots.objectStore.bucket=snaps"), &["snapshots.objectStore: bucket \"snaps\" is set without existingSecret.name", "AWS_ACCESS_KEY_ID"])]
#[case::store_settings_without_bucket(set("snapshots.objectStore.endpoint=https://s3.example.com"), &["snapshots.objectStore: endpoint, existingSecret or egressTo is set but bucket is empty"])]
#[case::init_object_without_bucket(yaml("krills:\n  bob:\n    initClaw:\n      objectStore: {latestOf: alice}\n"), &["krills.bob.initClaw.objectStore: an initClaw from a bucket needs snapshots.objectStore"])]
#[case::name_too_long_for_release(yaml(&format!("fullnameOverride: krill-with-a-long-name\nkrills:\n  {}: {{}}\n", "b".repeat(40))), &[&format!("krills.{}", "b".repeat(40)), "longer than 52"])]
fn bad_values_are_refused_by_name(#[case] values: ValueSource, #[case] expected: &[&str]) {
    let stderr = helm()
        .template_error(&[values])
        .unwrap_or_else(|err| panic!("{err}"));
    for needle in expected {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
}

#[test]
fn null_krill_entry_is_a_krill_with_defaults() {
    let rendered = render_yaml("krills:\n  plain:\n");
    let sts = statefulset(&rendered, "krill-plain");
    assert_eq!(
        env_value(container(pod_spec(&sts), "krill"), "OPENCLAW_MODEL"),
        "default"
    );
}
