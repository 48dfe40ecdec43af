//! Renders OpenClaw's config: a JSON5 template, deep-merged with this krill's overrides, with
//! krill's non-secret variables filled in and every secret left as a `${VAR}` reference for
//! OpenClaw to resolve from its environment. Output is JSON written by serde, so no value can
//! change the structure, and every filled-in value is escaped so it cannot pull in a variable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use crate::envref::{self, Piece};

/// The template compiled into the binary, used when the chart mounts none.
pub const DEFAULT_TEMPLATE: &str = include_str!("../templates/openclaw.json5");

/// Variables `krill run` fills into the config itself. They are not secret, and filling them in
/// makes `--dry-run` show what the gateway will really use. Every other `${VAR}` stays a reference.
pub const FILLED_VARIABLES: [&str; 3] = ["KRILL_NAME", "OPENCLAW_API_BASE", "OPENCLAW_MODEL"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: not valid JSON5: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: the top level must be an object, found {found}")]
    NotAnObject { origin: String, found: &'static str },
    #[error("missing environment variables (unset or empty): {}", describe_missing(.0))]
    MissingVariables(BTreeMap<String, Vec<String>>),
    #[error("the workspace path {0:?} is not valid UTF-8")]
    NonUtf8Path(std::path::PathBuf),
}

fn describe_missing(missing: &BTreeMap<String, Vec<String>>) -> String {
    missing
        .iter()
        .map(|(name, paths)| format!("{name} (used at {})", paths.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A config source and where it came from, for error messages.
#[derive(Debug, Clone)]
pub struct Source {
    pub origin: String,
    pub text: String,
}

impl Source {
    pub fn new(origin: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            text: text.into(),
        }
    }

    fn parse_object(&self) -> Result<Map<String, Value>, ConfigError> {
        let value: Value = json5::from_str(&self.text).map_err(|error| ConfigError::Parse {
            origin: self.origin.clone(),
            message: error.to_string(),
        })?;
        match value {
            Value::Object(map) => Ok(map),
            other => Err(ConfigError::NotAnObject {
                origin: self.origin.clone(),
                found: kind(&other),
            }),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub struct RenderRequest<'a> {
    pub template: Source,
    pub overrides: Option<Source>,
    pub env: &'a BTreeMap<String, String>,
    /// Forced into `agents.defaults.workspace`: snapshots and restores depend on it.
    pub workspace: &'a Path,
    /// Forced into `gateway.port`, matching the `--port` the gateway is started with.
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub config: Value,
    /// Variables the rendered config still references; OpenClaw resolves them at start.
    pub references: BTreeSet<String>,
}

impl Rendered {
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.config).unwrap_or_default();
        text.push('\n');
        text
    }
}

pub fn render(request: &RenderRequest<'_>) -> Result<Rendered, ConfigError> {
    let mut config = Value::Object(request.template.parse_object()?);
    if let Some(overrides) = &request.overrides {
        merge(&mut config, Value::Object(overrides.parse_object()?));
    }
    let mut fill = Filler {
        env: request.env,
        missing: BTreeMap::new(),
        references: BTreeSet::new(),
    };
    fill.value(&mut config, &mut Vec::new());
    if !fill.missing.is_empty() {
        return Err(ConfigError::MissingVariables(fill.missing));
    }
    let workspace = request
        .workspace
        .to_str()
        .ok_or_else(|| ConfigError::NonUtf8Path(request.workspace.to_owned()))?;
    set_path(
        &mut config,
        &["agents", "defaults", "workspace"],
        Value::String(envref::escape(workspace)),
    );
    set_path(&mut config, &["gateway", "port"], Value::from(request.port));
    Ok(Rendered {
        config,
        references: fill.references,
    })
}

/// Deep merge with the semantics of `openclaw config patch` (and JSON merge patch): objects merge
/// key by key, arrays and scalars replace, and `null` deletes the key.
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(&key);
                } else if let Some(existing) = base.get_mut(&key) {
                    merge(existing, value);
                } else {
                    let mut fresh = Value::Object(Map::new());
                    merge(&mut fresh, value);
                    base.insert(key, fresh);
                }
            }
        }
        (base, patch) => *base = strip_nulls(patch),
    }
}

/// A patch object placed where nothing was merges into an empty object, so its nulls vanish too.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

fn set_path(config: &mut Value, path: &[&str], value: Value) {
    let mut node = config;
    for key in &path[..path.len() - 1] {
        if !node.get(*key).is_some_and(Value::is_object) {
            node[*key] = Value::Object(Map::new());
        }
        node = &mut node[*key];
    }
    node[path[path.len() - 1]] = value;
}

struct Filler<'a> {
    env: &'a BTreeMap<String, String>,
    missing: BTreeMap<String, Vec<String>>,
    references: BTreeSet<String>,
}

impl Filler<'_> {
    fn value(&mut self, value: &mut Value, path: &mut Vec<String>) {
        match value {
            Value::String(text) => {
                if let Some(filled) = self.string(text, &display_path(path)) {
                    *text = filled;
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    path.push(format!("[{index}]"));
                    self.value(item, path);
                    path.pop();
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    path.push(key.clone());
                    self.value(item, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The string with filled variables substituted, or None when nothing changes.
    fn string(&mut self, text: &str, path: &str) -> Option<String> {
        let pieces = envref::parse(text);
        if !pieces.iter().any(|p| matches!(p, Piece::Reference(_))) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        for piece in pieces {
            match piece {
                Piece::Literal(literal) => out.push_str(literal),
                Piece::Escaped(name) => {
                    out.push_str("$${");
                    out.push_str(name);
                    out.push('}');
                }
                Piece::Reference(name) => {
                    match self.lookup(name) {
                        None => self
                            .missing
                            .entry(name.to_owned())
                            .or_default()
                            .push(path.to_owned()),
                        Some(value) if FILLED_VARIABLES.contains(&name) => {
                            out.push_str(&envref::escape(value))
                        }
                        Some(_) => {
                            self.references.insert(name.to_owned());
                        }
                    }
                    if !FILLED_VARIABLES.contains(&name) {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                }
            }
        }
        Some(out)
    }
}

fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if segment.starts_with('[') {
            out.push_str(segment);
        } else if segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        } else {
            out.push_str(&format!("[{}]", Value::String(segment.clone())));
        }
    }
    if out.is_empty() {
        "<root>".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::{fixture, rstest};
    use serde_json::json;

    const SECRET: &str = "sk-very-secret-value";

    #[fixture]
    fn env() -> BTreeMap<String, String> {
        [
            ("KRILL_NAME", "alice"),
            ("OPENCLAW_API_BASE", "http://krill-api-server:4000/v1"),
            ("OPENCLAW_MODEL", "gpt-test"),
            ("OPENCLAW_API_KEY", SECRET),
            ("OPENCLAW_GATEWAY_TOKEN", "gw-token-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn render_with(
        env: &BTreeMap<String, String>,
        overrides: Option<&str>,
    ) -> Result<Rendered, ConfigError> {
        render(&RenderRequest {
            template: Source::new("built-in template", DEFAULT_TEMPLATE),
            overrides: overrides.map(|text| Source::new("overrides/alice.json", text)),
            env,
            workspace: Path::new("/krill/data/workspace"),
            port: 18789,
        })
    }

    #[rstest]
    fn default_template_fills_non_secrets_and_keeps_secret_references(
        env: BTreeMap<String, String>,
    ) {
        let rendered = render_with(&env, None).expect("renders");
        let c = &rendered.config;
        assert_eq!(
            c["agents"]["defaults"]["model"]["primary"],
            "proxy/gpt-test"
        );
        assert_eq!(
            c["models"]["providers"]["proxy"]["baseUrl"],
            "http://krill-api-server:4000/v1"
        );
        assert_eq!(
            c["models"]["providers"]["proxy"]["apiKey"],
            "${OPENCLAW_API_KEY}"
        );
        assert_eq!(
            c["models"]["providers"]["proxy"]["models"][0]["id"],
            "gpt-test"
        );
        assert_eq!(
            c["agents"]["defaults"]["workspace"],
            "/krill/data/workspace"
        );
        assert_eq!(c["gateway"]["port"], 18789);
        assert_eq!(
            rendered.references,
            BTreeSet::from(["OPENCLAW_API_KEY".to_owned()])
        );
    }

    #[rstest]
    fn secrets_never_appear_in_the_output(env: BTreeMap<String, String>) {
        let text = render_with(
            &env,
            Some(r#"{ channels: { x: { token: "${OPENCLAW_GATEWAY_TOKEN}" } } }"#),
        )
        .expect("renders")
        .to_json();
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("gw-token-secret"), "{text}");
        assert!(text.contains("${OPENCLAW_GATEWAY_TOKEN}"));
    }

    #[rstest]
    #[case::reference("${OPENCLAW_API_KEY}")]
    #[case::escaped_reference("$${OPENCLAW_API_KEY}")]
    #[case::json_breakout("x\", \"apiKey\": \"${OPENCLAW_API_KEY}")]
    #[case::json5_comment("*/ ${OPENCLAW_API_KEY} //")]
    #[case::nested("${a${OPENCLAW_API_KEY}}")]
    #[case::newline("a\n}\n{\"gateway\":{}}")]
    fn a_filled_value_cannot_inject(mut env: BTreeMap<String, String>, #[case] model: &str) {
        env.insert("OPENCLAW_MODEL".into(), model.into());
        let rendered = render_with(&env, None).expect("renders");
        let text = rendered.to_json();
        let reparsed: Value = serde_json::from_str(&text).expect("output is JSON");
        assert_eq!(reparsed, rendered.config, "structure survives");
        let id = reparsed["models"]["providers"]["proxy"]["models"][0]["id"]
            .as_str()
            .expect("id");
        // What OpenClaw will make of it: exactly the model name, never the secret.
        let lookup = |name: &str| env.get(name).cloned();
        assert_eq!(envref::resolve(id, lookup), model);
        // The one legitimate place the secret lands is the provider's apiKey.
        assert_eq!(envref::resolve(&text, lookup).matches(SECRET).count(), 1);
        assert_eq!(
            rendered.references,
            BTreeSet::from(["OPENCLAW_API_KEY".to_owned()])
        );
    }

    #[rstest]
    fn missing_variables_are_named_with_their_paths(mut env: BTreeMap<String, String>) {
        env.remove("OPENCLAW_MODEL");
        env.insert("OPENCLAW_API_KEY".into(), String::new());
        let error = render_with(&env, None).expect_err("must fail").to_string();
        assert!(
            error.contains("OPENCLAW_MODEL (used at agents.defaults.model.primary"),
            "{error}"
        );
        assert!(
            error.contains("OPENCLAW_API_KEY (used at models.providers.proxy.apiKey)"),
            "{error}"
        );
        assert!(!error.contains("OPENCLAW_API_BASE"), "{error}");
    }

    #[rstest]
    fn overrides_merge_deeply(env: BTreeMap<String, String>) {
        let overrides = r#"{
            agents: { defaults: { heartbeat: null, model: { primary: "proxy/other" } } },
            models: { providers: { proxy: { models: [{ id: "other", name: "Other" }] } } },
            tools: { profile: "coding" },
        }"#;
        let c = render_with(&env, Some(overrides)).expect("renders").config;
        assert_eq!(c["agents"]["defaults"]["model"]["primary"], "proxy/other");
        assert!(
            c["agents"]["defaults"].get("heartbeat").is_none(),
            "null deletes"
        );
        assert_eq!(
            c["models"]["providers"]["proxy"]["models"],
            json!([{ "id": "other", "name": "Other" }])
        );
        assert_eq!(
            c["models"]["providers"]["proxy"]["api"], "openai-completions",
            "siblings kept"
        );
        assert_eq!(c["tools"]["profile"], "coding");
        assert_eq!(c["gateway"]["mode"], "local");
    }

    #[rstest]
    fn helper_owned_keys_win_over_overrides(env: BTreeMap<String, String>) {
        let c = render_with(
            &env,
            Some(r#"{ agents: { defaults: { workspace: "/elsewhere" } }, gateway: { port: 1 } }"#),
        )
        .expect("renders")
        .config;
        assert_eq!(
            c["agents"]["defaults"]["workspace"],
            "/krill/data/workspace"
        );
        assert_eq!(c["gateway"]["port"], 18789);
    }

    #[rstest]
    #[case::syntax("{ gateway: ", "overrides/alice.json: not valid JSON5")]
    #[case::array(
        "[1, 2]",
        "overrides/alice.json: the top level must be an object, found an array"
    )]
    fn bad_overrides_are_named(
        env: BTreeMap<String, String>,
        #[case] overrides: &str,
        #[case] expected: &str,
    ) {
        let error = render_with(&env, Some(overrides))
            .expect_err("must fail")
            .to_string();
        assert!(error.starts_with(expected), "{error}");
    }

    #[test]
    fn merge_replaces_arrays_and_builds_missing_objects() {
        let mut base = json!({ "a": [1, 2], "b": { "c": 1 } });
        merge(&mut base, json!({ "a": [3], "d": { "e": null, "f": 2 } }));
        assert_eq!(base, json!({ "a": [3], "b": { "c": 1 }, "d": { "f": 2 } }));
    }
}
