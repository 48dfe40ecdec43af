use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::HelmError;

/// The real helm binary, run as a subprocess against one cluster.
#[derive(Debug, Clone)]
pub struct Helm {
    bin: PathBuf,
    /// `None` leaves helm to its own `KUBECONFIG`/current-context lookup (the existing provider).
    kubeconfig: Option<PathBuf>,
}

/// What a successful helm run printed.
#[derive(Debug, Clone)]
pub struct HelmOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Values for an install or upgrade: YAML documents (as `-f` files, in order) and `--set` pairs.
#[derive(Debug, Clone, Default)]
pub struct Values {
    documents: Vec<String>,
    sets: Vec<(String, String)>,
}

impl Values {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a YAML values document; later documents override earlier ones, as with `helm -f`.
    pub fn yaml(mut self, document: impl Into<String>) -> Self {
        self.documents.push(document.into());
        self
    }

    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.sets.push((key.into(), value.into()));
        self
    }

    /// Writes the documents into `dir` and returns the helm arguments that pass them.
    fn to_args(&self, dir: &Path) -> Result<Vec<OsString>, HelmError> {
        let mut args = Vec::new();
        for (index, document) in self.documents.iter().enumerate() {
            let path = dir.join(format!("values-{index}.yaml"));
            std::fs::write(&path, document).map_err(HelmError::Values)?;
            args.push("-f".into());
            args.push(path.into_os_string());
        }
        for (key, value) in &self.sets {
            args.push("--set".into());
            args.push(format!("{key}={value}").into());
        }
        Ok(args)
    }
}

impl Helm {
    pub fn new(bin: PathBuf, kubeconfig: Option<PathBuf>) -> Self {
        Self { bin, kubeconfig }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs `helm <args>`; a non-zero exit is an error carrying helm's stderr.
    pub async fn run<I, S>(&self, args: I) -> Result<HelmOutput, HelmError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut all: Vec<OsString> = args.into_iter().map(Into::into).collect();
        if let Some(kubeconfig) = &self.kubeconfig {
            all.push("--kubeconfig".into());
            all.push(kubeconfig.clone().into_os_string());
        }
        let output = Command::new(&self.bin)
            .args(&all)
            // helm must not pick up a developer's repositories or plugins.
            .env(
                "HELM_CACHE_HOME",
                std::env::temp_dir().join("krill-helm/cache"),
            )
            .env(
                "HELM_CONFIG_HOME",
                std::env::temp_dir().join("krill-helm/config"),
            )
            .env(
                "HELM_DATA_HOME",
                std::env::temp_dir().join("krill-helm/data"),
            )
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| HelmError::Spawn {
                bin: self.bin.clone(),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            Ok(HelmOutput { stdout, stderr })
        } else {
            Err(HelmError::Failed {
                args: all
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                status: output.status,
                stderr,
            })
        }
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
        args.extend(values.to_args(scratch)?);
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
        let args = values.to_args(dir.path())?;
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
}
