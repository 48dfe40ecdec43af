//! The real helm binary, run as a subprocess: `helm template` for the rendering tests (blocking)
//! and install/upgrade/test against a cluster for the cluster tests (async).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

use crate::{Versions, VersionsError, cache_root, chart_dir};

/// Kubernetes version the chart is rendered for (helm's built-in default is older than the
/// chart's `kubeVersion` constraint when helm is built from source).
pub const KUBE_VERSION: &str = "1.33.13";

/// A helm invocation that did not succeed. Keeps helm's own stderr, which is where the chart's
/// schema and template errors are.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error(
        "helm not found: looked on KRILL_TOOLS_PATH ({tools_path}) and at {cache}; \
         run `scripts/dev tools` (or scripts/tools/go-tools.sh helm) first"
    )]
    NotFound { tools_path: String, cache: String },

    #[error("finding the pinned helm: {0}")]
    Versions(#[from] VersionsError),

    #[error("could not start helm ({bin}): {source}")]
    Spawn {
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not write values file: {0}")]
    Values(#[source] std::io::Error),

    #[error("`helm {args}` exited with {status}:\n{stderr}")]
    Failed {
        args: String,
        status: ExitStatus,
        stderr: String,
    },

    #[error("`helm {args}` succeeded although it was expected to fail; output starts:\n{head}")]
    UnexpectedSuccess { args: String, head: String },
}

impl HelmError {
    /// helm's stderr when it ran and refused; empty otherwise.
    pub fn stderr(&self) -> &str {
        match self {
            Self::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }
}

/// What a successful helm run printed.
#[derive(Debug, Clone)]
pub struct HelmOutput {
    pub stdout: String,
    pub stderr: String,
}

/// One source of values, given to helm in order (later ones win, as with `helm -f`; `--set`
/// wins over every file, whatever the order).
#[derive(Debug, Clone)]
pub enum ValueSource {
    /// A values file.
    File(PathBuf),
    /// Inline YAML, written to a file for helm.
    Yaml(String),
    /// One `--set` expression (`key=value`).
    Set(String),
}

/// Values for one render, install or upgrade, built up in order.
#[derive(Debug, Clone, Default)]
pub struct Values(Vec<ValueSource>);

impl Values {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a YAML values document; later documents override earlier ones, as with `helm -f`.
    pub fn yaml(mut self, document: impl Into<String>) -> Self {
        self.0.push(ValueSource::Yaml(document.into()));
        self
    }

    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.push(ValueSource::File(path.into()));
        self
    }

    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0
            .push(ValueSource::Set(format!("{}={}", key.into(), value.into())));
        self
    }

    pub fn as_slice(&self) -> &[ValueSource] {
        &self.0
    }
}

impl From<&[ValueSource]> for Values {
    fn from(values: &[ValueSource]) -> Self {
        Self(values.to_vec())
    }
}

/// Writes the YAML documents into `dir` and returns the helm arguments that pass every value.
fn value_args(values: &[ValueSource], dir: &Path) -> Result<Vec<OsString>, HelmError> {
    let mut args = Vec::new();
    for (index, value) in values.iter().enumerate() {
        match value {
            ValueSource::File(path) => {
                args.push("-f".into());
                args.push(path.clone().into_os_string());
            }
            ValueSource::Yaml(document) => {
                let path = dir.join(format!("values-{index}.yaml"));
                std::fs::write(&path, document).map_err(HelmError::Values)?;
                args.push("-f".into());
                args.push(path.into_os_string());
            }
            ValueSource::Set(expression) => {
                args.push("--set".into());
                args.push(expression.into());
            }
        }
    }
    Ok(args)
}

fn joined(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The real helm binary, optionally bound to one cluster's kubeconfig.
#[derive(Debug, Clone)]
pub struct Helm {
    bin: PathBuf,
    /// `None` leaves helm to its own `KUBECONFIG`/current-context lookup (the existing provider).
    kubeconfig: Option<PathBuf>,
}

impl Helm {
    pub fn new(bin: PathBuf, kubeconfig: Option<PathBuf>) -> Self {
        Self { bin, kubeconfig }
    }

    /// Finds helm through the project's tool setup: the first `helm` on `KRILL_TOOLS_PATH` (set
    /// by `scripts/dev`), else where `scripts/tools/go-tools.sh helm` installs the pinned one.
    pub fn locate() -> Result<Self, HelmError> {
        let tools_path = std::env::var("KRILL_TOOLS_PATH").unwrap_or_default();
        if let Some(bin) = std::env::split_paths(&tools_path)
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| dir.join("helm"))
            .find(|candidate| candidate.is_file())
        {
            return Ok(Self::new(bin, None));
        }
        let version = Versions::load()?.get("HELM_VERSION")?.to_owned();
        let cache = cache_root().join("helm").join(version).join("bin/helm");
        if cache.is_file() {
            return Ok(Self::new(cache, None));
        }
        Err(HelmError::NotFound {
            tools_path: if tools_path.is_empty() {
                "unset".into()
            } else {
                tools_path
            },
            cache: cache.display().to_string(),
        })
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `helm <args>` with this helm's kubeconfig, kept away from a developer's repositories and
    /// plugins.
    fn command(&self, args: &[OsString]) -> Command {
        let mut command = Command::new(&self.bin);
        command.args(args);
        if let Some(kubeconfig) = &self.kubeconfig {
            command.arg("--kubeconfig").arg(kubeconfig);
        }
        let home = std::env::temp_dir().join("krill-helm");
        command
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"));
        command
    }

    fn spawn_error(&self) -> impl FnOnce(std::io::Error) -> HelmError + '_ {
        |source| HelmError::Spawn {
            bin: self.bin.clone(),
            source,
        }
    }

    /// A non-zero exit is an error carrying helm's stderr.
    fn finish(args: &[OsString], output: Output) -> Result<HelmOutput, HelmError> {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            Ok(HelmOutput { stdout, stderr })
        } else {
            Err(HelmError::Failed {
                args: joined(args),
                status: output.status,
                stderr,
            })
        }
    }

    /// `helm template <release> <chart> -n <namespace>` of [`chart_dir`] with the given values,
    /// for [`KUBE_VERSION`]; returns the rendered manifests.
    pub fn template(
        &self,
        release: &str,
        namespace: &str,
        values: &[ValueSource],
    ) -> Result<String, HelmError> {
        let (args, output) = self.run_template(release, namespace, values)?;
        Ok(Self::finish(&args, output)?.stdout)
    }

    /// Renders values that must be refused (release and namespace `krill`); returns helm's
    /// error output.
    pub fn template_error(&self, values: &[ValueSource]) -> Result<String, HelmError> {
        let (args, output) = self.run_template("krill", "krill", values)?;
        if output.status.success() {
            let stdout = String::from_utf8_lossy(&output.stdout);
            return Err(HelmError::UnexpectedSuccess {
                args: joined(&args),
                head: stdout.chars().take(400).collect(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    fn run_template(
        &self,
        release: &str,
        namespace: &str,
        values: &[ValueSource],
    ) -> Result<(Vec<OsString>, Output), HelmError> {
        // The values files live until helm has read them.
        let scratch = tempfile::Builder::new()
            .prefix("krill-values-")
            .tempdir()
            .map_err(HelmError::Values)?;
        let mut args: Vec<OsString> = vec![
            "template".into(),
            release.into(),
            chart_dir().into_os_string(),
            "--namespace".into(),
            namespace.into(),
            "--kube-version".into(),
            KUBE_VERSION.into(),
        ];
        args.extend(value_args(values, scratch.path())?);
        let output = self.command(&args).output().map_err(self.spawn_error())?;
        Ok((args, output))
    }

    /// Runs `helm <args>` without blocking the test's runtime; a non-zero exit is an error
    /// carrying helm's stderr.
    pub async fn run<I, S>(&self, args: I) -> Result<HelmOutput, HelmError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let output = tokio::process::Command::from(self.command(&args))
            .kill_on_drop(true)
            .output()
            .await
            .map_err(self.spawn_error())?;
        Self::finish(&args, output)
    }

    /// `helm install|upgrade <release> <chart> -n <namespace>` with `values` written to `scratch`.
    pub async fn deploy(
        &self,
        verb: &str,
        release: &str,
        chart: &Path,
        namespace: &str,
        values: &Values,
        scratch: &Path,
    ) -> Result<HelmOutput, HelmError> {
        let mut args: Vec<OsString> = vec![
            verb.into(),
            release.into(),
            chart.as_os_str().to_owned(),
            "--namespace".into(),
            namespace.into(),
        ];
        args.extend(value_args(values.as_slice(), scratch)?);
        self.run(args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_files_then_sets_in_order() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let values = Values::new().yaml("a: 1\n").yaml("a: 2\n").set("b", "3");
        let args = value_args(values.as_slice(), dir.path())?;
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.len(), 6);
        assert_eq!(args[0], "-f");
        assert_eq!(std::fs::read_to_string(&args[1])?, "a: 1\n");
        assert_eq!(std::fs::read_to_string(&args[3])?, "a: 2\n");
        assert_eq!(&args[4..], ["--set", "b=3"]);
        Ok(())
    }

    #[test]
    fn files_are_passed_as_given() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let args = value_args(
            &[
                ValueSource::File("/v.yaml".into()),
                ValueSource::Set("x=1".into()),
            ],
            dir.path(),
        )?;
        assert_eq!(args, ["-f", "/v.yaml", "--set", "x=1"].map(OsString::from));
        Ok(())
    }

    #[test]
    fn a_refusal_keeps_helms_stderr() {
        let err = HelmError::Failed {
            args: "template x".into(),
            status: std::process::Command::new("false")
                .status()
                .unwrap_or_else(|e| panic!("running false: {e}")),
            stderr: "values don't meet the specifications of the schema".into(),
        };
        assert_eq!(
            err.stderr(),
            "values don't meet the specifications of the schema"
        );
        assert!(
            err.to_string().starts_with("`helm template x` exited with"),
            "{err}"
        );
    }
}
