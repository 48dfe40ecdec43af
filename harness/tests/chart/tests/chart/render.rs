//! Every shipped values file and every case under cases/ renders into objects that parse into the
//! Kubernetes 1.33 types without dropping a field, with unique names and the standard labels.

use crate::common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use krill_chart_tests::ValueSource;
use rstest::rstest;

const STANDARD_LABELS: &[&str] = &[
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
    "helm.sh/chart",
];

#[rstest]
fn renders_into_known_types(
    #[files("../../../charts/krill/values*.yaml")]
    #[exclude("values\\.schema\\.yaml$")]
    #[files("../../../charts/krill/ci/*-values.yaml")]
    #[files("cases/*.yaml")]
    values: PathBuf,
) {
    let rendered = common::render(&[ValueSource::File(values.clone())]);
    assert!(
        !rendered.manifests.is_empty(),
        "{} rendered nothing",
        values.display()
    );
    rendered
        .check_types()
        .unwrap_or_else(|err| panic!("{}: {err}", values.display()));

    let mut seen = BTreeSet::new();
    for manifest in &rendered.manifests {
        assert!(
            seen.insert((manifest.kind.clone(), manifest.name.clone())),
            "{}: {} {} rendered twice",
            values.display(),
            manifest.kind,
            manifest.name
        );
        let labels = manifest
            .value
            .pointer("/metadata/labels")
            .and_then(|labels| labels.as_object());
        for label in STANDARD_LABELS {
            assert!(
                labels.is_some_and(|labels| labels.contains_key(*label)),
                "{}: {} {} lacks label {label}",
                values.display(),
                manifest.kind,
                manifest.name
            );
        }
        assert!(
            manifest.value.pointer("/metadata/namespace").is_none(),
            "{} {} hard-codes a namespace; helm -n decides",
            manifest.kind,
            manifest.name
        );
    }
}

#[test]
fn shipped_values_files_are_found() {
    let files = krill_chart_tests::shipped_values_files();
    assert!(
        files.len() >= 5,
        "expected values.yaml, the two examples and ci cases, got {files:?}"
    );
    for file in files {
        assert!(file.is_file(), "{} is missing", file.display());
    }
}
