//! The one source of the chart's values documentation and schema is
//! `charts/krill/values.schema.yaml`: a JSON schema written as YAML, with a `description` on
//! every value. From it, and from the defaults in `values.yaml`, this module produces the two
//! files nobody edits by hand:
//!
//! - `values.schema.json`, what helm validates values against: the same schema, as JSON, in the
//!   source's key order;
//! - the values table in the chart's `README.md`, between the [`BEGIN`] and [`END`] markers.
//!
//! `scripts/chart/values-docs` writes them (the `values-docs` binary); the drift test checks that
//! the files on disk are what [`generate`] produces and that every value is documented.

use serde_yaml::{Mapping, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Start of the generated part of the chart's README.
pub const BEGIN: &str = "<!-- values-docs: generated from values.schema.yaml and values.yaml by scripts/chart/values-docs; edit those, not this table -->";
/// End of the generated part of the chart's README.
pub const END: &str = "<!-- values-docs: end -->";

/// A default longer than this is left to `values.yaml` (a table cell is no place for it).
const MAX_DEFAULT: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum ValuesDocsError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not YAML: {source}")]
    Yaml {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error("values.schema.yaml: {0}")]
    Schema(String),
    #[error("{path}: the markers {BEGIN:?} and {END:?} must each appear once, in that order")]
    Markers { path: PathBuf },
    #[error("values without a description in values.schema.yaml (on the value or a parent): {0:?}")]
    Undocumented(Vec<String>),
    #[error("values.yaml sets values that values.schema.yaml does not describe: {0:?}")]
    Unknown(Vec<String>),
}

/// The generated files of one chart, in memory.
#[derive(Debug)]
pub struct Generated {
    /// `(path, contents)` of every generated file.
    pub files: Vec<(PathBuf, String)>,
}

impl Generated {
    /// Files whose contents on disk differ from the generated ones.
    pub fn stale(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|(path, text)| std::fs::read_to_string(path).ok().as_deref() != Some(text))
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// Writes every file whose contents changed; returns those.
    pub fn write(&self) -> Result<Vec<PathBuf>, ValuesDocsError> {
        let stale = self.stale();
        for (path, text) in &self.files {
            if stale.contains(path) {
                std::fs::write(path, text).map_err(|source| ValuesDocsError::Write {
                    path: path.clone(),
                    source,
                })?;
            }
        }
        Ok(stale)
    }
}

/// Produces `values.schema.json` and the README of the chart in `chart`, refusing a schema that
/// leaves a value undocumented or a values.yaml the schema does not describe.
pub fn generate(chart: &Path) -> Result<Generated, ValuesDocsError> {
    let schema = read_yaml(&chart.join("values.schema.yaml"))?;
    let values = read_yaml(&chart.join("values.yaml"))?;
    let definitions = schema
        .get("definitions")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let docs = Docs {
        definitions: &definitions,
        values: &values,
    };

    let mut rows = Vec::new();
    let mut undocumented = Vec::new();
    docs.rows(&schema, "", false, &mut rows, &mut undocumented);
    if !undocumented.is_empty() {
        return Err(ValuesDocsError::Undocumented(undocumented));
    }
    let mut unknown = Vec::new();
    docs.known(&values, &schema, "", &mut unknown);
    if !unknown.is_empty() {
        return Err(ValuesDocsError::Unknown(unknown));
    }

    let readme_path = chart.join("README.md");
    let readme = read(&readme_path)?;
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        return Err(ValuesDocsError::Markers { path: readme_path });
    };
    if end < begin || readme.matches(BEGIN).count() != 1 || readme.matches(END).count() != 1 {
        return Err(ValuesDocsError::Markers { path: readme_path });
    }
    let mut table = String::from("\n| key | type | default | description |\n|---|---|---|---|\n");
    for row in &rows {
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {} |",
            row.key,
            cell(&row.kind),
            cell(&row.default),
            cell(&row.description)
        );
    }
    let readme = format!("{}{BEGIN}\n{table}\n{}", &readme[..begin], &readme[end..]);

    let mut json = String::new();
    write_json(&mut json, &schema, 0).map_err(ValuesDocsError::Schema)?;
    json.push('\n');

    Ok(Generated {
        files: vec![
            (chart.join("values.schema.json"), json),
            (readme_path, readme),
        ],
    })
}

struct Row {
    key: String,
    kind: String,
    default: String,
    description: String,
}

struct Docs<'a> {
    definitions: &'a Mapping,
    values: &'a Value,
}

impl Docs<'_> {
    /// A `#/definitions/<name>` reference resolved, other nodes as they are.
    fn resolve<'n>(&'n self, node: &'n Value) -> &'n Value {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference
                .strip_prefix("#/definitions/")
                .and_then(|name| self.definitions.get(name))
                .unwrap_or(node),
            None => node,
        }
    }

    /// One row per described property, depth first in the source's order. A property without
    /// sub-properties must be described itself or lie inside a described object none of whose
    /// properties is described (`persistence.retentionPolicy`). The entries of a map whose values
    /// are objects (`krills.<name>`) are documented key by key.
    fn rows(
        &self,
        node: &Value,
        prefix: &str,
        covered: bool,
        rows: &mut Vec<Row>,
        undocumented: &mut Vec<String>,
    ) {
        let Some(properties) = node.get("properties").and_then(Value::as_mapping) else {
            return;
        };
        for (name, property) in properties {
            let key = format!("{prefix}{}", name.as_str().unwrap_or_default());
            let description = property.get("description").and_then(Value::as_str);
            if let Some(description) = description {
                rows.push(Row {
                    kind: self.kind(property),
                    // A group whose values have rows of their own shows its defaults there.
                    default: if has_described_properties(property) {
                        String::new()
                    } else {
                        self.default(&key)
                    },
                    description: description.trim().to_owned(),
                    key: key.clone(),
                });
            }
            // A described object documents its values as a whole only when none of them is
            // described itself: once one is, every one must be.
            let covered = covered || (description.is_some() && !has_described_properties(property));
            if property.get("properties").is_some() {
                self.rows(property, &format!("{key}."), covered, rows, undocumented);
            } else if !covered {
                undocumented.push(key.clone());
            }
            if let Some(entry) = property.get("additionalProperties") {
                let entry = self.resolve(entry);
                if entry.get("properties").is_some() {
                    self.rows(
                        entry,
                        &format!("{key}.<name>."),
                        covered,
                        rows,
                        undocumented,
                    );
                }
            }
        }
    }

    /// Every key values.yaml sets is a property of the schema, or inside a map the schema leaves
    /// open (`config`, `resources.requests`, ...), which its parent's description covers.
    fn known(&self, value: &Value, node: &Value, prefix: &str, unknown: &mut Vec<String>) {
        let node = self.resolve(node);
        let Some(map) = value.as_mapping() else {
            return;
        };
        let properties = node.get("properties").and_then(Value::as_mapping);
        for (name, child) in map {
            let name = name.as_str().unwrap_or_default();
            let key = format!("{prefix}{name}");
            match properties.and_then(|properties| properties.get(name)) {
                Some(property) => self.known(child, property, &format!("{key}."), unknown),
                None => {
                    // Open: a map of described values (`additionalProperties: {...}`), or an
                    // object with no properties at all (`config`, `affinity`).
                    let open = match node.get("additionalProperties") {
                        Some(Value::Mapping(_)) => true,
                        Some(Value::Bool(allowed)) => *allowed && properties.is_none(),
                        None => properties.is_none(),
                        Some(_) => false,
                    };
                    if !open {
                        unknown.push(key);
                    }
                }
            }
        }
    }

    /// What a value may be, for the table: its type(s), or the values of an enum.
    fn kind(&self, node: &Value) -> String {
        let node = self.resolve(node);
        if let Some(kind) = node.get("type") {
            return match kind {
                Value::Sequence(kinds) => kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" or "),
                other => other.as_str().unwrap_or_default().to_owned(),
            };
        }
        if let Some(Value::Sequence(options)) = node.get("enum") {
            return options
                .iter()
                .map(|option| format!("`{}`", compact(option)))
                .collect::<Vec<_>>()
                .join(", ");
        }
        if let Some(Value::Sequence(options)) = node.get("anyOf") {
            let mut kinds: Vec<String> = Vec::new();
            for kind in options.iter().map(|option| self.kind(option)) {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            return kinds.join(" or ");
        }
        "any".to_owned()
    }

    /// The default from values.yaml, compact; empty where values.yaml sets none.
    fn default(&self, key: &str) -> String {
        let mut value = self.values;
        for part in key.split('.') {
            match value.get(part) {
                Some(next) => value = next,
                None => return String::new(),
            }
        }
        let text = compact(value);
        if text.len() > MAX_DEFAULT {
            "see `values.yaml`".to_owned()
        } else {
            format!("`{text}`")
        }
    }
}

fn has_described_properties(node: &Value) -> bool {
    node.get("properties")
        .and_then(Value::as_mapping)
        .is_some_and(|properties| {
            properties.values().any(|property| {
                property.get("description").is_some() || has_described_properties(property)
            })
        })
}

/// A table cell: one line, `|` escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// A YAML value as one line of JSON.
fn compact(value: &Value) -> String {
    let mut out = String::new();
    match write_json_compact(&mut out, value) {
        Ok(()) => out,
        Err(_) => format!("{value:?}"),
    }
}

fn write_json_compact(out: &mut String, value: &Value) -> Result<(), String> {
    match value {
        Value::Sequence(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_json_compact(out, item)?;
            }
            out.push(']');
        }
        Value::Mapping(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&json_key(key)?);
                out.push_str(": ");
                write_json_compact(out, item)?;
            }
            out.push('}');
        }
        scalar => out.push_str(&json_scalar(scalar)?),
    }
    Ok(())
}

/// Pretty JSON in the layout of `serde_json::to_string_pretty`, keeping the source's key order
/// (serde_json's own map would sort the keys).
fn write_json(out: &mut String, value: &Value, depth: usize) -> Result<(), String> {
    let indent = |depth: usize| "  ".repeat(depth);
    match value {
        Value::Sequence(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                write_json(out, item, depth + 1)?;
                out.push_str(if index + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&indent(depth));
            out.push(']');
        }
        Value::Mapping(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (index, (key, item)) in map.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                out.push_str(&json_key(key)?);
                out.push_str(": ");
                write_json(out, item, depth + 1)?;
                out.push_str(if index + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&indent(depth));
            out.push('}');
        }
        Value::Sequence(_) => out.push_str("[]"),
        Value::Mapping(_) => out.push_str("{}"),
        scalar => out.push_str(&json_scalar(scalar)?),
    }
    Ok(())
}

fn json_key(key: &Value) -> Result<String, String> {
    match key {
        Value::String(key) => Ok(serde_json::Value::from(key.as_str()).to_string()),
        other => Err(format!("a key that is not a string: {other:?} (quote it)")),
    }
}

fn json_scalar(value: &Value) -> Result<String, String> {
    let json = match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::String(text) => serde_json::Value::from(text.as_str()),
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                serde_json::Value::from(integer)
            } else if let Some(integer) = number.as_u64() {
                serde_json::Value::from(integer)
            } else {
                number
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| format!("{number} has no JSON form"))?
            }
        }
        other => return Err(format!("{other:?} has no JSON form")),
    };
    Ok(json.to_string())
}

fn read(path: &Path) -> Result<String, ValuesDocsError> {
    std::fs::read_to_string(path).map_err(|source| ValuesDocsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_yaml(path: &Path) -> Result<Value, ValuesDocsError> {
    serde_yaml::from_str(&read(path)?).map_err(|source| ValuesDocsError::Yaml {
        path: path.to_owned(),
        source,
    })
}
