use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, ListParams, LogParams, ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::{
    Cluster, ClusterError, ExecError, ExecOutput, Helm, HelmError, HelmOutput, ValueSource, Values,
    chart_dir, exec_in_pod,
};

/// A Helm release of the krill chart in a namespace of its own, for one test. Dropping it
/// uninstalls the release and deletes the namespace, whether the test passed or panicked, so
/// tests never see each other's objects.
pub struct TestRelease {
    cluster: Arc<Cluster>,
    helm: Helm,
    chart: PathBuf,
    namespace: String,
    scratch: tempfile::TempDir,
}

impl TestRelease {
    /// Release name the chart is documented with; the namespace is what makes each test unique.
    pub const NAME: &'static str = "krill";

    /// Creates the namespace (with extra `labels`) for the test running on this thread.
    pub async fn for_current_test(
        cluster: Arc<Cluster>,
        labels: &[(&str, &str)],
    ) -> Result<Self, ClusterError> {
        let thread = std::thread::current();
        let test = test_label(thread.name().unwrap_or("test"));
        Self::create(cluster, &test, labels).await
    }

    pub async fn create(
        cluster: Arc<Cluster>,
        test: &str,
        labels: &[(&str, &str)],
    ) -> Result<Self, ClusterError> {
        let helm = cluster.helm()?;
        let chart = chart_dir()?;
        let namespace = namespace_for_test(test);
        let mut all_labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        all_labels.insert("app.kubernetes.io/part-of".into(), "krill-tests".into());
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                labels: Some(all_labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(cluster.client())
            .create(&PostParams::default(), &object)
            .await
            .map_err(ClusterError::api(format!("creating namespace {namespace}")))?;
        let scratch = tempfile::Builder::new()
            .prefix(&format!("{namespace}-"))
            .tempdir()
            .map_err(ClusterError::io("creating a scratch dir for values files"))?;
        Ok(Self {
            cluster,
            helm,
            chart,
            namespace,
            scratch,
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn name(&self) -> &str {
        Self::NAME
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn client(&self) -> Client {
        self.cluster.client()
    }

    pub fn chart(&self) -> &Path {
        &self.chart
    }

    pub fn helm(&self) -> &Helm {
        &self.helm
    }

    /// A namespaced API for this release's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client(), &self.namespace)
    }

    pub async fn install(&self, values: &Values) -> Result<HelmOutput, HelmError> {
        self.deploy("install", values).await
    }

    pub async fn upgrade(&self, values: &Values) -> Result<HelmOutput, HelmError> {
        self.deploy("upgrade", values).await
    }

    /// The cluster's base values first ([`Cluster::base_values`]), then the test's, which win.
    async fn deploy(&self, verb: &str, values: &Values) -> Result<HelmOutput, HelmError> {
        let mut all = Values::new();
        if let Some(base) = self.cluster.base_values() {
            all = all.file(base);
        }
        let all: Vec<ValueSource> = all
            .as_slice()
            .iter()
            .chain(values.as_slice())
            .cloned()
            .collect();
        self.helm
            .deploy(
                verb,
                Self::NAME,
                &self.chart,
                &self.namespace,
                &Values::from(all.as_slice()),
                self.scratch.path(),
            )
            .await
    }

    /// Runs `command` in `container` (or the pod's only container) of `pod` in this release's
    /// namespace; see [`exec_in_pod`].
    pub async fn exec(
        &self,
        pod: &str,
        container: Option<&str>,
        command: &[&str],
        timeout: Duration,
    ) -> Result<ExecOutput, ExecError> {
        exec_in_pod(
            &self.client(),
            &self.namespace,
            pod,
            container,
            command,
            timeout,
        )
        .await
    }

    pub async fn uninstall(&self) -> Result<HelmOutput, HelmError> {
        self.helm
            .run([
                "uninstall",
                Self::NAME,
                "--namespace",
                self.namespace.as_str(),
                "--wait",
            ])
            .await
    }

    /// `helm test` for this release (needs a cluster whose pods really run). Without `--logs`:
    /// the chart deletes its test pod once it succeeded (`hook-succeeded`), and helm then fails
    /// fetching the logs of the pod it just deleted. A failed test pod stays, so on failure its
    /// logs are read here and returned with helm's error.
    pub async fn helm_test(&self) -> Result<HelmOutput, ClusterError> {
        let run = self
            .helm
            .run([
                "test",
                Self::NAME,
                "--namespace",
                self.namespace.as_str(),
                "--timeout",
                "5m",
            ])
            .await;
        match run {
            Ok(out) => Ok(out),
            Err(error) => Err(ClusterError::HelmTest {
                logs: self.helm_test_logs().await,
                error,
            }),
        }
    }

    /// The logs of every test pod left in the namespace, for a failure message.
    async fn helm_test_logs(&self) -> String {
        let pods: Api<Pod> = self.api();
        let selector = "app.kubernetes.io/component=helm-test";
        let list = match pods.list(&ListParams::default().labels(selector)).await {
            Ok(list) => list,
            Err(e) => return format!("(cannot list the test pods: {e})"),
        };
        let mut logs = String::new();
        for pod in list.items {
            let name = pod.metadata.name.unwrap_or_default();
            let text = pods
                .logs(&name, &LogParams::default())
                .await
                .unwrap_or_else(|e| format!("(no logs: {e})"));
            logs.push_str(&format!("--- {name}\n{text}\n"));
        }
        if logs.is_empty() {
            "(no test pod left)".into()
        } else {
            logs
        }
    }
}

impl Drop for TestRelease {
    fn drop(&mut self) {
        let namespace = self.namespace.clone();
        if std::thread::panicking() && std::env::var_os("KRILL_KEEP_NAMESPACES").is_some() {
            eprintln!("KRILL_KEEP_NAMESPACES is set: keeping namespace {namespace} for inspection");
            return;
        }
        let helm = self.helm.clone();
        let config = self.cluster.config().clone();
        // Drop cannot await, and the test's runtime may be shutting down, so cleanup runs to
        // completion on a thread with its own runtime and client.
        let cleanup = std::thread::spawn(move || -> Result<(), std::io::Error> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(remove_release_and_namespace(helm, config, namespace))
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cleanup of namespace {} failed: {e}", self.namespace),
            Err(_) => eprintln!("cleanup of namespace {} panicked", self.namespace),
        }
    }
}

async fn remove_release_and_namespace(
    helm: Helm,
    config: kube::Config,
    namespace: String,
) -> Result<(), std::io::Error> {
    // Best effort: the release may never have been installed, or already be gone.
    let _ = helm
        .run([
            "uninstall",
            TestRelease::NAME,
            "--namespace",
            namespace.as_str(),
            "--ignore-not-found",
        ])
        .await;
    let client = Client::try_from(config).map_err(std::io::Error::other)?;
    match Api::<Namespace>::all(client)
        .delete(&namespace, &DeleteParams::background())
        .await
    {
        Ok(_) | Err(kube::Error::Api(_)) => Ok(()),
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// The part of a libtest thread name worth putting in a namespace: the test function, and for an
/// rstest case (`<fn>::case_2_name`) a prefix of the function plus the case, so cases differ.
fn test_label(thread_name: &str) -> String {
    let mut parts = thread_name.rsplit("::");
    let last = parts.next().unwrap_or("test");
    match (last.starts_with("case_"), parts.next()) {
        (true, Some(function)) => {
            let prefix: String = function.chars().take(20).collect();
            format!("{prefix}-{last}")
        }
        _ => last.to_owned(),
    }
}

/// `krill-t-<test>-<random>`: a valid namespace name (DNS label, at most 63 characters) that
/// says which test made it.
pub fn namespace_for_test(test: &str) -> String {
    let mut slug = String::new();
    for c in test.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let suffix =
        std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    let suffix = format!("{:05x}", suffix & 0xf_ffff);
    let budget = 63 - "krill-t-".len() - 1 - suffix.len();
    let slug: String = slug.trim_matches('-').chars().take(budget).collect();
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "test" } else { slug };
    format!("krill-t-{slug}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_a_dns_label_naming_the_test() {
        let name = namespace_for_test("Upgrade_rolls_ONLY::the changed krill");
        assert!(
            name.starts_with("krill-t-upgrade-rolls-only-the-changed-krill-"),
            "{name}"
        );
        assert!(name.len() <= 63);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn rstest_cases_keep_function_prefix_and_case() {
        assert_eq!(
            test_label("every_krill_gets_a_bound_claim::case_2_explicit_class"),
            "every_krill_gets_a_b-case_2_explicit_class"
        );
        assert_eq!(test_label("volumes::scale_down"), "scale_down");
    }

    #[test]
    fn long_test_names_are_cut_to_63_characters() {
        let name = namespace_for_test(&"x".repeat(200));
        assert_eq!(name.len(), 63, "{name}");
        assert!(!name.contains("--"), "{name}");
    }

    #[test]
    fn two_namespaces_for_the_same_test_differ() {
        assert_ne!(namespace_for_test("t"), namespace_for_test("t"));
    }
}
