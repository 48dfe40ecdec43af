use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::manifest::{Rendered, RenderedError};

/// Kubernetes version the chart is rendered for (helm's built-in default is older than the
/// chart's `kubeVersion` constraint when helm is built from source).
pub const KUBE_VERSION: &str = "1.33.13";

#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error(
        "helm not found: looked on KRILL_TOOLS_PATH ({tools_path}) and at {cache}; \
         run `scripts/dev tools` (or scripts/tools/go-tools.sh helm) first"
    )]
    NotFound { tools_path: String, cache: String },
    #[error("running {helm}: {source}")]
    Spawn {
        helm: String,
        source: std::io::Error,
    },
    #[error("writing a values file: {0}")]
    ValuesFile(std::io::Error),
    #[error("helm template failed (exit {code:?}):\n{stderr}")]
    Failed { code: Option<i32>, stderr: String },
    #[error("helm template succeeded although it was expected to fail; output starts:\n{head}")]
    UnexpectedSuccess { head: String },
    #[error(transparent)]
    Rendered(#[from] RenderedError),
}

/// Values given to one render, in order (later ones win, as with helm).
#[derive(Debug, Clone)]
pub enum Values {
    /// A values file.
    File(PathBuf),
    /// Inline YAML, written to a temporary file.
    Yaml(String),
    /// One `--set` expression.
    Set(String),
}

/// The real helm binary.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
}

impl Helm {
    /// Finds helm through the project's tool setup.
    pub fn locate() -> Result<Self, HelmError> {
        let tools_path = std::env::var("KRILL_TOOLS_PATH").unwrap_or_default();
        if let Some(binary) = std::env::split_paths(&tools_path)
            .map(|dir| dir.join("helm"))
            .find(|candidate| candidate.is_file())
        {
            return Ok(Self { binary });
        }
        let cache = cache_helm();
        if cache.is_file() {
            return Ok(Self { binary: cache });
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

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// `helm template <release> charts/krill -n <namespace>` with the given values.
    pub fn template(
        &self,
        release: &str,
        namespace: &str,
        values: &[Values],
    ) -> Result<Rendered, HelmError> {
        let output = self.run(release, namespace, values)?;
        if !output.status.success() {
            return Err(HelmError::Failed {
                code: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(Rendered::parse(&String::from_utf8_lossy(&output.stdout))?)
    }

    /// Renders values that must be refused; returns helm's error output.
    pub fn template_error(&self, values: &[Values]) -> Result<String, HelmError> {
        let output = self.run("krill", "krill", values)?;
        if output.status.success() {
            let stdout = String::from_utf8_lossy(&output.stdout);
            return Err(HelmError::UnexpectedSuccess {
                head: stdout.chars().take(400).collect(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    fn run(
        &self,
        release: &str,
        namespace: &str,
        values: &[Values],
    ) -> Result<std::process::Output, HelmError> {
        let chart = crate::chart_dir();
        // Temporary values files live until helm has read them.
        let mut keep = Vec::new();
        let mut args: Vec<OsString> = vec![
            "template".into(),
            release.into(),
            chart.into_os_string(),
            "--namespace".into(),
            namespace.into(),
            "--kube-version".into(),
            KUBE_VERSION.into(),
        ];
        for value in values {
            match value {
                Values::File(path) => {
                    args.push("--values".into());
                    args.push(path.clone().into_os_string());
                }
                Values::Yaml(yaml) => {
                    let mut file = tempfile::Builder::new()
                        .prefix("krill-values-")
                        .suffix(".yaml")
                        .tempfile()
                        .map_err(HelmError::ValuesFile)?;
                    std::io::Write::write_all(&mut file, yaml.as_bytes())
                        .map_err(HelmError::ValuesFile)?;
                    args.push("--values".into());
                    args.push(file.path().as_os_str().to_owned());
                    keep.push(file);
                }
                Values::Set(expression) => {
                    args.push("--set".into());
                    args.push(expression.into());
                }
            }
        }
        let output = Command::new(&self.binary)
            .args(&args)
            .output()
            .map_err(|source| HelmError::Spawn {
                helm: self.binary.display().to_string(),
                source,
            })?;
        drop(keep);
        Ok(output)
    }
}

/// Where scripts/tools/go-tools.sh installs the pinned helm.
fn cache_helm() -> PathBuf {
    let versions = std::fs::read_to_string(crate::repo_root().join("scripts/versions.env"))
        .unwrap_or_default();
    let version = versions
        .lines()
        .find_map(|line| line.strip_prefix("HELM_VERSION="))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("unknown")
        .to_owned();
    let cache = std::env::var_os("KRILL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
                });
            base.join("krill")
        });
    cache.join("helm").join(version).join("bin/helm")
}
