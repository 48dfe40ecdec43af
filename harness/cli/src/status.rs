//! `status`: one row per krill of the release, named and fleet alike, paused ones included.

use std::collections::BTreeMap;
use std::time::Duration;

use comfy_table::{Table, presets};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::Serialize;

use crate::error::CliError;
use crate::krills::{GATEWAY_CONTAINER, Kind, Krill, Krills};
use crate::snapshots::{self, SnapshotFile, Volume};
use crate::target::Target;

/// How long one krill's volume may take to answer before its row says "unknown".
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub kind: &'static str,
    pub pod: String,
    pub dns: String,
    /// `Running`, `Paused`, `NoPod`, or the pod's phase.
    pub state: String,
    pub ready_containers: usize,
    pub containers: usize,
    pub ready: bool,
    pub restarts: i32,
    pub model: Option<String>,
    /// Seconds since the pod (or, without one, the StatefulSet) was created.
    pub age_seconds: Option<i64>,
    pub last_snapshot: Option<SnapshotFile>,
    pub snapshots: Option<usize>,
    /// Whether the pod has the snapshot sidecar (`snapshots.enabled`), when the pod answered.
    pub snapshots_enabled: Option<bool>,
    pub volume: Option<Volume>,
    /// Why the volume and snapshots are not known, when they are not.
    pub volume_unknown: Option<String>,
    /// Working set of every container, from the metrics API when the cluster serves it.
    pub memory_bytes: Option<u64>,
}

pub async fn rows(target: &Target) -> Result<Vec<Row>, CliError> {
    let krills = Krills::list(target).await?;
    if krills.krills.is_empty() {
        return Err(CliError::NoRelease {
            release: target.release().to_owned(),
            namespace: target.namespace().to_owned(),
        });
    }
    let memory = memory_by_pod(target).await;
    let probes = futures::future::join_all(krills.krills.iter().map(|krill| async move {
        if krill.paused {
            return Err("paused".to_owned());
        }
        let Some(pod) = &krill.pod else {
            return Err("no pod".to_owned());
        };
        if pod.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Running") {
            return Err("pod not running".to_owned());
        }
        snapshots::probe(target, krill, PROBE_TIMEOUT)
            .await
            .map_err(|e| match e {
                CliError::Exec { detail, .. } => detail,
                other => other.to_string(),
            })
    }))
    .await;
    let now = Timestamp::now();
    Ok(krills
        .krills
        .iter()
        .zip(probes)
        .map(|(krill, probe)| row(target, krill, probe, &memory, now))
        .collect())
}

fn row(
    target: &Target,
    krill: &Krill,
    probe: Result<snapshots::Probe, String>,
    memory: &BTreeMap<String, u64>,
    now: Timestamp,
) -> Row {
    let pod = krill.pod.as_ref();
    let spec = pod.and_then(|p| p.spec.as_ref());
    let status = pod.and_then(|p| p.status.as_ref());
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let model = spec
        .and_then(|s| s.containers.iter().find(|c| c.name == GATEWAY_CONTAINER))
        .and_then(|c| c.env.as_ref())
        .and_then(|env| env.iter().find(|e| e.name == "OPENCLAW_MODEL"))
        .and_then(|e| e.value.clone());
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let state = if krill.paused {
        "Paused".to_owned()
    } else if let Some(pod) = pod {
        if pod.metadata.deletion_timestamp.is_some() {
            "Terminating".to_owned()
        } else {
            waiting_reason(pod).unwrap_or_else(|| {
                status
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_else(|| "Unknown".into())
            })
        }
    } else {
        "NoPod".to_owned()
    };
    let hostname = spec.and_then(|s| s.hostname.clone());
    let subdomain = spec.and_then(|s| s.subdomain.clone());
    let dns = match (hostname, subdomain) {
        (Some(h), Some(s)) => format!("{h}.{s}.{}.svc.cluster.local", target.namespace()),
        _ => "-".to_owned(),
    };
    let age_seconds = pod
        .and_then(|p| p.metadata.creation_timestamp.as_ref())
        .map(|t| now.as_second() - t.0.as_second());
    let (last_snapshot, count, enabled, volume, volume_unknown) = match probe {
        Ok(p) => (
            p.snapshots.last().cloned(),
            Some(p.snapshots.len()),
            Some(p.sidecar),
            Some(p.volume),
            None,
        ),
        Err(reason) => (None, None, None, None, Some(reason)),
    };
    Row {
        name: krill.name.clone(),
        kind: match krill.kind {
            Kind::Named => "named",
            Kind::Fleet => "fleet",
        },
        pod: krill.pod_name.clone(),
        dns,
        state,
        ready_containers: containers.iter().filter(|c| c.ready).count(),
        containers: containers.len(),
        ready,
        restarts: containers.iter().map(|c| c.restart_count).sum(),
        model,
        age_seconds,
        last_snapshot,
        snapshots: count,
        snapshots_enabled: enabled,
        volume,
        volume_unknown,
        memory_bytes: memory.get(&krill.pod_name).copied(),
    }
}

/// A container stuck waiting (CrashLoopBackOff, ImagePullBackOff...) says more than `Pending`.
fn waiting_reason(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
}

/// Pod name → memory working set, or empty when the cluster has no metrics API: memory is then
/// shown as `-`, never guessed.
async fn memory_by_pod(target: &Target) -> BTreeMap<String, u64> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics"),
        "pods",
    );
    let api: Api<DynamicObject> =
        Api::namespaced_with(target.client.clone(), target.namespace(), &resource);
    let selector = format!("{}={}", crate::krills::INSTANCE_LABEL, target.release());
    let Ok(list) = api.list(&ListParams::default().labels(&selector)).await else {
        return BTreeMap::new();
    };
    list.items
        .into_iter()
        .filter_map(|metrics| {
            let name = metrics.metadata.name.clone()?;
            let total = metrics
                .data
                .get("containers")?
                .as_array()?
                .iter()
                .filter_map(|c| parse_quantity(c.get("usage")?.get("memory")?.as_str()?))
                .sum();
            Some((name, total))
        })
        .collect()
}

/// A memory quantity as the metrics API writes it (`123456Ki`, `12Mi`, `1000`).
fn parse_quantity(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

pub fn table(rows: &[Row]) -> String {
    let mut table = new_table(vec![
        "KRILL",
        "POD",
        "STATE",
        "READY",
        "RESTARTS",
        "MODEL",
        "AGE",
        "LAST SNAPSHOT",
        "VOLUME",
        "MEMORY",
        "DNS NAME",
    ]);
    let now = Timestamp::now().as_second();
    for row in rows {
        let snapshot = match (&row.last_snapshot, &row.volume_unknown) {
            (Some(s), _) => format!("{} ago ({})", age(now - s.time), bytes(s.bytes)),
            (None, Some(reason)) => format!("unknown ({})", shorten(reason, 40)),
            (None, None) if row.snapshots_enabled == Some(false) => "snapshots off".to_owned(),
            (None, None) => "none yet".to_owned(),
        };
        let volume = match &row.volume {
            Some(v) => format!(
                "{}/{} ({}%)",
                bytes(v.used_bytes),
                bytes(v.size_bytes),
                (v.used_bytes * 100).checked_div(v.size_bytes).unwrap_or(0)
            ),
            None => "unknown".to_owned(),
        };
        table.add_row(vec![
            row.name.clone(),
            row.pod.clone(),
            row.state.clone(),
            if row.containers == 0 {
                "-".to_owned()
            } else {
                format!("{}/{}", row.ready_containers, row.containers)
            },
            row.restarts.to_string(),
            row.model.clone().unwrap_or_else(|| "-".into()),
            row.age_seconds.map(age).unwrap_or_else(|| "-".into()),
            snapshot,
            volume,
            row.memory_bytes.map(bytes).unwrap_or_else(|| "-".into()),
            row.dns.clone(),
        ]);
    }
    table.to_string()
}

/// kubectl's look: no borders, a header row, columns two spaces apart.
pub fn new_table(header: Vec<&str>) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_header(header);
    table
}

/// The end of a message, where the kubelet puts the cause (`Internal error occurred: error
/// executing command in container: <why>`), cut to `max` characters.
fn shorten(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or_default();
    let line = first.rsplit(": ").next().unwrap_or(first);
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        format!("{}…", line.chars().take(max).collect::<String>())
    }
}

/// `42s`, `5m`, `3h`, `2d`, as kubectl shows ages.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Binary units, one decimal.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_of_the_metrics_api() {
        assert_eq!(parse_quantity("123456Ki"), Some(123456 * 1024));
        assert_eq!(parse_quantity("12Mi"), Some(12 << 20));
        assert_eq!(parse_quantity("1000"), Some(1000));
        assert_eq!(parse_quantity("3Pi"), None);
        assert_eq!(parse_quantity("Mi"), None);
    }

    #[test]
    fn human_ages_and_sizes() {
        assert_eq!(age(59), "59s");
        assert_eq!(age(61), "1m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(200_000), "2d");
        assert_eq!(age(-5), "0s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(10 << 30), "10.0 GiB");
    }
}
