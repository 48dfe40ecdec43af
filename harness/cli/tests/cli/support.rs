//! Running the binary against a test release.
#![allow(dead_code)] // each module uses a different subset

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use krill_cluster::{
    Cluster, Provider, TestRelease, Values, chart_dir, wait_for_statefulset_ready,
};
use rstest::fixture;

/// Generous: two cores shared with other work.
pub const ROLLOUT: Duration = Duration::from_secs(240);

#[fixture]
pub async fn release() -> TestRelease {
    let cluster = match Cluster::from_env().await {
        Ok(cluster) => Arc::new(cluster),
        Err(e) => panic!("cannot use the test cluster: {e}"),
    };
    match TestRelease::for_current_test(cluster, &[]).await {
        Ok(release) => release,
        Err(e) => panic!("cannot create the test namespace: {e}"),
    }
}

/// What one run printed, as text.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The kubeconfig the binary gets: the provider's file, or (existing) the environment's.
pub fn kubeconfig() -> Option<PathBuf> {
    match Provider::from_env() {
        Ok(Provider::Existing) => None,
        _ => std::env::var_os("KRILL_KUBECONFIG").map(PathBuf::from),
    }
}

/// `kubectl-krill -n <the release's namespace> <args>`, with the pinned helm and the chart under
/// test, as a user in a krill checkout would run it.
pub async fn krill(release: &TestRelease, args: &[&str]) -> Run {
    let mut command = krill_command(release, args);
    // stderr into a file rather than a pipe, so that a run that never ends can still say how far
    // it got.
    let stderr = tempfile::NamedTempFile::new().expect("a file for stderr");
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(stderr.reopen().expect("stderr file"))
        .spawn()
        .expect("kubectl-krill started");
    let out = tokio::time::timeout(Duration::from_secs(600), child.wait_with_output()).await;
    let printed = std::fs::read_to_string(stderr.path()).unwrap_or_default();
    let Ok(out) = out else {
        panic!(
            "kubectl-krill {args:?} did not finish within 10 minutes; its stderr so far:\n{printed}"
        )
    };
    let mut run: Run = out.expect("kubectl-krill's output").into();
    run.stderr = printed;
    run
}

/// The command [`krill`] runs, for a test that reads its output as it comes (`status -w`).
pub fn krill_command(release: &TestRelease, args: &[&str]) -> tokio::process::Command {
    let helm = release
        .cluster()
        .tools()
        .find("helm")
        .expect("the pinned helm");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-krill"));
    command.args([
        "--namespace",
        release.namespace(),
        "--release",
        release.name(),
    ]);
    // Before the command's own arguments: after `exec NAME --` everything is the command.
    if let Some(kubeconfig) = kubeconfig() {
        command.arg("--kubeconfig").arg(kubeconfig);
    }
    command
        .args(args)
        .env("KRILL_HELM", helm)
        .env("KRILL_CHART", chart_dir().expect("the chart"))
        .env_remove("KRILL_RELEASE")
        .env_remove("KRILL_NAMESPACE")
        .kill_on_drop(true);
    command
}

/// `kubectl-krill` with no cluster fixture (for failures that need none).
pub fn krill_without_cluster(args: &[&str]) -> Run {
    std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-krill"))
        .args(args)
        .env_remove("KRILL_RELEASE")
        .env_remove("KRILL_NAMESPACE")
        .output()
        .expect("kubectl-krill started")
        .into()
}

/// Installs `values` and waits until the fleet (`fleet` pods) and each running named krill
/// rolled out.
pub async fn install(
    release: &TestRelease,
    values: &str,
    fleet: i32,
    named: &[&str],
) -> anyhow::Result<()> {
    release.install(&Values::new().yaml(values)).await?;
    let client = release.client();
    wait_for_statefulset_ready(&client, release.namespace(), "krill", fleet, ROLLOUT).await?;
    for name in named {
        wait_for_statefulset_ready(
            &client,
            release.namespace(),
            &format!("krill-{name}"),
            1,
            ROLLOUT,
        )
        .await?;
    }
    Ok(())
}

/// The release's user-supplied values, as helm keeps them.
pub async fn helm_values(release: &TestRelease) -> anyhow::Result<serde_json::Value> {
    let out = release
        .helm()
        .run([
            "get",
            "values",
            release.name(),
            "--namespace",
            release.namespace(),
            "--output",
            "json",
        ])
        .await?;
    Ok(serde_json::from_str(&out.stdout)?)
}
