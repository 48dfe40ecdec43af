//! `helm install` of the chart: StatefulSets roll out, every pod is Ready, EndpointSlices list
//! them and the cluster's DNS resolves every stable krill name to its pod.

use crate::support;

use std::collections::BTreeMap;

use krill_cluster::{TestRelease, Values};
use rstest::rstest;
use support::{Fleet, check_dns, release, wait_for_endpoints, wait_for_fleet};

#[rstest]
#[tokio::test]
async fn default_values_roll_out_one_krill_reachable_by_dns(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    release.install(&Values::new()).await?;
    let fleet = Fleet::new(1, &[]);
    let ips = wait_for_fleet(&release, &fleet).await?;
    wait_for_endpoints(&release, "krill", &ips).await?;
    check_dns(&release, &fleet, &ips).await
}

#[rstest]
#[tokio::test]
async fn named_krills_each_get_a_statefulset_service_and_dns_name(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    let values = Values::new().yaml(
        r#"
replicas: 2
krills:
  alice: {}
  bob:
    model: default
"#,
    );
    release.install(&values).await?;
    let fleet = Fleet::new(2, &["alice", "bob"]);
    let ips = wait_for_fleet(&release, &fleet).await?;
    // The governing Service lists every krill; each named Service lists its krill alone.
    wait_for_endpoints(&release, "krill", &ips).await?;
    for name in &fleet.named {
        let pod = format!("krill-{name}-0");
        let only: BTreeMap<_, _> = ips
            .iter()
            .filter(|(p, _)| **p == pod)
            .map(|(p, ip)| (p.clone(), *ip))
            .collect();
        wait_for_endpoints(&release, &format!("krill-{name}"), &only).await?;
    }
    check_dns(&release, &fleet, &ips).await
}
