//! Fixtures and fleet checks shared by the cluster tests. Every test gets its own namespace and
//! release through `release`, whichever provider `KRILL_CLUSTER` picked.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure};
use k8s_openapi::api::core::v1::Pod;
use krill_cluster::{
    Cluster, Probe, TestRelease, endpoint_addresses, pods_matching, poll,
    wait_for_statefulset_ready,
};
use rstest::fixture;

/// Generous: two cores shared with other work, and tests run two at a time.
pub const ROLLOUT: Duration = Duration::from_secs(240);
pub const DNS: Duration = Duration::from_secs(60);

/// Pods of this release's krills (anonymous and named), not the proxy's.
pub const KRILL_PODS: &str = "app.kubernetes.io/instance=krill,app.kubernetes.io/component=krill";

#[fixture]
pub async fn cluster() -> Arc<Cluster> {
    match Cluster::from_env().await {
        Ok(cluster) => Arc::new(cluster),
        Err(e) => panic!("cannot use the test cluster: {e}"),
    }
}

/// A fresh namespace with release `krill` for the current test; removed when the test ends.
#[fixture]
pub async fn release(#[future] cluster: Arc<Cluster>) -> TestRelease {
    match TestRelease::for_current_test(cluster.await, &[]).await {
        Ok(release) => release,
        Err(e) => panic!("cannot create the test namespace: {e}"),
    }
}

/// What a values file asks for: `anonymous` pods in the fleet StatefulSet plus named krills.
pub struct Fleet {
    pub anonymous: i32,
    pub named: Vec<String>,
}

impl Fleet {
    pub fn new(anonymous: i32, named: &[&str]) -> Self {
        Self {
            anonymous,
            named: named.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Pod names the chart's decided shape gives: krill-0..N-1 and krill-<name>-0.
    pub fn pod_names(&self) -> BTreeSet<String> {
        (0..self.anonymous)
            .map(|i| format!("krill-{i}"))
            .chain(self.named.iter().map(|n| format!("krill-{n}-0")))
            .collect()
    }
}

/// Waits for every StatefulSet of `fleet` to roll out, then checks each krill pod is Ready with
/// an IP. Returns pod name -> pod IP.
pub async fn wait_for_fleet(
    release: &TestRelease,
    fleet: &Fleet,
) -> anyhow::Result<BTreeMap<String, IpAddr>> {
    let client = release.client();
    let ns = release.namespace();
    wait_for_statefulset_ready(&client, ns, "krill", fleet.anonymous, ROLLOUT).await?;
    for name in &fleet.named {
        wait_for_statefulset_ready(&client, ns, &format!("krill-{name}"), 1, ROLLOUT).await?;
    }
    // Pods of a scale-down or rollout may still be terminating: wait until exactly the expected
    // pods exist, all Ready with an IP.
    let want = fleet.pod_names();
    let what = format!("krill pods {want:?} to be the only ones, Ready with an IP");
    let ips = poll(&what, ROLLOUT, || async {
        let pods = pods_matching(&client, ns, KRILL_PODS).await?;
        let mut ips = BTreeMap::new();
        let mut waiting = Vec::new();
        for pod in &pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|ip| ip.parse::<IpAddr>().ok());
            match ip {
                Some(ip) if is_ready(pod) && pod.metadata.deletion_timestamp.is_none() => {
                    ips.insert(name, ip);
                }
                _ => waiting.push(name),
            }
        }
        let names: BTreeSet<String> = ips.keys().cloned().collect();
        Ok(if waiting.is_empty() && names == want {
            Probe::Ready(ips)
        } else {
            Probe::Pending(format!(
                "ready {names:?}, not ready or terminating {waiting:?}"
            ))
        })
    })
    .await?;
    Ok(ips)
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// EndpointSlices of `service` list exactly `expected` (pod -> IP) as Ready endpoints.
pub async fn wait_for_endpoints(
    release: &TestRelease,
    service: &str,
    expected: &BTreeMap<String, IpAddr>,
) -> anyhow::Result<()> {
    let client = release.client();
    let want: BTreeMap<String, BTreeSet<IpAddr>> = expected
        .iter()
        .map(|(pod, ip)| (pod.clone(), BTreeSet::from([*ip])))
        .collect();
    let what = format!(
        "EndpointSlices of Service {} to list {:?}",
        service,
        want.keys()
    );
    poll(&what, ROLLOUT, || async {
        let got = endpoint_addresses(&client, release.namespace(), service).await?;
        Ok(if got == want {
            Probe::Ready(())
        } else {
            Probe::Pending(format!("{got:?}"))
        })
    })
    .await?;
    Ok(())
}

/// The cluster's DNS answers each krill's stable names with its pod IP:
/// `<pod>.krill.<ns>.svc.cluster.local` for every pod, and `krill-<name>.<ns>.svc.cluster.local`
/// for every named krill.
pub async fn check_dns(
    release: &TestRelease,
    fleet: &Fleet,
    ips: &BTreeMap<String, IpAddr>,
) -> anyhow::Result<()> {
    let dns = release.cluster().dns()?;
    let ns = release.namespace();
    for (pod, ip) in ips {
        dns.wait_for(
            &format!("{pod}.krill.{ns}.svc.cluster.local"),
            &BTreeSet::from([*ip]),
            DNS,
        )
        .await?;
    }
    for name in &fleet.named {
        let pod = format!("krill-{name}-0");
        let Some(ip) = ips.get(&pod) else {
            bail!("no IP for {pod}")
        };
        dns.wait_for(
            &format!("krill-{name}.{ns}.svc.cluster.local"),
            &BTreeSet::from([*ip]),
            DNS,
        )
        .await?;
    }
    // A name that must not exist, so a server answering everything cannot pass.
    let bogus = dns
        .lookup(&format!("krill-does-not-exist.{ns}.svc.cluster.local"))
        .await?;
    ensure!(
        bogus.is_empty(),
        "DNS answered a nonexistent krill with {bogus:?}"
    );
    Ok(())
}

/// The UID of pod `name` now, `None` while no such pod exists.
pub async fn pod_uid(release: &TestRelease, name: &str) -> anyhow::Result<Option<String>> {
    Ok(release
        .api::<Pod>()
        .get_opt(name)
        .await?
        .and_then(|p| p.metadata.uid))
}

/// Waits until pod `name` exists with a UID other than `old` (its StatefulSet replaced it), or,
/// with `gone`, until no pod of that name exists at all.
pub async fn wait_for_pod_uid_change(
    release: &TestRelease,
    name: &str,
    old: Option<&str>,
    gone: bool,
) -> anyhow::Result<()> {
    let what = if gone {
        format!("pod {name} to be gone")
    } else {
        format!("pod {name} to be replaced")
    };
    poll(&what, Duration::from_secs(300), || async {
        let uid =
            pod_uid(release, name)
                .await
                .map_err(|e| krill_cluster::ClusterError::NotFound {
                    what: format!("pod {name}"),
                    detail: format!("{e:#}"),
                })?;
        Ok(match (uid, gone) {
            (None, true) => Probe::Ready(()),
            (Some(uid), false) if Some(uid.as_str()) != old => Probe::Ready(()),
            (other, _) => Probe::Pending(format!("pod uid {other:?}")),
        })
    })
    .await?;
    Ok(())
}
