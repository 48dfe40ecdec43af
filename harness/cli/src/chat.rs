//! `chat`: one turn through a krill's own gateway, its OpenAI-compatible
//! `/v1/chat/completions`, over a port-forward and with the krill's own token.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::error::CliError;
use crate::forward;
use crate::krills::Krill;
use crate::target::Target;
use crate::token;

/// An agent turn may run tools; the shell version (scripts/lib/krills.sh) waits as long.
const TURN_TIMEOUT: Duration = Duration::from_secs(300);
/// The agent every krill runs (OpenClaw's OpenAI-compatible model name for it).
const MODEL: &str = "openclaw/default";

fn failed(krill: &Krill, detail: impl Into<String>) -> CliError {
    CliError::Gateway {
        name: krill.name.clone(),
        detail: detail.into(),
    }
}

/// Sends `message` and returns the agent's answer.
pub async fn turn(target: &Target, krill: &Krill, message: &str) -> Result<String, CliError> {
    krill.running_pod(target.namespace())?;
    let token = token::read(target, krill).await?;
    let forward::Forward {
        stream,
        forwarder,
        error,
    } = forward::open(target, krill).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(krill, format!("no HTTP connection to the gateway: {e}")))?;
    let driver = tokio::spawn(connection);
    let body = serde_json::json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": message}],
    });
    let request = Request::post("/v1/chat/completions")
        .header("host", format!("127.0.0.1:{}", forward::GATEWAY_PORT))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| failed(krill, format!("building the request: {e}")))?;
    let exchange = async {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, bytes))
    };
    let exchanged = tokio::time::timeout(TURN_TIMEOUT, exchange)
        .await
        .map_err(|_| failed(krill, format!("no answer within {TURN_TIMEOUT:?}")))?;
    let (status, bytes) = match exchanged {
        Ok(done) => done,
        // The port-forward's own error says why (no such port, pod gone); hyper only saw a
        // closed connection.
        Err(e) => {
            let why = forward::Forward::<()>::error_message(error)
                .await
                .map(|m| format!("port-forward failed: {m}"))
                .unwrap_or_else(|| e.to_string());
            return Err(failed(krill, format!("the gateway did not answer: {why}")));
        }
    };
    driver.abort();
    drop(forwarder);
    answer(krill, status, &bytes)
}

fn answer(krill: &Krill, status: StatusCode, bytes: &[u8]) -> Result<String, CliError> {
    let text = String::from_utf8_lossy(bytes);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(failed(
            krill,
            format!(
                "the gateway refused its token (HTTP {status}); the Secret and the running \
                 gateway disagree: restart its pod {} (`kubectl delete pod`; the StatefulSet makes a new one)",
                krill.pod_name
            ),
        ));
    }
    if !status.is_success() {
        let head: String = text.chars().take(2000).collect();
        return Err(failed(
            krill,
            format!("the gateway answered HTTP {status}: {head}"),
        ));
    }
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| failed(krill, format!("the gateway's answer is not JSON ({e})")))?;
    json["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| failed(krill, format!("the answer has no message: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::krills::Kind;

    fn krill() -> Krill {
        Krill {
            name: "alice".into(),
            kind: Kind::Named,
            statefulset: "krill-alice".into(),
            pod_name: "krill-alice-0".into(),
            pod: None,
            paused: false,
        }
    }

    #[test]
    fn the_answer_is_the_first_choices_message() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"hi there"}}]}"#;
        assert_eq!(answer(&krill(), StatusCode::OK, body).unwrap(), "hi there");
    }

    #[test]
    fn refusals_name_the_krill_and_the_fix() {
        let e = answer(&krill(), StatusCode::UNAUTHORIZED, b"no")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("krill alice") && e.contains("restart its pod krill-alice-0"),
            "{e}"
        );
        let e = answer(&krill(), StatusCode::BAD_GATEWAY, b"upstream down")
            .unwrap_err()
            .to_string();
        assert!(e.contains("502") && e.contains("upstream down"), "{e}");
        let e = answer(&krill(), StatusCode::OK, b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no message"), "{e}");
    }
}
