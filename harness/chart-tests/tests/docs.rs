//! Every value in values.yaml is documented with a helm-docs `# --` comment (on the key itself or
//! on an enclosing key whose whole block it documents), and the schema knows every key.

use std::path::Path;

struct Key {
    line: usize,
    indent: usize,
    name: String,
    documented: bool,
    has_children: bool,
}

fn keys(text: &str) -> Vec<Key> {
    let lines: Vec<&str> = text.lines().collect();
    let mut keys: Vec<Key> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let Some((name, _)) = trimmed.split_once(':') else {
            continue;
        };
        if name.contains(' ') || name.contains('"') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        // The comment block directly above, if any, must start with `# --`.
        let mut above = index;
        let mut documented = false;
        while above > 0 {
            above -= 1;
            let comment = lines[above].trim_start();
            if !comment.starts_with('#') {
                break;
            }
            if comment.starts_with("# --") {
                documented = true;
                break;
            }
        }
        if let Some(parent) = keys.iter_mut().rev().find(|key| key.indent < indent) {
            parent.has_children = true;
        }
        keys.push(Key {
            line: index + 1,
            indent,
            name: name.to_owned(),
            documented,
            has_children: false,
        });
    }
    keys
}

#[test]
fn every_value_is_documented() {
    let path = krill_chart_tests::chart_dir().join("values.yaml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let keys = keys(&text);
    assert!(
        keys.len() > 50,
        "parsed too few keys from {}",
        path.display()
    );
    let mut undocumented = Vec::new();
    for (position, key) in keys.iter().enumerate() {
        if key.has_children || key.documented {
            continue;
        }
        // Covered by an enclosing documented block (e.g. the keys of the `config` template)?
        let mut indent = key.indent;
        let covered = keys[..position].iter().rev().any(|ancestor| {
            if ancestor.indent < indent {
                indent = ancestor.indent;
                ancestor.documented
            } else {
                false
            }
        });
        if !covered {
            undocumented.push(format!("line {}: {}", key.line, key.name));
        }
    }
    assert!(
        undocumented.is_empty(),
        "values.yaml keys without a `# --` comment: {undocumented:#?}"
    );
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

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}
