//! The chart's values have one source of documentation and schema, `values.schema.yaml`:
//! `values.schema.json` and the README's values table are exactly what `scripts/chart/values-docs`
//! generates from it, every value is described, and the schema knows every value `values.yaml`
//! sets. The generator refuses an undocumented value and an unknown one (checked on copies).

use krill_chart_tests::values_docs::{self, ValuesDocsError};
use std::path::{Path, PathBuf};

#[test]
fn generated_files_are_what_the_generator_writes() {
    let generated = values_docs::generate(&krill_chart_tests::chart_dir())
        .unwrap_or_else(|err| panic!("{err}"));
    let names: Vec<_> = generated
        .files
        .iter()
        .filter_map(|(path, _)| path.file_name()?.to_str())
        .collect();
    assert_eq!(names, ["values.schema.json", "README.md"]);
    for (path, expected) in &generated.files {
        assert!(
            read(path) == *expected,
            "{} is not what values.schema.yaml and values.yaml give: run scripts/chart/values-docs",
            path.display()
        );
    }
}

#[test]
fn every_value_is_documented() {
    let generated = values_docs::generate(&krill_chart_tests::chart_dir())
        .unwrap_or_else(|err| panic!("{err}"));
    let (_, readme) = &generated.files[1];
    let rows = readme
        .lines()
        .filter(|line| line.starts_with("| `"))
        .count();
    assert!(rows > 50, "the values table has only {rows} rows");
}

#[test]
fn the_schema_knows_every_top_level_value() {
    let chart = krill_chart_tests::chart_dir();
    let schema: serde_json::Value =
        serde_json::from_str(&read(&chart.join("values.schema.json"))).expect("schema is JSON");
    let values: serde_json::Value =
        serde_yaml::from_str(&read(&chart.join("values.yaml"))).expect("values.yaml is YAML");
    assert_eq!(
        schema.get("additionalProperties"),
        Some(&serde_json::Value::Bool(false))
    );
    let properties = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .expect("properties");
    for key in values.as_object().expect("values.yaml is a map").keys() {
        assert!(
            properties.contains_key(key),
            "values.schema.json does not describe `{key}`"
        );
    }
}

#[test]
fn a_value_without_a_description_is_refused() {
    let chart = chart_copy("undocumented");
    let schema = read(&chart.join("values.schema.yaml"));
    let described = "description: Seconds between readiness checks.";
    assert!(schema.contains(described), "the test's anchor moved");
    let without: Vec<&str> = schema
        .lines()
        .filter(|line| !line.contains(described))
        .collect();
    write(&chart.join("values.schema.yaml"), &without.join("\n"));
    match values_docs::generate(&chart) {
        Err(ValuesDocsError::Undocumented(keys)) => {
            assert_eq!(keys, ["probes.readiness.periodSeconds"]);
        }
        other => panic!("expected Undocumented, got {other:?}"),
    }
}

#[test]
fn a_value_the_schema_does_not_describe_is_refused() {
    let chart = chart_copy("unknown");
    let values = read(&chart.join("values.yaml"));
    write(
        &chart.join("values.yaml"),
        &values.replace("\nsnapshots:\n", "\nsnapshots:\n  colour: red\n"),
    );
    match values_docs::generate(&chart) {
        Err(ValuesDocsError::Unknown(keys)) => assert_eq!(keys, ["snapshots.colour"]),
        other => panic!("expected Unknown, got {other:?}"),
    }
}

#[test]
fn a_changed_description_makes_the_generated_files_stale() {
    let chart = chart_copy("stale");
    let schema = read(&chart.join("values.schema.yaml"));
    let before = "Seconds between readiness checks.";
    assert!(schema.contains(before), "the test's anchor moved");
    write(
        &chart.join("values.schema.yaml"),
        &schema.replace(before, "Seconds between two readiness checks."),
    );
    let generated = values_docs::generate(&chart).unwrap_or_else(|err| panic!("{err}"));
    let stale: Vec<_> = generated
        .stale()
        .iter()
        .filter_map(|path| Some(path.file_name()?.to_str()?.to_owned()))
        .collect();
    assert_eq!(stale, ["values.schema.json", "README.md"]);
    generated.write().unwrap_or_else(|err| panic!("{err}"));
    assert!(generated.stale().is_empty());
    assert!(read(&chart.join("README.md")).contains("Seconds between two readiness checks."));
}

/// The chart's source files, copied to a fresh directory the test may change.
fn chart_copy(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("values-docs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    let chart = krill_chart_tests::chart_dir();
    for file in [
        "values.schema.yaml",
        "values.yaml",
        "values.schema.json",
        "README.md",
    ] {
        write(&dir.join(file), &read(&chart.join(file)));
    }
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
}
