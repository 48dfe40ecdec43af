//! The gateway's bearer token: from `OPENCLAW_GATEWAY_TOKEN` (which the keeper's answer sets in
//! a chart's pod, see `credentials.rs`), else from the file `<KRILL_GATEWAY_TOKENS_DIR>/<KRILL_NAME>`
//! for runs outside the chart that mount a token file. The value is handed to the gateway through
//! its environment and never printed.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub const TOKEN_VARIABLE: &str = "OPENCLAW_GATEWAY_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the gateway token {path}: {source}")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("the gateway token file {path} is empty")]
    Empty { path: PathBuf },
    #[error(
        "no gateway token: {TOKEN_VARIABLE} is unset or empty, KRILL_KEEPER_URL is unset and \
         {path} does not exist. In a container OpenClaw refuses to listen beyond loopback \
         without one; set one of them (the chart sets KRILL_KEEPER_URL), or choose another \
         gateway.auth.mode in the config"
    )]
    Missing { path: PathBuf },
}

#[derive(Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Already in the environment, so the gateway inherits it.
    Environment,
    File(PathBuf),
}

#[derive(Clone, PartialEq, Eq)]
pub struct GatewayToken {
    value: String,
    pub source: TokenSource,
}

/// Never shows the value, so a token cannot reach a log through `{:?}`.
impl fmt::Debug for GatewayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            TokenSource::Environment => write!(f, "GatewayToken(from ${TOKEN_VARIABLE})"),
            TokenSource::File(path) => write!(f, "GatewayToken(from {})", path.display()),
        }
    }
}

impl GatewayToken {
    /// The environment wins; the file is read only when the variable is unset or empty. `None`
    /// when neither holds a token.
    pub fn find(
        env: &std::collections::BTreeMap<String, String>,
        file: &Path,
    ) -> Result<Option<Self>, TokenError> {
        if let Some(value) = env.get(TOKEN_VARIABLE).filter(|v| !v.is_empty()) {
            return Ok(Some(GatewayToken {
                value: value.clone(),
                source: TokenSource::Environment,
            }));
        }
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(TokenError::Unreadable {
                    path: file.to_owned(),
                    source,
                });
            }
        };
        // Secrets written with `echo` or an editor end in a newline that is not part of the token.
        let value = text.trim_end_matches(['\n', '\r']);
        if value.trim().is_empty() {
            return Err(TokenError::Empty {
                path: file.to_owned(),
            });
        }
        Ok(Some(GatewayToken {
            value: value.to_owned(),
            source: TokenSource::File(file.to_owned()),
        }))
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// The file to read, when the gateway does not inherit the token from the environment.
    pub fn file(&self) -> Option<&Path> {
        match &self.source {
            TokenSource::Environment => None,
            TokenSource::File(path) => Some(path),
        }
    }
}

/// Whether the gateway this config describes will refuse to start without a token: token auth
/// (explicit, or no mode and no password) with no token written into the config itself.
pub fn required_by(config: &Value) -> bool {
    let Some(auth) = config.pointer("/gateway/auth") else {
        return true;
    };
    let has = |key: &str| {
        auth.get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if has("token") {
        return false;
    }
    match auth.get("mode").and_then(Value::as_str) {
        Some(mode) => mode == "token",
        None => !has("password"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::{fixture, rstest};
    use serde_json::json;
    use std::collections::BTreeMap;

    #[fixture]
    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn env_with(token: Option<&str>) -> BTreeMap<String, String> {
        token
            .map(|t| (TOKEN_VARIABLE.to_owned(), t.to_owned()))
            .into_iter()
            .collect()
    }

    #[rstest]
    fn the_environment_wins_over_the_file(dir: tempfile::TempDir) {
        let file = dir.path().join("krill-0");
        std::fs::write(&file, "from-file").expect("write");
        let token = GatewayToken::find(&env_with(Some("from-env")), &file)
            .expect("reads")
            .expect("found");
        assert_eq!(token.value(), "from-env");
        assert_eq!(token.file(), None);
    }

    #[rstest]
    #[case::unset(None)]
    #[case::empty(Some(""))]
    fn without_the_variable_the_file_is_read(
        dir: tempfile::TempDir,
        #[case] variable: Option<&str>,
    ) {
        let file = dir.path().join("krill-0");
        std::fs::write(&file, "tok-krill-0\n").expect("write");
        let token = GatewayToken::find(&env_with(variable), &file)
            .expect("reads")
            .expect("found");
        assert_eq!(
            token.value(),
            "tok-krill-0",
            "the trailing newline is dropped"
        );
        assert_eq!(token.file(), Some(file.as_path()));
    }

    #[rstest]
    fn neither_source_is_none(dir: tempfile::TempDir) {
        let found = GatewayToken::find(&env_with(None), &dir.path().join("krill-0")).expect("ok");
        assert!(found.is_none());
    }

    #[rstest]
    #[case::empty("")]
    #[case::newline_only("\n")]
    #[case::blank(" \r\n")]
    fn an_empty_file_is_refused_by_path(dir: tempfile::TempDir, #[case] content: &str) {
        let file = dir.path().join("krill-1");
        std::fs::write(&file, content).expect("write");
        let error = GatewayToken::find(&env_with(None), &file)
            .expect_err("refused")
            .to_string();
        assert!(error.contains(&file.display().to_string()), "{error}");
        assert!(error.contains("empty"), "{error}");
    }

    #[rstest]
    fn debug_never_shows_the_value(dir: tempfile::TempDir) {
        let file = dir.path().join("krill-2");
        std::fs::write(&file, "super-secret-value").expect("write");
        let token = GatewayToken::find(&env_with(None), &file)
            .expect("reads")
            .expect("found");
        let shown = format!("{token:?}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(shown.contains("krill-2"), "{shown}");
    }

    #[test]
    fn missing_names_both_sources() {
        let error = TokenError::Missing {
            path: PathBuf::from("/krill/secrets/gateway-tokens/krill-3"),
        }
        .to_string();
        assert!(error.contains(TOKEN_VARIABLE), "{error}");
        assert!(
            error.contains("/krill/secrets/gateway-tokens/krill-3"),
            "{error}"
        );
    }

    #[rstest]
    #[case::token_mode(json!({"gateway": {"auth": {"mode": "token"}}}), true)]
    #[case::no_auth_section(json!({"gateway": {"mode": "local"}}), true)]
    #[case::token_in_config(json!({"gateway": {"auth": {"mode": "token", "token": "${X}"}}}), false)]
    #[case::password_mode(json!({"gateway": {"auth": {"mode": "password"}}}), false)]
    #[case::password_without_mode(json!({"gateway": {"auth": {"password": "${PW}"}}}), false)]
    #[case::trusted_proxy(json!({"gateway": {"auth": {"mode": "trusted-proxy"}}}), false)]
    fn token_requirement_follows_the_auth_mode(#[case] config: Value, #[case] required: bool) {
        assert_eq!(required_by(&config), required);
    }
}
