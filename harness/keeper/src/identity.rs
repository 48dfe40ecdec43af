//! Who is asking: from the API server's TokenReview of the presented token and the pod it names,
//! to the krill whose credentials that pod may have. Pure functions over API objects, so every
//! refusal is tested without a cluster.

use k8s_openapi::api::authentication::v1::TokenReviewStatus;
use k8s_openapi::api::core::v1::Pod;

use crate::config::KeeperConfig;

/// Where the API server puts a bound token's pod in a TokenReview's `user.extra`.
pub const POD_NAME_EXTRA: &str = "authentication.kubernetes.io/pod-name";
pub const POD_UID_EXTRA: &str = "authentication.kubernetes.io/pod-uid";
/// The label that names a named krill (its pods' `KRILL_NAME`).
pub const NAME_LABEL: &str = "krill.dev/name";
/// The label on the anonymous fleet's pods.
pub const ANONYMOUS_LABEL: &str = "krill.dev/anonymous";

/// Why a caller gets nothing. Every message names what did not match; none quotes a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no bearer token: present the pod's projected service-account token")]
    NoToken,
    #[error("the API server did not accept the token{0}")]
    NotAuthenticated(String),
    #[error("the token is not for audience {expected} (it is for {got:?})")]
    WrongAudience { expected: String, got: Vec<String> },
    #[error("the token belongs to {got}, not to the krills' service account {expected}")]
    WrongAccount { expected: String, got: String },
    #[error("the token is not bound to a pod (no {POD_NAME_EXTRA} / {POD_UID_EXTRA})")]
    NotBoundToPod,
    #[error("pod {pod} no longer exists")]
    PodGone { pod: String },
    #[error("pod {pod} has uid {got}, the token was issued to uid {expected}")]
    PodReplaced {
        pod: String,
        expected: String,
        got: String,
    },
    #[error("pod {pod} runs as service account {got:?}, not {expected}")]
    PodAccount {
        pod: String,
        expected: String,
        got: Option<String>,
    },
    #[error(
        "pod {pod} is not one of this release's krills (label {label} is {got:?}, not {expected:?})"
    )]
    NotAKrill {
        pod: String,
        label: String,
        expected: String,
        got: Option<String>,
    },
    #[error("pod {pod} is labelled as named krill {name:?}, which this release does not have")]
    UnknownNamedKrill { pod: String, name: String },
    #[error("pod {pod} is not a pod of {stateful_set} (expected {stateful_set}-<ordinal>)")]
    NotItsStatefulSet { pod: String, stateful_set: String },
    #[error("this pod is krill {krill}; it asked for {asked:?}, which it may not have")]
    OtherKrill { krill: String, asked: String },
}

/// The pod a reviewed token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPod {
    pub name: String,
    pub uid: String,
}

/// Which krill a pod is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Krill {
    /// A pod of the anonymous fleet: its name is its pod's name.
    Fleet { pod: String },
    /// A named krill, whichever of its pods asks.
    Named { name: String },
}

impl Krill {
    /// `KRILL_NAME` of this krill.
    pub fn name(&self) -> &str {
        match self {
            Krill::Fleet { pod } => pod,
            Krill::Named { name } => name,
        }
    }
}

/// The pod behind an authenticated review for our audience and our krills' service account.
pub fn bound_pod(
    config: &KeeperConfig,
    status: Option<&TokenReviewStatus>,
) -> Result<BoundPod, Refusal> {
    let status = status.ok_or_else(|| Refusal::NotAuthenticated(" (no status)".into()))?;
    if status.authenticated != Some(true) {
        let why = status
            .error
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(Refusal::NotAuthenticated(why));
    }
    let audiences = status.audiences.clone().unwrap_or_default();
    if !audiences.iter().any(|a| a == &config.audience) {
        return Err(Refusal::WrongAudience {
            expected: config.audience.clone(),
            got: audiences,
        });
    }
    let user = status.user.clone().unwrap_or_default();
    let username = user.username.unwrap_or_default();
    let expected = config.krill_username();
    if username != expected {
        return Err(Refusal::WrongAccount {
            expected,
            got: username,
        });
    }
    let extra = user.extra.unwrap_or_default();
    let one = |key: &str| {
        extra
            .get(key)
            .and_then(|values| values.first())
            .filter(|v| !v.is_empty())
            .cloned()
    };
    match (one(POD_NAME_EXTRA), one(POD_UID_EXTRA)) {
        (Some(name), Some(uid)) => Ok(BoundPod { name, uid }),
        _ => Err(Refusal::NotBoundToPod),
    }
}

/// The krill `pod` is, after checking it is the very pod the token was issued to and one of this
/// release's krills.
pub fn identify(config: &KeeperConfig, bound: &BoundPod, pod: &Pod) -> Result<Krill, Refusal> {
    let name = bound.name.clone();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    if uid != bound.uid {
        return Err(Refusal::PodReplaced {
            pod: name,
            expected: bound.uid.clone(),
            got: uid,
        });
    }
    let account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone());
    if account.as_deref() != Some(config.krill_service_account.as_str()) {
        return Err(Refusal::PodAccount {
            pod: name,
            expected: config.krill_service_account.clone(),
            got: account,
        });
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    for (label, expected) in &config.pod_labels {
        if labels.get(label) != Some(expected) {
            return Err(Refusal::NotAKrill {
                pod: name,
                label: label.clone(),
                expected: expected.clone(),
                got: labels.get(label).cloned(),
            });
        }
    }
    if let Some(krill) = labels.get(NAME_LABEL) {
        let Some(named) = config.named.get(krill) else {
            return Err(Refusal::UnknownNamedKrill {
                pod: name,
                name: krill.clone(),
            });
        };
        if !is_ordinal_of(&name, &named.stateful_set) {
            return Err(Refusal::NotItsStatefulSet {
                pod: name,
                stateful_set: named.stateful_set.clone(),
            });
        }
        return Ok(Krill::Named {
            name: krill.clone(),
        });
    }
    if labels.get(ANONYMOUS_LABEL).map(String::as_str) != Some("true") {
        return Err(Refusal::NotAKrill {
            pod: name,
            label: ANONYMOUS_LABEL.to_owned(),
            expected: "true".to_owned(),
            got: labels.get(ANONYMOUS_LABEL).cloned(),
        });
    }
    if !is_ordinal_of(&name, &config.fleet.stateful_set) {
        return Err(Refusal::NotItsStatefulSet {
            pod: name,
            stateful_set: config.fleet.stateful_set.clone(),
        });
    }
    Ok(Krill::Fleet { pod: name })
}

/// A caller that names a krill must be that krill.
pub fn check_asked(krill: &Krill, asked: Option<&str>) -> Result<(), Refusal> {
    match asked {
        Some(asked) if asked != krill.name() => Err(Refusal::OtherKrill {
            krill: krill.name().to_owned(),
            asked: asked.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// `<stateful_set>-<digits>`, the name a StatefulSet gives its pods.
fn is_ordinal_of(pod: &str, stateful_set: &str) -> bool {
    pod.strip_prefix(stateful_set)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::example;
    use k8s_openapi::api::authentication::v1::UserInfo;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use rstest::rstest;
    use std::collections::BTreeMap;

    fn status(audience: &str, user: &str, pod: Option<(&str, &str)>) -> TokenReviewStatus {
        let mut extra = BTreeMap::new();
        if let Some((name, uid)) = pod {
            extra.insert(POD_NAME_EXTRA.to_owned(), vec![name.to_owned()]);
            extra.insert(POD_UID_EXTRA.to_owned(), vec![uid.to_owned()]);
        }
        TokenReviewStatus {
            authenticated: Some(true),
            audiences: Some(vec![audience.to_owned()]),
            user: Some(UserInfo {
                username: Some(user.to_owned()),
                extra: Some(extra),
                ..UserInfo::default()
            }),
            ..TokenReviewStatus::default()
        }
    }

    const KRILL: &str = "system:serviceaccount:ns:krill";

    fn pod(name: &str, uid: &str, labels: &[(&str, &str)], account: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                uid: Some(uid.to_owned()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                service_account_name: Some(account.to_owned()),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    const FLEET: &[(&str, &str)] = &[
        ("app.kubernetes.io/instance", "krill"),
        ("app.kubernetes.io/component", "krill"),
        (ANONYMOUS_LABEL, "true"),
    ];
    const ALICE: &[(&str, &str)] = &[
        ("app.kubernetes.io/instance", "krill"),
        ("app.kubernetes.io/component", "krill"),
        (NAME_LABEL, "alice"),
    ];

    fn bound(name: &str) -> BoundPod {
        BoundPod {
            name: name.to_owned(),
            uid: "u1".to_owned(),
        }
    }

    #[test]
    fn a_reviewed_krill_token_names_its_pod() {
        let got = bound_pod(
            &example(),
            Some(&status("krill-keeper", KRILL, Some(("krill-0", "u1")))),
        );
        assert_eq!(got, Ok(bound("krill-0")));
    }

    #[rstest]
    #[case::api_server_audience(status("https://kubernetes.default.svc", KRILL, Some(("krill-0", "u1"))), "audience")]
    #[case::other_account(status("krill-keeper", "system:serviceaccount:ns:default", Some(("krill-0", "u1"))), "not to the krills' service account")]
    #[case::other_namespace(status("krill-keeper", "system:serviceaccount:other:krill", Some(("krill-0", "u1"))), "not to the krills' service account")]
    #[case::not_bound(status("krill-keeper", KRILL, None), "not bound to a pod")]
    #[case::not_authenticated(TokenReviewStatus { authenticated: Some(false), error: Some("expired".into()), ..TokenReviewStatus::default() }, "expired")]
    fn reviews_that_name_no_krill_pod_are_refused(
        #[case] status: TokenReviewStatus,
        #[case] says: &str,
    ) {
        let error = bound_pod(&example(), Some(&status))
            .expect_err("refused")
            .to_string();
        assert!(error.contains(says), "{error}");
    }

    #[test]
    fn a_fleet_pod_is_the_krill_named_after_it() {
        let krill = identify(
            &example(),
            &bound("krill-7"),
            &pod("krill-7", "u1", FLEET, "krill"),
        );
        assert_eq!(
            krill,
            Ok(Krill::Fleet {
                pod: "krill-7".into()
            })
        );
    }

    #[test]
    fn a_named_pod_is_the_krill_its_label_names() {
        let krill = identify(
            &example(),
            &bound("krill-alice-0"),
            &pod("krill-alice-0", "u1", ALICE, "krill"),
        );
        assert_eq!(
            krill,
            Ok(Krill::Named {
                name: "alice".into()
            })
        );
    }

    #[rstest]
    #[case::replaced_pod(pod("krill-0", "u2", FLEET, "krill"), "krill-0", "uid")]
    #[case::other_account(pod("krill-0", "u1", FLEET, "default"), "krill-0", "service account")]
    #[case::other_release(pod("krill-0", "u1", &[("app.kubernetes.io/instance", "other"), ("app.kubernetes.io/component", "krill"), (ANONYMOUS_LABEL, "true")], "krill"), "krill-0", "app.kubernetes.io/instance")]
    #[case::the_proxy(pod("krill-0", "u1", &[("app.kubernetes.io/instance", "krill"), ("app.kubernetes.io/component", "api-server")], "krill"), "krill-0", "app.kubernetes.io/component")]
    #[case::unlabelled(pod("krill-0", "u1", &[("app.kubernetes.io/instance", "krill"), ("app.kubernetes.io/component", "krill")], "krill"), "krill-0", ANONYMOUS_LABEL)]
    #[case::unknown_named(pod("krill-bob-0", "u1", &[("app.kubernetes.io/instance", "krill"), ("app.kubernetes.io/component", "krill"), (NAME_LABEL, "bob")], "krill"), "krill-bob-0", "does not have")]
    #[case::named_label_on_wrong_pod(
        pod("krill-3", "u1", ALICE, "krill"),
        "krill-3",
        "krill-alice-<ordinal>"
    )]
    #[case::not_a_fleet_ordinal(pod("krill-x", "u1", FLEET, "krill"), "krill-x", "krill-<ordinal>")]
    fn pods_that_are_not_this_krill_are_refused(
        #[case] pod: Pod,
        #[case] name: &str,
        #[case] says: &str,
    ) {
        let error = identify(&example(), &bound(name), &pod)
            .expect_err("refused")
            .to_string();
        assert!(error.contains(says), "{error}");
    }

    #[test]
    fn a_krill_asking_for_another_is_refused_by_both_names() {
        let krill = Krill::Fleet {
            pod: "krill-0".into(),
        };
        assert_eq!(check_asked(&krill, Some("krill-0")), Ok(()));
        assert_eq!(check_asked(&krill, None), Ok(()));
        let error = check_asked(&krill, Some("krill-1"))
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains("krill-0") && error.contains("krill-1"),
            "{error}"
        );
    }
}
