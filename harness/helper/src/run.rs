//! `krill run` and `krill prepare`: everything between the container start and the gateway.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;

use crate::config::{self, ConfigError, RenderRequest, Rendered, Source};
use crate::first_start::{self, FirstStartError};
use crate::fsops::{FsError, io_err, write_atomically};
use crate::gateway::{Delivered, GatewayError, GatewayLock, Launch};
use crate::layout::{self, LayoutError};
use crate::paths::{KrillName, Paths, Settings, SettingsError};
use crate::token::{self, GatewayToken, TOKEN_VARIABLE, TokenError};
use krill_keeper::api::Credentials;

/// The key OpenClaw presents to the model endpoint (`${OPENCLAW_API_KEY}` in the config).
pub const API_KEY_VARIABLE: &str = "OPENCLAW_API_KEY";

/// Why `krill run` or `krill prepare` stopped before the gateway.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    FirstStart(#[from] FirstStartError),
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Everything `krill run` decides from its environment, before touching the disk.
pub struct Plan {
    pub name: KrillName,
    pub paths: Paths,
    pub settings: Settings,
    pub rendered: Rendered,
    pub launch: Launch,
    /// Set when the gateway would need a token and neither source has one; only `run` (which
    /// starts the gateway) cares, `prepare` does not.
    missing_token: Option<PathBuf>,
}

impl Plan {
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, RunError> {
        Self::with_credentials(env, None)
    }

    /// As [`Plan::from_env`], with the credentials the keeper handed over: they count as set for
    /// the config's `${VAR}` references and reach the gateway's environment, never a file.
    pub fn with_credentials(
        env: &BTreeMap<String, String>,
        credentials: Option<&Credentials>,
    ) -> Result<Self, RunError> {
        let mut env = env.clone();
        let delivered = Delivered(
            credentials
                .map(|c| {
                    vec![
                        (TOKEN_VARIABLE.to_owned(), c.gateway_token.clone()),
                        (API_KEY_VARIABLE.to_owned(), c.proxy_key.clone()),
                    ]
                })
                .unwrap_or_default(),
        );
        env.extend(delivered.0.iter().cloned());
        let env = &env;
        let name = KrillName::from_env(env)?;
        let paths = Paths::from_env(env);
        let settings = Settings::from_env(env)?;
        let token_file = paths.gateway_token(&name);
        let gateway_token = GatewayToken::find(env, &token_file)?;
        // A template may reference ${OPENCLAW_GATEWAY_TOKEN}: a token from the file counts as set.
        let mut env = env.clone();
        if let Some(token) = gateway_token.as_ref().filter(|t| t.file().is_some()) {
            env.insert(TOKEN_VARIABLE.to_owned(), token.value().to_owned());
        }
        let env = &env;
        let template_path = paths.template();
        let template = match fs::read_to_string(&template_path) {
            Ok(text) => Source::new(template_path.display().to_string(), text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Source::new("built-in template", config::DEFAULT_TEMPLATE)
            }
            Err(e) => return Err(io_err("reading", &template_path)(e).into()),
        };
        let overrides_path = paths.overrides(&name);
        let overrides = match fs::read_to_string(&overrides_path) {
            Ok(text) => Some(Source::new(overrides_path.display().to_string(), text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("reading", &overrides_path)(e).into()),
        };
        let rendered = config::render(&RenderRequest {
            template,
            overrides,
            env,
            workspace: &paths.workspace(),
            port: settings.port,
        })?;
        let missing_token =
            (gateway_token.is_none() && token::required_by(&rendered.config)).then_some(token_file);
        let launch = Launch::new(&paths, &settings)
            .with_token(gateway_token)
            .with_delivered(delivered);
        Ok(Plan {
            name,
            paths,
            settings,
            rendered,
            launch,
            missing_token,
        })
    }

    /// Fails, naming both sources, when the gateway would refuse to start for want of a token.
    pub fn ensure_gateway_token(&self) -> Result<(), TokenError> {
        match &self.missing_token {
            Some(path) => Err(TokenError::Missing { path: path.clone() }),
            None => Ok(()),
        }
    }

    /// What `--dry-run` prints: the config as it would be written, then the command.
    pub fn describe(&self) -> String {
        format!(
            "# {} (secrets stay ${{VAR}} references; OpenClaw resolves them at start)\n{}# command\n{}\n",
            self.paths.rendered_config().display(),
            self.rendered.to_json(),
            self.launch.display()
        )
    }

    /// Lays out the volume, restores context on first start, writes the config. Returns the lock
    /// the gateway must inherit.
    pub fn prepare(
        &self,
        force_restore: bool,
        reapply: Option<&str>,
    ) -> Result<GatewayLock, RunError> {
        layout::prepare(&self.paths, self.settings.uid, self.settings.gid)?;
        let lock = GatewayLock::acquire(&self.paths)?;
        first_start::recover(&self.paths)?;
        if let Some(report) =
            first_start::restore_on_first_start(&self.paths, force_restore, reapply)?
        {
            eprintln!("krill: {report}");
        }
        if let Some(report) = first_start::sync_agents_md(&self.paths)? {
            eprintln!("krill: {report}");
        }
        write_atomically(
            &self.paths.rendered_config(),
            self.rendered.to_json().as_bytes(),
        )?;
        // As root (an init step), what the restore unpacked must end up owned by the gateway user.
        layout::prepare(&self.paths, self.settings.uid, self.settings.gid)?;
        Ok(lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::{fixture, rstest};

    struct Pod {
        root: tempfile::TempDir,
    }

    impl Pod {
        fn env(&self, token: Option<&str>) -> BTreeMap<String, String> {
            let dir = |name: &str| self.root.path().join(name).display().to_string();
            let mut env: BTreeMap<String, String> = [
                ("KRILL_NAME", "krill-1".to_owned()),
                ("KRILL_DATA", dir("data")),
                ("KRILL_CONFIG_DIR", dir("config")),
                ("KRILL_RUN_DIR", dir("run")),
                ("KRILL_GATEWAY_TOKENS_DIR", dir("tokens")),
                ("OPENCLAW_API_BASE", "http://proxy:4000/v1".to_owned()),
                ("OPENCLAW_MODEL", "m".to_owned()),
                ("OPENCLAW_API_KEY", "sk-unit".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            if let Some(token) = token {
                env.insert(TOKEN_VARIABLE.to_owned(), token.to_owned());
            }
            env
        }

        fn write_token(&self, name: &str, value: &str) -> std::path::PathBuf {
            let dir = self.root.path().join("tokens");
            fs::create_dir_all(&dir).expect("mkdir");
            let path = dir.join(name);
            fs::write(&path, value).expect("write token");
            path
        }
    }

    #[fixture]
    fn pod() -> Pod {
        Pod {
            root: tempfile::tempdir().expect("tempdir"),
        }
    }

    #[rstest]
    fn a_token_file_reaches_the_gateway_but_never_the_output(pod: Pod) {
        let file = pod.write_token("krill-1", "file-token-4f2a\n");
        pod.write_token("krill-2", "someone-elses-token");
        let plan = Plan::from_env(&pod.env(None)).expect("plan");
        let token = plan.launch.gateway_token.as_ref().expect("token for exec");
        assert_eq!(token.value(), "file-token-4f2a");
        assert_eq!(token.file(), Some(file.as_path()));
        let shown = plan.describe();
        assert!(!shown.contains("file-token-4f2a"), "{shown}");
        assert!(
            shown.contains(&format!("{TOKEN_VARIABLE}=\"$(cat {})\"", file.display())),
            "{shown}"
        );
    }

    #[rstest]
    fn a_token_in_the_environment_is_inherited_not_repeated(pod: Pod) {
        pod.write_token("krill-1", "file-token");
        let plan = Plan::from_env(&pod.env(Some("env-token"))).expect("plan");
        assert!(plan.launch.gateway_token.is_none());
        assert!(!plan.describe().contains(TOKEN_VARIABLE));
    }

    #[rstest]
    fn without_any_token_run_fails_naming_both_sources(pod: Pod) {
        let plan = Plan::from_env(&pod.env(Some(""))).expect("prepare needs no token");
        let error = plan
            .ensure_gateway_token()
            .expect_err("run refuses")
            .to_string();
        let file = pod.root.path().join("tokens").join("krill-1");
        assert!(error.contains(TOKEN_VARIABLE), "{error}");
        assert!(error.contains(&file.display().to_string()), "{error}");
    }

    #[rstest]
    fn a_template_reference_is_satisfied_by_the_file(pod: Pod) {
        let config = pod.root.path().join("config");
        fs::create_dir_all(&config).expect("mkdir");
        fs::write(
            config.join("openclaw.json5"),
            r#"{ gateway: { mode: "local", auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" } } }"#,
        )
        .expect("template");
        pod.write_token("krill-1", "referenced-token");
        let plan = Plan::from_env(&pod.env(None)).expect("plan");
        assert!(
            plan.rendered.references.contains(TOKEN_VARIABLE),
            "stays a reference"
        );
        assert!(!plan.rendered.to_json().contains("referenced-token"));
    }
}
