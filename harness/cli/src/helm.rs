//! `scale`, `pause`, `resume`: changes of the release's values through `helm upgrade
//! --reuse-values`, never a patch of the StatefulSets, so the release stays the source of truth
//! and the next `helm upgrade` keeps the change instead of undoing it.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::process::Command;

use crate::error::CliError;
use crate::target::Target;

/// The helm binary (`KRILL_HELM`, else `helm` on PATH) and the chart the release came from.
pub struct Helm {
    pub bin: PathBuf,
    pub chart: Option<String>,
    pub wait: bool,
}

#[derive(Deserialize)]
struct Listed {
    name: String,
    chart: String,
    status: String,
}

#[derive(Deserialize)]
struct ChartMeta {
    name: String,
    version: String,
}

impl Helm {
    async fn run(&self, target: &Target, args: &[String]) -> Result<String, CliError> {
        let mut command = Command::new(&self.bin);
        command.args(args).args(["--namespace", target.namespace()]);
        if let Some(kubeconfig) = &target.selector.kubeconfig {
            command.arg("--kubeconfig").arg(kubeconfig);
        }
        if let Some(context) = &target.selector.context {
            command.args(["--kube-context", context]);
        }
        let out = command
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| CliError::Helm {
                detail: format!("cannot run {}: {e}", self.bin.display()),
                fix: "install helm 3, or point KRILL_HELM at it".into(),
            })?;
        if !out.status.success() {
            return Err(CliError::Helm {
                detail: format!(
                    "`helm {}` failed ({}): {}",
                    args.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                fix: "read helm's message above; nothing was changed unless it says so".into(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The chart to upgrade with: `--chart`/`KRILL_CHART`, else `charts/krill` of a krill
    /// checkout we run in.
    fn chart(&self) -> Result<String, CliError> {
        if let Some(chart) = &self.chart {
            return Ok(chart.clone());
        }
        let local = Path::new("charts/krill/Chart.yaml");
        if local.is_file() {
            return Ok("charts/krill".into());
        }
        Err(CliError::Helm {
            detail: "no chart to upgrade the release with".into(),
            fix: "pass --chart (or KRILL_CHART): the chart the release was installed from, \
                  a directory, a .tgz or a repo reference"
                .into(),
        })
    }

    /// Refuses unless the release is deployed (not mid-upgrade or failed) and `chart` is the
    /// chart it runs: upgrading with another chart would change far more than one value.
    async fn check(&self, target: &Target, chart: &str) -> Result<(), CliError> {
        let listed = self
            .run(
                target,
                &[
                    "list".into(),
                    "--all".into(),
                    "--filter".into(),
                    format!("^{}$", target.release()),
                    "--output".into(),
                    "json".into(),
                ],
            )
            .await?;
        let releases: Vec<Listed> = serde_json::from_str(&listed).map_err(|e| CliError::Helm {
            detail: format!("cannot read `helm list` output: {e}"),
            fix: "use helm 3".into(),
        })?;
        let Some(release) = releases.iter().find(|r| r.name == target.release()) else {
            return Err(CliError::NoRelease {
                release: target.release().to_owned(),
                namespace: target.namespace().to_owned(),
            });
        };
        if release.status != "deployed" {
            return Err(CliError::Helm {
                detail: format!(
                    "release {} is {}, not deployed",
                    release.name, release.status
                ),
                fix: format!(
                    "finish or roll back the last change first (`helm -n {} history {}`)",
                    target.namespace(),
                    release.name
                ),
            });
        }
        let shown = self
            .run(target, &["show".into(), "chart".into(), chart.into()])
            .await?;
        let meta: ChartMeta = serde_yaml::from_str(&shown).map_err(|e| CliError::Helm {
            detail: format!("cannot read Chart.yaml of {chart}: {e}"),
            fix: "pass the krill chart with --chart".into(),
        })?;
        let given = format!("{}-{}", meta.name, meta.version);
        if given != release.chart {
            return Err(CliError::Helm {
                detail: format!(
                    "release {} runs chart {}, but {chart} is {given}; this change would also \
                     upgrade the chart",
                    release.name, release.chart
                ),
                fix: "pass the chart the release was installed from with --chart, or upgrade \
                      the chart on purpose with `helm upgrade` first"
                    .into(),
            });
        }
        Ok(())
    }

    /// `helm upgrade --reuse-values --set <set>`, after the checks above.
    pub async fn set(&self, target: &Target, set: &[String]) -> Result<(), CliError> {
        let chart = self.chart()?;
        self.check(target, &chart).await?;
        let mut args: Vec<String> = vec![
            "upgrade".into(),
            target.release().into(),
            chart,
            "--reuse-values".into(),
        ];
        for s in set {
            args.push("--set".into());
            args.push(s.clone());
        }
        if self.wait {
            args.extend(["--wait".into(), "--timeout".into(), "10m".into()]);
        }
        self.run(target, &args).await.map(drop)
    }
}
