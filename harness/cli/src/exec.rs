//! Commands in a krill's containers through the API server's `exec` subresource (a WebSocket
//! to the kubelet): no kubectl and no route from this machine to the pod needed.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::Api;
use kube::api::{AttachParams, AttachedProcess};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::CliError;
use crate::krills::Krill;
use crate::target::Target;

/// How a command ended.
#[derive(Debug)]
pub struct Ended {
    pub code: i32,
}

/// What a command printed, for commands whose output we parse.
#[derive(Debug)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub code: i32,
}

/// The command for messages: a shell script is shown as `sh -c …`, not in full.
fn shown(command: &[String]) -> String {
    match command {
        [shell, flag, ..] if flag == "-c" => format!("{shell} -c …"),
        _ => command.join(" "),
    }
}

fn error(krill: &Krill, pod: &str, what: String, detail: impl ToString) -> CliError {
    CliError::Exec {
        name: krill.name.clone(),
        pod: pod.to_owned(),
        what,
        detail: detail.to_string(),
    }
}

async fn start(
    target: &Target,
    krill: &Krill,
    container: &str,
    command: &[String],
    stdin: bool,
) -> Result<(String, AttachedProcess), CliError> {
    let pod: &Pod = krill.running_pod(target.namespace())?;
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    start_in(target, krill, &pod_name, container, command, stdin).await
}

/// Starts `command` in `pod`, which may be a helper pod of `krill` rather than its own.
async fn start_in(
    target: &Target,
    krill: &Krill,
    pod_name: &str,
    container: &str,
    command: &[String],
    stdin: bool,
) -> Result<(String, AttachedProcess), CliError> {
    let params = AttachParams::default()
        .container(container)
        .stdin(stdin)
        .stdout(true)
        .stderr(true);
    let process = Api::<Pod>::namespaced(target.client.clone(), target.namespace())
        .exec(pod_name, command.to_vec(), &params)
        .await
        .map_err(|e| {
            error(
                krill,
                pod_name,
                format!("cannot start `{}` in container {container}", shown(command)),
                crate::error::kube_message(&e),
            )
        })?;
    Ok((pod_name.to_owned(), process))
}

/// Runs `command` in `container` and collects its output, within `timeout`.
pub async fn capture(
    target: &Target,
    krill: &Krill,
    container: &str,
    command: &[String],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Captured, CliError> {
    let pod = krill.running_pod(target.namespace())?;
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    capture_in(
        target,
        krill,
        &pod_name,
        container,
        command,
        stdin,
        timeout,
        |_| {},
    )
    .await
}

/// [`capture`] in `pod_name`, with `progress` called as stdin is sent (bytes so far).
#[allow(clippy::too_many_arguments)]
pub async fn capture_in(
    target: &Target,
    krill: &Krill,
    pod_name: &str,
    container: &str,
    command: &[String],
    stdin: Option<&[u8]>,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<Captured, CliError> {
    let (pod, mut process) =
        start_in(target, krill, pod_name, container, command, stdin.is_some()).await?;
    let what = format!("`{}` in container {container}", shown(command));
    let status = process.take_status();
    let (writer, out, err) = (process.stdin(), process.stdout(), process.stderr());
    let send = async {
        if let (Some(bytes), Some(mut writer)) = (stdin, writer) {
            let mut sent = 0u64;
            for chunk in bytes.chunks(256 * 1024) {
                writer.write_all(chunk).await?;
                sent += chunk.len() as u64;
                progress(sent);
            }
            writer.shutdown().await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let run = async {
        // All three together: kube's pipes are small, and a command filling one while we wait
        // on another would never finish.
        let (sent, out, err) = tokio::join!(send, read_all(out), read_all(err));
        sent?;
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        Ok::<_, std::io::Error>((out?, err?, status))
    };
    let (stdout, stderr, status) = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| {
            error(
                krill,
                &pod,
                what.clone(),
                format!("no answer within {timeout:?}"),
            )
        })?
        .map_err(|e| error(krill, &pod, what.clone(), e))?;
    let code = exit_code(status.as_ref()).map_err(|detail| error(krill, &pod, what, detail))?;
    Ok(Captured {
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        code,
    })
}

/// Runs `command` in `container` with this process's stdin (when `interactive`), stdout and
/// stderr wired through; returns the command's exit code.
pub async fn stream(
    target: &Target,
    krill: &Krill,
    container: &str,
    command: &[String],
    interactive: bool,
) -> Result<Ended, CliError> {
    let (pod, mut process) = start(target, krill, container, command, interactive).await?;
    let what = format!("`{}` in container {container}", shown(command));
    if interactive && let Some(mut writer) = process.stdin() {
        tokio::spawn(async move {
            let mut input = tokio::io::stdin();
            let _ = tokio::io::copy(&mut input, &mut writer).await;
            let _ = writer.shutdown().await;
        });
    }
    let status = process.take_status();
    let (out, err) = tokio::join!(
        copy_to(process.stdout(), tokio::io::stdout()),
        copy_to(process.stderr(), tokio::io::stderr())
    );
    out.and(err)
        .map_err(|e| error(krill, &pod, what.clone(), e))?;
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    let code = exit_code(status.as_ref()).map_err(|detail| error(krill, &pod, what, detail))?;
    Ok(Ended { code })
}

/// Runs `command` and copies its stdout into `sink` as it comes, `progress` called with the
/// byte count so far; stderr is kept for the error.
pub async fn download(
    target: &Target,
    krill: &Krill,
    container: &str,
    command: &[String],
    sink: &mut (impl AsyncWrite + Unpin),
    mut progress: impl FnMut(u64),
) -> Result<Captured, CliError> {
    let (pod, mut process) = start(target, krill, container, command, false).await?;
    let what = format!("`{}` in container {container}", shown(command));
    let status = process.take_status();
    let (stdout, stderr) = (process.stdout(), process.stderr());
    let copy = async {
        let mut total = 0u64;
        if let Some(mut out) = stdout {
            let mut buffer = vec![0u8; 256 * 1024];
            loop {
                let n = out.read(&mut buffer).await?;
                if n == 0 {
                    break;
                }
                sink.write_all(&buffer[..n]).await?;
                total += n as u64;
                progress(total);
            }
        }
        sink.flush().await
    };
    let (copied, err) = tokio::join!(copy, read_all(stderr));
    copied.map_err(|e| error(krill, &pod, what.clone(), e))?;
    let stderr = err.map_err(|e| error(krill, &pod, what.clone(), e))?;
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    let code = exit_code(status.as_ref()).map_err(|detail| error(krill, &pod, what, detail))?;
    Ok(Captured {
        stdout: Vec::new(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        code,
    })
}

async fn read_all(reader: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut reader) = reader {
        reader.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

async fn copy_to(
    reader: Option<impl AsyncRead + Unpin>,
    mut writer: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    if let Some(mut reader) = reader {
        tokio::io::copy(&mut reader, &mut writer).await?;
    }
    writer.flush().await
}

/// The exit code from the kubelet's closing status: `Success` is 0, a non-zero exit is a
/// `NonZeroExitCode` failure carrying the code in an `ExitCode` cause. Anything else means the
/// command never ran to an exit, and the kubelet's message says why.
fn exit_code(status: Option<&Status>) -> Result<i32, String> {
    let Some(status) = status else {
        return Err("the connection closed without an exit status".into());
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = (status.reason.as_deref() == Some("NonZeroExitCode"))
        .then(|| status.details.as_ref()?.causes.as_ref())
        .flatten()
        .and_then(|causes| {
            causes
                .iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
        })
        .and_then(|c| c.message.as_deref()?.trim().parse().ok());
    code.ok_or_else(|| {
        format!(
            "{} ({})",
            crate::error::unwrapped(status.message.as_deref().unwrap_or("refused")),
            status.reason.as_deref().unwrap_or("no reason given")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    #[test]
    fn exit_codes_from_the_kubelets_status() {
        let success = Status {
            status: Some("Success".into()),
            ..Status::default()
        };
        assert_eq!(exit_code(Some(&success)), Ok(0));
        let failed = Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some("7".into()),
                    ..StatusCause::default()
                }]),
                ..StatusDetails::default()
            }),
            ..Status::default()
        };
        assert_eq!(exit_code(Some(&failed)), Ok(7));
        let refused = Status {
            status: Some("Failure".into()),
            reason: Some("InternalError".into()),
            message: Some("container not found".into()),
            ..Status::default()
        };
        let message = exit_code(Some(&refused)).unwrap_err();
        assert!(message.contains("container not found"), "{message}");
        assert!(exit_code(None).is_err());
    }
}
