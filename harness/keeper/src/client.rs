//! What `krill run` does before anything else in a chart's pod: present the pod's projected token
//! to the keeper and take back this krill's credentials, waiting (with a log line per attempt)
//! while the keeper is not up yet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use crate::api::{CREDENTIALS_PATH, Credentials, CredentialsRequest, Refusal};

/// Where the keeper is and how this pod proves who it is.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `http://<fullname>-keeper.<namespace>.svc:8080` (`KRILL_KEEPER_URL`).
    pub url: String,
    /// The projected service-account token (`KRILL_KEEPER_TOKEN_FILE`); re-read on every
    /// attempt, since the kubelet rotates it.
    pub token_file: PathBuf,
    /// `KRILL_NAME`: the keeper refuses when the pod is another krill.
    pub name: String,
    /// Give up after this long (the container restarts and tries again).
    pub patience: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("KRILL_KEEPER_URL {url:?} is not an http://host[:port] URL")]
    BadUrl { url: String },
    #[error("cannot read the pod's keeper token {path}: {source}")]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the keeper at {url} is not reachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the keeper at {url} refused ({status}): {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the keeper at {url} answered something that is not credentials: {reason}")]
    BadReply { url: String, reason: String },
    #[error("the keeper gave credentials for {got}, but this krill is {expected}")]
    WrongKrill { expected: String, got: String },
}

impl ClientError {
    /// Worth another attempt: the keeper (or its view of the release) may still be coming up.
    /// A refusal is retried too: a named krill added by an upgrade is known to the keeper only
    /// once the keeper has restarted with the new config.
    fn retryable(&self) -> bool {
        !matches!(
            self,
            ClientError::BadUrl { .. } | ClientError::WrongKrill { .. }
        )
    }
}

/// One attempt.
pub async fn fetch_once(settings: &Settings) -> Result<Credentials, ClientError> {
    let token = read_token(&settings.token_file)?;
    let request = CredentialsRequest {
        name: Some(settings.name.clone()),
    };
    let body = serde_json::to_vec(&request).expect("a request always serialises");
    let (status, reply) = post(&settings.url, CREDENTIALS_PATH, &token, body).await?;
    if status != StatusCode::OK {
        let message = serde_json::from_slice::<Refusal>(&reply)
            .map(|r| r.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&reply).chars().take(300).collect());
        return Err(ClientError::Refused {
            url: settings.url.clone(),
            status: status.as_u16(),
            message,
        });
    }
    let credentials: Credentials =
        serde_json::from_slice(&reply).map_err(|e| ClientError::BadReply {
            url: settings.url.clone(),
            reason: e.to_string(),
        })?;
    if credentials.name != settings.name {
        return Err(ClientError::WrongKrill {
            expected: settings.name.clone(),
            got: credentials.name,
        });
    }
    Ok(credentials)
}

/// Attempts until one succeeds or `patience` runs out, calling `log` before each wait.
pub async fn fetch(
    settings: &Settings,
    mut log: impl FnMut(&str),
) -> Result<Credentials, ClientError> {
    let start = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        match fetch_once(settings).await {
            Ok(credentials) => return Ok(credentials),
            Err(error) if error.retryable() && start.elapsed() + wait < settings.patience => {
                log(&format!(
                    "waiting for the keeper: {error}; retrying in {:.1}s",
                    wait.as_secs_f32()
                ));
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(error) => return Err(error),
        }
    }
}

fn read_token(path: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClientError::Token {
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim().to_owned())
}

/// One HTTP/1.1 POST over a fresh connection: the keeper is plain HTTP inside the cluster.
async fn post(
    url: &str,
    path: &str,
    bearer: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, Bytes), ClientError> {
    let bad_url = || ClientError::BadUrl {
        url: url.to_owned(),
    };
    let uri: Uri = url.parse().map_err(|_| bad_url())?;
    if uri.scheme_str() != Some("http") {
        return Err(bad_url());
    }
    let host = uri.host().ok_or_else(bad_url)?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let unreachable = |reason: String| ClientError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(connection);
        let request = Request::post(format!("{}{path}", url.trim_end_matches('/')))
            .header(hyper::header::HOST, format!("{host}:{port}"))
            .header(hyper::header::AUTHORIZATION, format!("Bearer {bearer}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| bad_url())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    };
    tokio::time::timeout(Duration::from_secs(15), exchange)
        .await
        .map_err(|_| unreachable("no answer within 15s".to_owned()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, token_file: &Path) -> Settings {
        Settings {
            url: url.to_owned(),
            token_file: token_file.to_owned(),
            name: "krill-0".to_owned(),
            patience: Duration::from_millis(1200),
        }
    }

    #[tokio::test]
    async fn a_missing_token_file_is_named() {
        let error = fetch_once(&settings(
            "http://127.0.0.1:9",
            Path::new("/nonexistent/token"),
        ))
        .await
        .expect_err("fails")
        .to_string();
        assert!(error.contains("/nonexistent/token"), "{error}");
    }

    #[tokio::test]
    async fn a_url_that_is_not_http_is_refused_at_once() {
        let dir = std::env::temp_dir().join(format!("krill-keeper-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let token = dir.join("token");
        std::fs::write(&token, "t").expect("token");
        let mut logged = 0;
        let error = fetch(&settings("https://keeper:8080", &token), |_| logged += 1)
            .await
            .expect_err("fails")
            .to_string();
        assert!(error.contains("https://keeper:8080"), "{error}");
        assert_eq!(logged, 0, "a bad URL is not retried");
    }

    #[tokio::test]
    async fn an_absent_keeper_is_retried_with_a_log_line_then_given_up() {
        // Bind then drop: a local port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let dir = std::env::temp_dir().join(format!("krill-keeper-absent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let token = dir.join("token");
        std::fs::write(&token, "t").expect("token");
        let mut lines = Vec::new();
        let error = fetch(
            &settings(&format!("http://127.0.0.1:{port}"), &token),
            |l| lines.push(l.to_owned()),
        )
        .await
        .expect_err("gives up");
        assert!(matches!(error, ClientError::Unreachable { .. }), "{error}");
        assert!(!lines.is_empty(), "no log line while waiting");
        assert!(lines[0].contains("waiting for the keeper"), "{lines:?}");
    }
}
