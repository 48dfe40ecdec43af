//! Failures that name the krill (or the cluster) and the fix: unknown krill, a namespace without
//! the release, an unreachable cluster, a token that is not there.

use crate::support::{install, krill, krill_without_cluster, release};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use krill_cluster::TestRelease;
use kube::api::{ObjectMeta, PostParams};
use rstest::rstest;

#[rstest]
#[tokio::test]
async fn an_unknown_krill_is_refused_listing_the_krills_there_are(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    install(
        &release,
        "replicas: 1\nkrills:\n  alice: {}\n",
        1,
        &["alice"],
    )
    .await?;
    for args in [
        &["token", "nobody"][..],
        &["exec", "nobody", "--", "true"],
        &["logs", "nobody"],
        &["pause", "nobody"],
        &["fetch", "nobody", "-o", "x.claw"],
    ] {
        let run = krill(&release, args).await;
        assert!(!run.ok(), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("no krill nobody in release krill")
                && run.stderr.contains("there are: alice, krill-0"),
            "{args:?}: {run:?}"
        );
    }
    // A pod name works too: `kubectl get pods` shows krill-alice-0.
    let run = krill(&release, &["pause", "krill-0"]).await;
    assert!(
        run.stderr.contains("krill krill-0 is a pod of the fleet")
            && run.stderr.contains("kubectl krill scale N"),
        "{run:?}"
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn a_namespace_without_the_release_says_so(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    // Nothing installed in this test's namespace.
    let expected = format!(
        "release krill has no krills in namespace {}",
        release.namespace()
    );
    let run = krill(&release, &["status"]).await;
    assert!(!run.ok(), "{run:?}");
    assert!(
        run.stderr.contains(&expected) && run.stderr.contains("--release / -n"),
        "{run:?}"
    );
    // The same through kubectl, which finds the binary on PATH as the plugin `krill`.
    let kubectl = release.cluster().tools().find("kubectl")?;
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kubectl-krill"));
    let path = std::env::join_paths(
        [bin.parent().expect("a directory").to_owned()]
            .into_iter()
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
    )?;
    let mut command = tokio::process::Command::new(kubectl);
    command.args(["krill", "--namespace", release.namespace()]);
    if let Some(kubeconfig) = crate::support::kubeconfig() {
        command.arg("--kubeconfig").arg(kubeconfig);
    }
    let out = command.arg("status").env("PATH", path).output().await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(&expected),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn an_unreachable_cluster_is_named_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    // Port 1 on loopback: nothing listens there.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n\
         clusters: [{name: gone, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         contexts: [{name: gone, context: {cluster: gone, user: u}}]\n\
         users: [{name: u, user: {token: x}}]\n",
    )
    .expect("kubeconfig written");
    let path = kubeconfig.to_str().expect("utf-8 path");
    let run = krill_without_cluster(&["--kubeconfig", path, "status"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("cannot use the cluster")
            && run.stderr.contains("Connection refused")
            && run.stderr.contains("kubectl cluster-info"),
        "{run:?}"
    );
    let run = krill_without_cluster(&["--kubeconfig", path, "--context", "nope", "status"]);
    assert!(
        !run.ok() && run.stderr.contains(path) && run.stderr.contains("nope"),
        "{run:?}"
    );
}

async fn create_secret(release: &TestRelease, name: &str, key: &str, value: &str) {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some([(key.to_owned(), ByteString(value.as_bytes().to_vec()))].into()),
        ..Secret::default()
    };
    match release
        .api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
    {
        // On real nodes the keeper may have made it first: its value is the one.
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("creating Secret {name}: {e}"),
    }
}

async fn secret_value(release: &TestRelease, name: &str, key: &str) -> String {
    let secret = release.api::<Secret>().get(name).await.expect("the Secret");
    let bytes = secret.data.expect("data")[key].0.clone();
    String::from_utf8(bytes).expect("text")
}

#[rstest]
#[tokio::test]
async fn token_reads_the_secret_the_keeper_keeps_for_each_krill(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    let values = r#"
replicas: 1
krills:
  carol:
    gatewayToken:
      existingSecret: carol-token
  dave:
    gatewayToken:
      existingSecret: dave-token-nobody-made
"#;
    // carol's token is the user's Secret, read by the keeper from keeper.json; a fleet pod's is
    // `<pod>-gateway-token` (docs/chart.md). On kwok no keeper runs, so the test makes them.
    create_secret(&release, "carol-token", "gateway-token", "carol-secret-1").await;
    // dave never starts on real nodes (the keeper refuses a token Secret that is missing).
    install(&release, values, 1, &["carol"]).await?;
    create_secret(
        &release,
        "krill-0-gateway-token",
        "gateway-token",
        "fleet-0-secret",
    )
    .await;

    let run = krill(&release, &["token", "carol"]).await;
    assert!(run.ok(), "{run:?}");
    assert_eq!(run.stdout.trim(), "carol-secret-1");
    let run = krill(&release, &["token", "krill-0"]).await;
    assert!(run.ok(), "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        secret_value(&release, "krill-0-gateway-token", "gateway-token").await
    );
    let run = krill(&release, &["token", "dave"]).await;
    assert!(!run.ok(), "{run:?}");
    assert!(
        run.stderr.contains("krill dave")
            && run
                .stderr
                .contains("Secret dave-token-nobody-made does not exist"),
        "{run:?}"
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn chat_names_the_krill_when_its_gateway_cannot_be_reached(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if release.cluster().pod_runtime().await? == krill_cluster::PodRuntime::Real {
        // Real gateways answer: real.rs checks the turn itself.
        krill_test_support::not_run("needs simulated nodes, whose pods forward no port");
        return Ok(());
    }
    install(&release, "replicas: 2\n", 2, &[]).await?;
    // No keeper runs on kwok: krill-1 has no token yet.
    let run = krill(&release, &["chat", "krill-1", "hello"]).await;
    assert!(
        !run.ok()
            && run
                .stderr
                .contains("cannot read krill krill-1's gateway token")
            && run
                .stderr
                .contains("Secret krill-1-gateway-token does not exist"),
        "{run:?}"
    );
    create_secret(&release, "krill-0-gateway-token", "gateway-token", "t").await;
    let run = krill(&release, &["chat", "krill-0", "hello"]).await;
    assert!(
        !run.ok()
            && run
                .stderr
                .contains("krill krill-0: the gateway did not answer")
            && run.stderr.contains("port-forward failed"),
        "{run:?}"
    );
    let run = krill(&release, &["snapshots", "krill-0"]).await;
    assert!(
        !run.ok()
            && run
                .stderr
                .contains("in container snapshot in krill krill-0")
            && !run.stderr.contains("Internal error occurred"),
        "{run:?}"
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn snapshot_without_the_sidecar_names_the_value_to_set(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    install(
        &release,
        "replicas: 1\nsnapshots:\n  enabled: false\n",
        1,
        &[],
    )
    .await?;
    let run = krill(&release, &["snapshot", "krill-0"]).await;
    assert!(
        !run.ok()
            && run.stderr.contains("krill krill-0 has no snapshot sidecar")
            && run.stderr.contains("snapshots.enabled=true"),
        "{run:?}"
    );
    Ok(())
}
