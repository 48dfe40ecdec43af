//! Read-side helpers the tests share: what the API server holds once controllers converged.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::ListParams;
use kube::{Api, Client};

use crate::{ClusterError, Probe, poll};

/// Waits until the StatefulSet `name` has rolled out completely: `replicas` pods, all on the
/// current revision and Ready.
pub async fn wait_for_statefulset_ready(
    client: &Client,
    namespace: &str,
    name: &str,
    replicas: i32,
    timeout: Duration,
) -> Result<StatefulSet, ClusterError> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let what = format!("StatefulSet {namespace}/{name} to roll out {replicas} Ready replicas");
    poll(&what, timeout, || async {
        let Some(sts) = api
            .get_opt(name)
            .await
            .map_err(ClusterError::api(format!("reading {what}")))?
        else {
            return Ok(Probe::Pending("not created".into()));
        };
        let generation = sts.metadata.generation.unwrap_or_default();
        let Some(status) = sts.status.clone() else {
            return Ok(Probe::Pending("no status yet".into()));
        };
        let done = status.observed_generation.unwrap_or_default() >= generation
            && status.replicas == replicas
            && status.ready_replicas.unwrap_or_default() == replicas
            && status.updated_replicas.unwrap_or_default() == replicas
            && status.current_revision.is_some()
            && status.current_revision == status.update_revision;
        Ok(if done {
            Probe::Ready(sts)
        } else {
            Probe::Pending(format!(
                "replicas {} ready {} updated {} revision {:?} -> {:?}",
                status.replicas,
                status.ready_replicas.unwrap_or_default(),
                status.updated_replicas.unwrap_or_default(),
                status.current_revision,
                status.update_revision
            ))
        })
    })
    .await
}

/// Waits until the Deployment `name` has rolled out: every wanted replica updated and available.
pub async fn wait_for_deployment_ready(
    client: &Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<Deployment, ClusterError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let what = format!("Deployment {namespace}/{name} to roll out");
    poll(&what, timeout, || async {
        let Some(deployment) = api
            .get_opt(name)
            .await
            .map_err(ClusterError::api(format!("reading {what}")))?
        else {
            return Ok(Probe::Pending("not created".into()));
        };
        let generation = deployment.metadata.generation.unwrap_or_default();
        let wanted = deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1);
        let Some(status) = deployment.status.clone() else {
            return Ok(Probe::Pending("no status yet".into()));
        };
        let done = status.observed_generation.unwrap_or_default() >= generation
            && status.updated_replicas.unwrap_or_default() == wanted
            && status.available_replicas.unwrap_or_default() == wanted
            && status.replicas.unwrap_or_default() == wanted;
        Ok(if done {
            Probe::Ready(deployment)
        } else {
            Probe::Pending(format!(
                "replicas {:?} updated {:?} available {:?} of {wanted}",
                status.replicas, status.updated_replicas, status.available_replicas
            ))
        })
    })
    .await
}

/// Pods in `namespace` matching a label selector, sorted by name.
pub async fn pods_matching(
    client: &Client,
    namespace: &str,
    selector: &str,
) -> Result<Vec<Pod>, ClusterError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut pods = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(ClusterError::api(format!(
            "listing pods {selector} in {namespace}"
        )))?
        .items;
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(pods)
}

/// Pod name -> UID for the pods matching `selector`: a pod that was replaced gets a new UID.
pub async fn statefulset_pod_uids(
    client: &Client,
    namespace: &str,
    selector: &str,
) -> Result<BTreeMap<String, String>, ClusterError> {
    Ok(pods_matching(client, namespace, selector)
        .await?
        .into_iter()
        .filter_map(|p| Some((p.metadata.name?, p.metadata.uid?)))
        .collect())
}

/// Ready endpoints of Service `service` as its EndpointSlices list them: target pod name -> IPs.
pub async fn endpoint_addresses(
    client: &Client,
    namespace: &str,
    service: &str,
) -> Result<BTreeMap<String, BTreeSet<IpAddr>>, ClusterError> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let slices = api
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .map_err(ClusterError::api(format!(
            "listing EndpointSlices of {namespace}/{service}"
        )))?;
    let mut by_pod: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
    for endpoint in slices.items.into_iter().flat_map(|s| s.endpoints) {
        let ready = endpoint
            .conditions
            .as_ref()
            .and_then(|c| c.ready)
            .unwrap_or(false);
        let Some(pod) = endpoint.target_ref.and_then(|t| t.name) else {
            continue;
        };
        if !ready {
            continue;
        }
        by_pod.entry(pod).or_default().extend(
            endpoint
                .addresses
                .iter()
                .filter_map(|a| a.parse::<IpAddr>().ok()),
        );
    }
    Ok(by_pod)
}

/// Waits until every claim in `names` exists and is Bound; returns them by name.
pub async fn wait_for_claims_bound(
    client: &Client,
    namespace: &str,
    names: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, PersistentVolumeClaim>, ClusterError> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let what = format!("claims {names:?} in {namespace} to be Bound");
    poll(&what, timeout, || async {
        let mut bound = BTreeMap::new();
        let mut waiting = Vec::new();
        for name in names {
            let claim = api
                .get_opt(name)
                .await
                .map_err(ClusterError::api(format!("reading claim {name}")))?;
            let phase = claim
                .as_ref()
                .and_then(|c| c.status.as_ref()?.phase.clone());
            match (claim, phase.as_deref()) {
                (Some(claim), Some("Bound")) => {
                    bound.insert(name.clone(), claim);
                }
                (None, _) => waiting.push(format!("{name}: missing")),
                (Some(_), phase) => {
                    waiting.push(format!("{name}: {}", phase.unwrap_or("no phase")))
                }
            }
        }
        Ok(if waiting.is_empty() {
            Probe::Ready(bound)
        } else {
            Probe::Pending(waiting.join(", "))
        })
    })
    .await
}

/// The claim behind `pod`'s volume `volume`: (claim name, claim UID, bound volume name).
pub async fn claim_uid_of_pod_volume(
    client: &Client,
    namespace: &str,
    pod: &str,
    volume: &str,
) -> Result<(String, String, String), ClusterError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let found = pods
        .get(pod)
        .await
        .map_err(ClusterError::api(format!("reading pod {pod}")))?;
    let claim_name = found
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .find(|v| v.name == volume)
        .and_then(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone())
        .ok_or_else(|| ClusterError::NotFound {
            what: format!("claim volume {volume:?} of pod {pod}"),
            detail: "the pod spec has no persistentVolumeClaim volume of that name".into(),
        })?;
    let claim = claims
        .get(&claim_name)
        .await
        .map_err(ClusterError::api(format!("reading claim {claim_name}")))?;
    let uid = claim.metadata.uid.unwrap_or_default();
    let volume_name = claim.spec.and_then(|s| s.volume_name).unwrap_or_default();
    Ok((claim_name, uid, volume_name))
}
