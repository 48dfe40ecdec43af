//! Running a command inside a pod's container, as `kubectl exec` does: through the API server's
//! `exec` subresource (a WebSocket to the kubelet), so it works wherever the API server can reach
//! the node, with no kubectl and no network path from this machine to the pod.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use kube::{Api, Client};
use tokio::io::{AsyncRead, AsyncReadExt};

/// What one command run in a pod printed, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    /// The command's exit code: 0, or what the kubelet reported for a non-zero exit.
    pub exit_code: i32,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// The output of a command that must succeed; a non-zero exit is an error carrying stderr.
    pub fn require_success(self, pod: &str, command: &[&str]) -> Result<Self, ExecError> {
        if self.success() {
            Ok(self)
        } else {
            Err(ExecError::NonZeroExit {
                pod: pod.to_owned(),
                command: shell_words(command),
                code: self.exit_code,
                stdout: self.stdout,
                stderr: self.stderr,
            })
        }
    }
}

/// Why a command could not be run in a pod, or did not end the way the caller needed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot start `{command}` in pod {pod}: {source}")]
    Start {
        pod: String,
        command: String,
        #[source]
        source: kube::Error,
    },

    #[error("reading the output of `{command}` in pod {pod}: {source}")]
    Read {
        pod: String,
        command: String,
        #[source]
        source: std::io::Error,
    },

    /// The connection closed without the kubelet's closing status: the exec was cut off (pod
    /// deleted, container restarted, API server gone), so nothing is known about the outcome.
    #[error("`{command}` in pod {pod} ended without an exit status (connection closed)")]
    NoStatus { pod: String, command: String },

    /// The kubelet refused or could not start the command (no such executable, container not
    /// running, ...): it reported a failure that carries no exit code.
    #[error("`{command}` could not run in pod {pod}: {message} (reason {reason:?})")]
    Refused {
        pod: String,
        command: String,
        reason: String,
        message: String,
    },

    #[error("`{command}` in pod {pod} did not finish within {timeout:?}")]
    Timeout {
        pod: String,
        command: String,
        timeout: Duration,
    },

    #[error("`{command}` in pod {pod} exited with {code}\nstdout: {stdout}\nstderr: {stderr}")]
    NonZeroExit {
        pod: String,
        command: String,
        code: i32,
        stdout: String,
        stderr: String,
    },
}

/// Runs `command` (no shell: argv as given) in `container` of pod `namespace/pod`, or in its only
/// container when `container` is `None`, and waits up to `timeout` for it to end. A non-zero exit
/// is not an error here: it is in [`ExecOutput::exit_code`], for tests that expect a refusal.
pub async fn exec_in_pod(
    client: &Client,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[&str],
    timeout: Duration,
) -> Result<ExecOutput, ExecError> {
    let shown = shell_words(command);
    let mut params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    if let Some(container) = container {
        params = params.container(container);
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let run = async {
        let mut process = api
            .exec(pod, command.iter().map(|s| (*s).to_owned()), &params)
            .await
            .map_err(|source| ExecError::Start {
                pod: pod.to_owned(),
                command: shown.clone(),
                source,
            })?;
        let status = process.take_status();
        let read_error = |source| ExecError::Read {
            pod: pod.to_owned(),
            command: shown.clone(),
            source,
        };
        // Both streams are drained together: kube's pipes are small, and a command that fills
        // one while we wait on the other would block forever.
        let (stdout, stderr) = tokio::join!(drain(process.stdout()), drain(process.stderr()));
        let stdout = stdout.map_err(read_error)?;
        let stderr = stderr.map_err(read_error)?;
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        // The message loop's own errors show up as a missing status; join() is only cleanup.
        let _ = process.join().await;
        let exit_code = exit_code(status.as_ref()).map_err(|(reason, message)| match status {
            None => ExecError::NoStatus {
                pod: pod.to_owned(),
                command: shown.clone(),
            },
            Some(_) => ExecError::Refused {
                pod: pod.to_owned(),
                command: shown.clone(),
                reason,
                message,
            },
        })?;
        Ok(ExecOutput {
            stdout,
            stderr,
            exit_code,
        })
    };
    tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| {
            Err(ExecError::Timeout {
                pod: pod.to_owned(),
                command: shown.clone(),
                timeout,
            })
        })
}

async fn drain(reader: Option<impl AsyncRead + Unpin>) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    if let Some(mut reader) = reader {
        reader.read_to_end(&mut bytes).await?;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The exit code in the kubelet's closing status: `Success` is 0; a non-zero exit is a `Failure`
/// with reason `NonZeroExitCode` and the code in a cause of reason `ExitCode`. Anything else is
/// returned as (reason, message): the command did not run to an exit.
fn exit_code(status: Option<&Status>) -> Result<i32, (String, String)> {
    let Some(status) = status else {
        return Err((String::new(), "no status".into()));
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let reason = status.reason.clone().unwrap_or_default();
    let message = status.message.clone().unwrap_or_default();
    if reason == "NonZeroExitCode" {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.as_deref()?.trim().parse::<i32>().ok());
        if let Some(code) = code {
            return Ok(code);
        }
    }
    Err((reason, message))
}

/// The command as one line for messages; arguments with spaces or quotes are single-quoted.
fn shell_words(command: &[&str]) -> String {
    command
        .iter()
        .map(|arg| {
            if !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
            {
                (*arg).to_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    fn failure(reason: &str, causes: Vec<StatusCause>) -> Status {
        Status {
            status: Some("Failure".into()),
            reason: Some(reason.into()),
            message: Some(format!("{reason} happened")),
            details: Some(StatusDetails {
                causes: Some(causes),
                ..StatusDetails::default()
            }),
            ..Status::default()
        }
    }

    fn cause(reason: &str, message: &str) -> StatusCause {
        StatusCause {
            reason: Some(reason.into()),
            message: Some(message.into()),
            ..StatusCause::default()
        }
    }

    #[test]
    fn success_is_exit_code_zero() {
        let status = Status {
            status: Some("Success".into()),
            ..Status::default()
        };
        assert_eq!(exit_code(Some(&status)), Ok(0));
    }

    #[test]
    fn non_zero_exit_code_is_read_from_its_cause() {
        let status = failure(
            "NonZeroExitCode",
            vec![cause("Other", "x"), cause("ExitCode", "42")],
        );
        assert_eq!(exit_code(Some(&status)), Ok(42));
    }

    #[test]
    fn a_failure_without_exit_code_keeps_reason_and_message() {
        let status = failure("InternalError", vec![]);
        assert_eq!(
            exit_code(Some(&status)),
            Err(("InternalError".into(), "InternalError happened".into()))
        );
        let unparsable = failure("NonZeroExitCode", vec![cause("ExitCode", "many")]);
        assert!(exit_code(Some(&unparsable)).is_err());
    }

    #[test]
    fn no_status_is_not_an_exit_code() {
        assert!(exit_code(None).is_err());
    }

    #[test]
    fn require_success_reports_code_and_stderr() {
        let out = ExecOutput {
            stdout: String::new(),
            stderr: "nope".into(),
            exit_code: 3,
        };
        let err = out
            .require_success("krill-0", &["sh", "-c", "exit 3"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("krill-0") && err.contains("sh -c 'exit 3'") && err.contains("nope"),
            "{err}"
        );
    }
}
