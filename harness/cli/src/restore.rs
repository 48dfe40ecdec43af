//! `restore NAME FILE.claw`: one operation that checks the archive here, pauses the krill
//! through the release, runs `krill restore` (the helper's own all-or-nothing restore, with its
//! SQLite integrity checks) in a pod of its own on the krill's volume, and brings the krill back.
//!
//! Nothing is touched before the archive passes the `.claw` reader's full check (structure,
//! limits, every entry's size and CRC). Once the krill is paused, the helper pod is always
//! deleted and the krill always resumed, whether the restore worked or not; the helper itself
//! swaps the volume's contents in one step or not at all.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, PersistentVolumeClaimVolumeSource, Pod, PodSpec,
    Volume, VolumeMount,
};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

use crate::error::{CliError, kube_message};
use crate::exec;
use crate::helm::Helm;
use crate::krills::{COMPONENT_LABEL, GATEWAY_CONTAINER, INSTANCE_LABEL, Kind, Krill};
use crate::target::Target;

/// How long the krill's pod may take to go, and the helper pod to start.
const WAIT: Duration = Duration::from_secs(300);
/// Where the archive goes in the helper pod (an emptyDir, not the krill's volume).
const UPLOAD: &str = "/tmp/restore.claw";

fn refused(krill: &Krill, detail: impl Into<String>) -> CliError {
    CliError::Restore {
        name: krill.name.clone(),
        detail: detail.into(),
    }
}

/// Checks `archive` as `krill restore` would before it touches anything: the whole archive
/// read and verified in memory.
pub fn check_archive(krill: &Krill, archive: &Path) -> Result<Vec<u8>, CliError> {
    let bytes = std::fs::read(archive).map_err(CliError::io("cannot read", archive))?;
    krill_claw::verify_bytes(&bytes, &krill_claw::Limits::default()).map_err(|e| {
        CliError::CorruptArchive {
            name: krill.name.clone(),
            path: archive.to_owned(),
            // verify_bytes names its input `<memory>`; here it is the user's file.
            detail: e
                .to_string()
                .replace("<memory>", &archive.display().to_string()),
        }
    })?;
    Ok(bytes)
}

pub async fn restore(
    target: &Target,
    krill: &Krill,
    archive: &Path,
    helm: &Helm,
) -> Result<String, CliError> {
    if krill.kind == Kind::Fleet {
        return Err(refused(
            krill,
            "a fleet krill cannot be paused on its own, so it cannot be restored in place; \
             restore into a named krill, or start a krill from the archive with `initClaw`",
        ));
    }
    let bytes = check_archive(krill, archive)?;
    let helper = helper_pod(target, krill).await?;
    let was_paused = krill.paused;
    if !was_paused {
        eprintln!(
            "pausing krill {} (release {})",
            krill.name,
            target.release()
        );
        helm.set(target, &[format!("krills.{}.paused=true", krill.name)])
            .await?;
    }
    let outcome = run(target, krill, helper, &bytes).await;
    let cleanup = delete_helper(target, krill).await;
    let resumed = if was_paused {
        Ok(())
    } else {
        eprintln!("resuming krill {}", krill.name);
        helm.set(target, &[format!("krills.{}.paused=false", krill.name)])
            .await
    };
    match (outcome, resumed) {
        (Ok(printed), Ok(())) => {
            cleanup?;
            Ok(printed)
        }
        (Err(e), Ok(())) => Err(e),
        (outcome, Err(resume)) => Err(refused(
            krill,
            format!(
                "the restore {}, but the krill could not be resumed: {resume}\n  fix: `kubectl \
                 krill resume {}`",
                match outcome {
                    Ok(_) => "succeeded".to_owned(),
                    Err(e) => format!("failed ({e})"),
                },
                krill.name
            ),
        )),
    }
}

fn helper_name(krill: &Krill) -> String {
    format!("{}-restore", krill.statefulset)
}

/// A pod like the krill's (image, security contexts, pull secrets) that only sleeps, with the
/// krill's volume mounted where the helper expects it.
async fn helper_pod(target: &Target, krill: &Krill) -> Result<Pod, CliError> {
    let set = Api::<StatefulSet>::namespaced(target.client.clone(), target.namespace())
        .get(&krill.statefulset)
        .await
        .map_err(target.api_error(format!("reading StatefulSet {}", krill.statefulset)))?;
    let template = set
        .spec
        .map(|s| s.template)
        .and_then(|t| t.spec)
        .ok_or_else(|| refused(krill, "its StatefulSet has no pod template"))?;
    let gateway = template
        .containers
        .iter()
        .find(|c| c.name == GATEWAY_CONTAINER)
        .ok_or_else(|| refused(krill, "its pod template has no krill container"))?;
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    };
    let container = Container {
        name: GATEWAY_CONTAINER.into(),
        image: gateway.image.clone(),
        image_pull_policy: gateway.image_pull_policy.clone(),
        security_context: gateway.security_context.clone(),
        resources: gateway.resources.clone(),
        // Waits to be told what to do; the pod is deleted when the restore is over.
        command: Some(vec!["sleep".into(), "3600".into()]),
        env: Some(vec![EnvVar {
            name: "KRILL_NAME".into(),
            value: Some(krill.name.clone()),
            ..EnvVar::default()
        }]),
        // The root filesystem is read-only: every place the helper writes is a volume, as in the
        // krill's own pod (docs/pod-contract.md).
        volume_mounts: Some(vec![
            mount("data", "/krill/data"),
            mount("run", "/krill/run"),
            mount("tmp", "/tmp"),
            mount("home", "/home/krill"),
        ]),
        ..Container::default()
    };
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(helper_name(krill)),
            labels: Some(
                [
                    (INSTANCE_LABEL.to_owned(), target.release().to_owned()),
                    (COMPONENT_LABEL.to_owned(), "krill-restore".to_owned()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            security_context: template.security_context.clone(),
            image_pull_secrets: template.image_pull_secrets.clone(),
            node_selector: template.node_selector.clone(),
            tolerations: template.tolerations.clone(),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            restart_policy: Some("Never".into()),
            termination_grace_period_seconds: Some(5),
            volumes: Some(
                vec![Volume {
                    name: "data".into(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: format!("data-{}", krill.pod_name),
                        read_only: Some(false),
                    }),
                    ..Volume::default()
                }]
                .into_iter()
                .chain(["run", "tmp", "home"].map(|name| Volume {
                    name: name.into(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Volume::default()
                }))
                .collect(),
            ),
            ..PodSpec::default()
        }),
        ..Pod::default()
    })
}

async fn run(
    target: &Target,
    krill: &Krill,
    helper: Pod,
    bytes: &[u8],
) -> Result<String, CliError> {
    let pods = Api::<Pod>::namespaced(target.client.clone(), target.namespace());
    wait(krill, "the krill's pod to stop", || async {
        Ok(pods
            .get_opt(&krill.pod_name)
            .await
            .map_err(target.api_error(format!("reading pod {}", krill.pod_name)))?
            .is_none())
    })
    .await?;
    let name = helper_name(krill);
    pods.create(&PostParams::default(), &helper)
        .await
        .map_err(|e| {
            refused(
                krill,
                format!("cannot create pod {name}: {}", kube_message(&e)),
            )
        })?;
    wait(krill, &format!("pod {name} to run"), || async {
        let pod = pods
            .get(&name)
            .await
            .map_err(target.api_error(format!("reading pod {name}")))?;
        let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
        if phase == "Failed" || phase == "Succeeded" {
            return Err(refused(
                krill,
                format!("pod {name} ended ({phase}) before the restore"),
            ));
        }
        Ok(phase == "Running")
    })
    .await?;

    let bar = crate::snapshots::progress_bar(bytes.len() as u64, "upload");
    let upload = vec!["sh".into(), "-c".into(), format!("cat > {UPLOAD}")];
    let sent = exec::capture_in(
        target,
        krill,
        &name,
        GATEWAY_CONTAINER,
        &upload,
        Some(bytes),
        Duration::from_secs(30 * 60),
        |n| bar.set_position(n),
    )
    .await;
    bar.finish_and_clear();
    let sent = sent?;
    if sent.code != 0 {
        return Err(refused(
            krill,
            format!("upload failed: {}", sent.stderr.trim()),
        ));
    }
    let command: Vec<String> = ["krill", "restore", UPLOAD].map(str::to_owned).to_vec();
    let done = exec::capture_in(
        target,
        krill,
        &name,
        GATEWAY_CONTAINER,
        &command,
        None,
        Duration::from_secs(30 * 60),
        |_| {},
    )
    .await?;
    if done.code != 0 {
        return Err(refused(
            krill,
            format!(
                "`krill restore` refused the archive, the volume is unchanged: {}",
                done.stderr.trim()
            ),
        ));
    }
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        done.stderr
    ))
}

async fn delete_helper(target: &Target, krill: &Krill) -> Result<(), CliError> {
    let name = helper_name(krill);
    match Api::<Pod>::namespaced(target.client.clone(), target.namespace())
        .delete(&name, &DeleteParams::default().grace_period(0))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(refused(
            krill,
            format!(
                "cannot delete pod {name}: {}\n  fix: `kubectl -n {} delete pod {name}`",
                kube_message(&e),
                target.namespace()
            ),
        )),
    }
}

async fn wait<F, Fut>(krill: &Krill, what: &str, mut done: F) -> Result<(), CliError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, CliError>>,
{
    let start = std::time::Instant::now();
    let mut said = false;
    while !done().await? {
        // Said once, and only when it takes a while: a restore that sits silent for minutes
        // looks hung.
        if !said && start.elapsed() > Duration::from_secs(5) {
            eprintln!("waiting for {what} (up to {WAIT:?})");
            said = true;
        }
        if start.elapsed() > WAIT {
            return Err(refused(
                krill,
                format!("gave up waiting for {what} after {WAIT:?}"),
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}
