//! The krills of a release, found from the chart's labels: one StatefulSet per named krill
//! (`krill.dev/name`), one for the anonymous fleet, and their pods. A paused named krill has a
//! StatefulSet at 0 replicas and no pod; it is still a krill.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::error::CliError;
use crate::target::Target;

pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const NAME_LABEL: &str = "krill.dev/name";
/// The container the gateway runs in, and the snapshot sidecar.
pub const GATEWAY_CONTAINER: &str = "krill";
pub const SNAPSHOT_CONTAINER: &str = "snapshot";

/// Named krill or a pod of the anonymous fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Named,
    Fleet,
}

#[derive(Debug, Clone)]
pub struct Krill {
    /// What the user types: a named krill's name, or a fleet pod's name.
    pub name: String,
    pub kind: Kind,
    pub statefulset: String,
    /// The pod's name (`<statefulset>-<ordinal>`), whether or not the pod exists.
    pub pod_name: String,
    pub pod: Option<Pod>,
    /// A named krill whose StatefulSet asks for 0 replicas.
    pub paused: bool,
}

impl Krill {
    /// The pod of a krill that must be running for the command at hand.
    pub fn running_pod(&self, namespace: &str) -> Result<&Pod, CliError> {
        if self.paused {
            return Err(CliError::Paused {
                name: self.name.clone(),
            });
        }
        self.pod.as_ref().ok_or_else(|| CliError::NoPod {
            name: self.name.clone(),
            statefulset: self.statefulset.clone(),
            namespace: namespace.to_owned(),
        })
    }
}

/// Every krill of the release, named ones first (by name), then the fleet (by ordinal).
pub struct Krills {
    pub krills: Vec<Krill>,
    /// The chart's fullname: the fleet StatefulSet's name.
    pub fullname: Option<String>,
}

impl Krills {
    pub async fn list(target: &Target) -> Result<Self, CliError> {
        let selector = format!(
            "{INSTANCE_LABEL}={},{COMPONENT_LABEL}=krill",
            target.release()
        );
        let params = ListParams::default().labels(&selector);
        let sets = Api::<StatefulSet>::namespaced(target.client.clone(), target.namespace())
            .list(&params)
            .await
            .map_err(target.api_error(format!(
                "listing StatefulSets of release {} in namespace {}",
                target.release(),
                target.namespace()
            )))?;
        let pods = Api::<Pod>::namespaced(target.client.clone(), target.namespace())
            .list(&params)
            .await
            .map_err(target.api_error(format!(
                "listing pods of release {} in namespace {}",
                target.release(),
                target.namespace()
            )))?;
        let mut pods: BTreeMap<String, Pod> = pods
            .items
            .into_iter()
            .filter_map(|pod| Some((pod.metadata.name.clone()?, pod)))
            .collect();
        Ok(Self::assemble(sets.items, &mut pods))
    }

    fn assemble(sets: Vec<StatefulSet>, pods: &mut BTreeMap<String, Pod>) -> Self {
        let mut named = Vec::new();
        let mut fleet = Vec::new();
        let mut fullname = None;
        for set in sets {
            let Some(set_name) = set.metadata.name.clone() else {
                continue;
            };
            let replicas = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let label = set
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(NAME_LABEL))
                .cloned();
            match label {
                Some(name) => {
                    let pod_name = format!("{set_name}-0");
                    named.push(Krill {
                        name,
                        kind: Kind::Named,
                        statefulset: set_name,
                        pod: pods.remove(&pod_name),
                        pod_name,
                        paused: replicas == 0,
                    });
                }
                None => {
                    // Pods the StatefulSet asks for, and any left over from a scale-down that
                    // are still terminating.
                    let prefix = format!("{set_name}-");
                    let mut ordinals: Vec<u32> = (0..replicas.max(0) as u32).collect();
                    for pod in pods.keys() {
                        if let Some(n) = pod
                            .strip_prefix(&prefix)
                            .and_then(|rest| rest.parse::<u32>().ok())
                            && !ordinals.contains(&n)
                        {
                            ordinals.push(n);
                        }
                    }
                    ordinals.sort_unstable();
                    for n in ordinals {
                        let pod_name = format!("{set_name}-{n}");
                        fleet.push(Krill {
                            name: pod_name.clone(),
                            kind: Kind::Fleet,
                            statefulset: set_name.clone(),
                            pod: pods.remove(&pod_name),
                            pod_name,
                            paused: false,
                        });
                    }
                    fullname = Some(set_name);
                }
            }
        }
        named.sort_by(|a, b| a.name.cmp(&b.name));
        named.extend(fleet);
        Krills {
            krills: named,
            fullname,
        }
    }

    /// The krill `name` means: a named krill's name, a fleet pod's name, or a named krill's pod
    /// name (`krill-alice-0`), as `kubectl get pods` shows it.
    pub fn find(&self, target: &Target, name: &str) -> Result<Krill, CliError> {
        if self.krills.is_empty() {
            return Err(CliError::NoRelease {
                release: target.release().to_owned(),
                namespace: target.namespace().to_owned(),
            });
        }
        self.krills
            .iter()
            .find(|k| k.name == name)
            .or_else(|| self.krills.iter().find(|k| k.pod_name == name))
            .cloned()
            .ok_or_else(|| CliError::UnknownKrill {
                name: name.to_owned(),
                release: target.release().to_owned(),
                namespace: target.namespace().to_owned(),
                known: self
                    .krills
                    .iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Lists the release and picks one krill: what most commands start with.
pub async fn find(target: &Target, name: &str) -> Result<Krill, CliError> {
    Krills::list(target).await?.find(target, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetSpec;
    use kube::api::ObjectMeta;

    fn set(name: &str, named: Option<&str>, replicas: i32) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: named.map(|n| BTreeMap::from([(NAME_LABEL.to_owned(), n.to_owned())])),
                ..ObjectMeta::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        }
    }

    fn pod(name: &str) -> (String, Pod) {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        };
        (name.to_owned(), pod)
    }

    #[test]
    fn named_first_then_fleet_with_missing_and_leftover_pods() {
        let sets = vec![
            set("krill", None, 2),
            set("krill-zed", Some("zed"), 1),
            set("krill-al", Some("al"), 0),
        ];
        // krill-1 has no pod yet; krill-3 is left from a scale-down.
        let mut pods = BTreeMap::from([pod("krill-0"), pod("krill-3"), pod("krill-zed-0")]);
        let krills = Krills::assemble(sets, &mut pods);
        let names: Vec<_> = krills.krills.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["al", "zed", "krill-0", "krill-1", "krill-3"]);
        assert_eq!(krills.fullname.as_deref(), Some("krill"));
        let al = &krills.krills[0];
        assert!(al.paused && al.pod.is_none() && al.kind == Kind::Named);
        assert!(krills.krills[1].pod.is_some());
        assert!(krills.krills[3].pod.is_none() && !krills.krills[3].paused);
    }

    #[test]
    fn a_paused_krill_is_refused_naming_resume() {
        let mut pods = BTreeMap::new();
        let krills = Krills::assemble(vec![set("krill-al", Some("al"), 0)], &mut pods);
        let error = krills.krills[0].running_pod("ns").unwrap_err().to_string();
        assert!(error.contains("kubectl krill resume al"), "{error}");
    }
}
