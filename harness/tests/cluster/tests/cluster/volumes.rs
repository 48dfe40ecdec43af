//! Each krill's PVC: named after it, Bound with the requested size and class, and kept through
//! scale-down and `helm uninstall` so a reinstall re-attaches the same claim to the same krill.

use crate::support;

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use krill_cluster::{
    Probe, TestRelease, Values, claim_uid_of_pod_volume, poll, wait_for_claims_bound,
};
use kube::Api;
use kube::api::ListParams;
use rstest::rstest;
use support::{Fleet, ROLLOUT, release, wait_for_fleet};

/// The StorageClass claims get when they name none.
async fn default_storage_class(release: &TestRelease) -> anyhow::Result<String> {
    let classes = Api::<StorageClass>::all(release.client())
        .list(&ListParams::default())
        .await?;
    classes
        .items
        .into_iter()
        .find(|c| {
            c.metadata.annotations.as_ref().is_some_and(|a| {
                a.get("storageclass.kubernetes.io/is-default-class").is_some_and(|v| v == "true")
            })
        })
        .and_then(|c| c.metadata.name)
        .context("the cluster has no default StorageClass; krill's PVCs need one (or persistence.storageClassName)")
}

fn requested_storage(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .map(|q| q.0.clone())
}

/// The claims `before` still exist with the same UIDs, and nothing owns them: a StatefulSet
/// retention policy of Delete works by making the pod or StatefulSet their owner, so an owner
/// means the garbage collector is about to delete them even if it has not yet.
async fn assert_claims_retained(
    release: &TestRelease,
    before: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let api = release.api::<PersistentVolumeClaim>();
    for (name, uid) in before {
        let claim = api
            .get_opt(name)
            .await?
            .with_context(|| format!("claim {name} was deleted"))?;
        ensure!(
            claim.metadata.uid.as_ref() == Some(uid),
            "claim {name} was replaced: {:?} != {uid}",
            claim.metadata.uid
        );
        ensure!(
            claim.metadata.deletion_timestamp.is_none(),
            "claim {name} is being deleted"
        );
        let owners: Vec<String> = claim
            .metadata
            .owner_references
            .iter()
            .flatten()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect();
        ensure!(
            owners.is_empty(),
            "claim {name} is owned by {owners:?} and will be garbage-collected"
        );
    }
    Ok(())
}

fn claim_uids(claims: &BTreeMap<String, PersistentVolumeClaim>) -> BTreeMap<String, String> {
    claims
        .iter()
        .map(|(n, c)| (n.clone(), c.metadata.uid.clone().unwrap_or_default()))
        .collect()
}

#[rstest]
#[case::cluster_default_class(false)]
#[case::explicit_class(true)]
#[tokio::test]
async fn every_krill_gets_a_bound_claim_of_the_requested_size_and_class(
    #[case] explicit_class: bool,
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    let class = default_storage_class(&release).await?;
    let mut values = Values::new().yaml(
        r#"
replicas: 2
persistence:
  size: 3Gi
krills:
  alice:
    persistence:
      size: 5Gi
  bob: {}
"#,
    );
    if explicit_class {
        values = values.set("persistence.storageClassName", &class);
    }
    release.install(&values).await?;
    wait_for_fleet(&release, &Fleet::new(2, &["alice", "bob"])).await?;

    let expected = [
        ("data-krill-0", "3Gi"),
        ("data-krill-1", "3Gi"),
        ("data-krill-alice-0", "5Gi"),
        ("data-krill-bob-0", "3Gi"),
    ];
    let names: Vec<String> = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
    let claims =
        wait_for_claims_bound(&release.client(), release.namespace(), &names, ROLLOUT).await?;
    for (name, size) in expected {
        let claim = &claims[name];
        ensure!(
            requested_storage(claim).as_deref() == Some(size),
            "{name} requests {:?}, want {size}",
            requested_storage(claim)
        );
        let got_class = claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.clone());
        ensure!(
            got_class.as_deref() == Some(class.as_str()),
            "{name} has class {got_class:?}, want {class}"
        );
        let capacity = claim
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"));
        ensure!(capacity.is_some(), "{name} is Bound without a capacity");
    }
    // One claim per krill and no others.
    let all = release
        .api::<PersistentVolumeClaim>()
        .list(&ListParams::default())
        .await?;
    ensure!(
        all.items.len() == expected.len(),
        "{} claims in the namespace, want {}",
        all.items.len(),
        expected.len()
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn scaling_down_keeps_claims_and_scaling_up_reuses_them(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    release.install(&Values::new().set("replicas", "3")).await?;
    wait_for_fleet(&release, &Fleet::new(3, &[])).await?;
    let names: Vec<String> = (0..3).map(|i| format!("data-krill-{i}")).collect();
    let before = claim_uids(
        &wait_for_claims_bound(&release.client(), release.namespace(), &names, ROLLOUT).await?,
    );

    release.upgrade(&Values::new().set("replicas", "1")).await?;
    wait_for_fleet(&release, &Fleet::new(1, &[])).await?;
    assert_claims_retained(&release, &before).await?;

    release.upgrade(&Values::new().set("replicas", "3")).await?;
    wait_for_fleet(&release, &Fleet::new(3, &[])).await?;
    let (claim, uid, _) =
        claim_uid_of_pod_volume(&release.client(), release.namespace(), "krill-2", "data").await?;
    ensure!(
        claim == "data-krill-2" && Some(&uid) == before.get("data-krill-2"),
        "krill-2 came back with {claim} ({uid})"
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn uninstall_keeps_claims_and_reinstall_reattaches_the_same_claim(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    let values = Values::new().yaml("replicas: 1\nkrills:\n  alice: {}\n");
    let fleet = Fleet::new(1, &["alice"]);
    release.install(&values).await?;
    wait_for_fleet(&release, &fleet).await?;
    let mut before = BTreeMap::new();
    for pod in fleet.pod_names() {
        before.insert(
            pod.clone(),
            claim_uid_of_pod_volume(&release.client(), release.namespace(), &pod, "data").await?,
        );
    }

    release.uninstall().await?;
    let pods = release.api::<Pod>();
    poll("the uninstalled krills' pods to go", ROLLOUT, || async {
        let left = pods
            .list(&ListParams::default().labels(support::KRILL_PODS))
            .await?
            .items
            .len();
        Ok(if left == 0 {
            Probe::Ready(())
        } else {
            Probe::Pending(format!("{left} pods left"))
        })
    })
    .await?;
    let claims: BTreeMap<String, String> = before
        .values()
        .map(|(claim, uid, _)| (claim.clone(), uid.clone()))
        .collect();
    assert_claims_retained(&release, &claims).await?;

    release.install(&values).await?;
    wait_for_fleet(&release, &fleet).await?;
    for (pod, was) in &before {
        let now =
            claim_uid_of_pod_volume(&release.client(), release.namespace(), pod, "data").await?;
        ensure!(
            &now == was,
            "{pod} re-attached {now:?}, before uninstall it had {was:?}"
        );
    }
    Ok(())
}
