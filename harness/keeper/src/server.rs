//! `krill keeper`: the HTTP server the krills ask for their credentials.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::api::{
    CREDENTIALS_PATH, Credentials, CredentialsRequest, HEALTH_PATH, READY_PATH, Refusal,
};
use crate::config::{KeeperConfig, SecretRef, TOKEN_KEY};
use crate::identity::{self, Krill};
use crate::proxy_key::{ProxyKeyError, proxy_key_for};
use crate::random::alphanumeric;
use crate::store::{Store, StoreError};

/// Gateway tokens and generated keys: 48 characters of [A-Za-z0-9].
const SECRET_LENGTH: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "no Kubernetes API client (the keeper runs in the cluster, with its service account): {0}"
    )]
    Client(kube::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// Why one request got no credentials.
#[derive(Debug, thiserror::Error)]
enum KeeperError {
    #[error(transparent)]
    Refused(#[from] identity::Refusal),
    #[error("the request body is not a credentials request: {0}")]
    BadRequest(serde_json::Error),
    #[error("the keeper is still creating the release's keys; retry shortly")]
    NotReady,
    #[error("the API server could not review the token: {0}")]
    Review(kube::Error),
    #[error("reading pod {pod}: {source}")]
    Pod { pod: String, source: kube::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ProxyKey(#[from] ProxyKeyError),
    #[error(
        "Secret {secret} has no key {key} for krill {krill}: add one (gatewayToken.existingSecret holds one key per pod the fleet may scale to)"
    )]
    NoToken {
        secret: String,
        key: String,
        krill: String,
    },
}

impl KeeperError {
    fn status(&self) -> StatusCode {
        use identity::Refusal as R;
        match self {
            KeeperError::Refused(R::NoToken | R::NotAuthenticated(_) | R::WrongAudience { .. }) => {
                StatusCode::UNAUTHORIZED
            }
            KeeperError::Refused(_) => StatusCode::FORBIDDEN,
            KeeperError::BadRequest(_) => StatusCode::BAD_REQUEST,
            KeeperError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            KeeperError::NoToken { .. } | KeeperError::ProxyKey(ProxyKeyError::Missing { .. }) => {
                StatusCode::CONFLICT
            }
            KeeperError::Review(_)
            | KeeperError::Pod { .. }
            | KeeperError::Store(_)
            | KeeperError::ProxyKey(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl IntoResponse for KeeperError {
    fn into_response(self) -> Response {
        let body = Refusal {
            error: self.to_string(),
        };
        (self.status(), axum::Json(body)).into_response()
    }
}

struct Keeper {
    config: KeeperConfig,
    client: Client,
    store: Store,
    ready: AtomicBool,
}

/// Serves until SIGTERM or SIGINT. Creates the release's shared key first (in the background,
/// retrying while the API server is unreachable); `/readyz` answers 200 once it exists.
pub async fn serve(config: KeeperConfig, listen: SocketAddr) -> Result<(), ServeError> {
    let client = Client::try_default().await.map_err(ServeError::Client)?;
    let store = Store::new(
        Api::<Secret>::namespaced(client.clone(), &config.namespace),
        config.secret_labels.clone(),
    );
    let keeper = Arc::new(Keeper {
        config,
        client,
        store,
        ready: AtomicBool::new(false),
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: listen,
            source,
        })?;
    eprintln!(
        "keeper: serving krills of {} on {listen} (audience {})",
        keeper.config.namespace, keeper.config.audience
    );
    tokio::spawn(bootstrap(keeper.clone()));
    let app = Router::new()
        .route(CREDENTIALS_PATH, post(credentials))
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .route(READY_PATH, get(ready))
        .with_state(keeper);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
        .map_err(ServeError::Serve)
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("keeper: stopping");
}

/// The proxy's master key, created once when the chart asks for a generated one.
async fn bootstrap(keeper: Arc<Keeper>) {
    let key = &keeper.config.proxy_key;
    let mut wait = Duration::from_secs(1);
    loop {
        let outcome = if key.generate {
            keeper
                .store
                .ensure(&key.secret, || {
                    alphanumeric(SECRET_LENGTH).map(|v| format!("sk-{v}"))
                })
                .await
                .map(|_| ())
        } else {
            Ok(())
        };
        match outcome {
            Ok(()) => {
                keeper.ready.store(true, Ordering::SeqCst);
                eprintln!(
                    "keeper: ready (the proxy key is in Secret {})",
                    key.secret.name
                );
                return;
            }
            Err(error) => {
                eprintln!(
                    "keeper: cannot make sure of Secret {} yet ({error}); retrying in {}s",
                    key.secret.name,
                    wait.as_secs()
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(15));
            }
        }
    }
}

async fn ready(State(keeper): State<Arc<Keeper>>) -> Response {
    if keeper.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready").into_response()
    } else {
        KeeperError::NotReady.into_response()
    }
}

async fn credentials(
    State(keeper): State<Arc<Keeper>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match keeper.answer(&headers, &body).await {
        Ok(credentials) => {
            eprintln!("keeper: gave krill {} its credentials", credentials.name);
            axum::Json(credentials).into_response()
        }
        Err(error) => {
            eprintln!("keeper: refused ({}): {error}", error.status().as_u16());
            error.into_response()
        }
    }
}

impl Keeper {
    async fn answer(&self, headers: &HeaderMap, body: &[u8]) -> Result<Credentials, KeeperError> {
        let token = bearer(headers).ok_or(identity::Refusal::NoToken)?;
        let request: CredentialsRequest = if body.iter().all(u8::is_ascii_whitespace) {
            CredentialsRequest::default()
        } else {
            serde_json::from_slice(body).map_err(KeeperError::BadRequest)?
        };
        if !self.ready.load(Ordering::SeqCst) {
            return Err(KeeperError::NotReady);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: Some(vec![self.config.audience.clone()]),
            },
            ..TokenReview::default()
        };
        let reviewed = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(KeeperError::Review)?;
        let bound = identity::bound_pod(&self.config, reviewed.status.as_ref())?;
        let pod = Api::<Pod>::namespaced(self.client.clone(), &self.config.namespace)
            .get_opt(&bound.name)
            .await
            .map_err(|source| KeeperError::Pod {
                pod: bound.name.clone(),
                source,
            })?
            .ok_or_else(|| identity::Refusal::PodGone {
                pod: bound.name.clone(),
            })?;
        let krill = identity::identify(&self.config, &bound, &pod)?;
        identity::check_asked(&krill, request.name.as_deref())?;
        let gateway_token = self.gateway_token(&krill).await?;
        let proxy_key = proxy_key_for(&self.config, &self.store, &krill).await?;
        Ok(Credentials {
            name: krill.name().to_owned(),
            gateway_token,
            proxy_key,
        })
    }

    /// This krill's gateway token: from the user's Secret when one is configured, else from the
    /// krill's own Secret, created on its first request.
    async fn gateway_token(&self, krill: &Krill) -> Result<String, KeeperError> {
        let fresh = || alphanumeric(SECRET_LENGTH);
        let (at, generate) = match krill {
            Krill::Fleet { pod } => match &self.config.fleet.existing_secret {
                Some(secret) => (
                    SecretRef {
                        name: secret.clone(),
                        key: pod.clone(),
                    },
                    false,
                ),
                None => (
                    SecretRef {
                        name: KeeperConfig::fleet_token_secret(pod),
                        key: TOKEN_KEY.to_owned(),
                    },
                    true,
                ),
            },
            Krill::Named { name } => {
                let named = &self.config.named[name];
                (named.token.clone(), named.generate)
            }
        };
        if !generate {
            return self.store.read(&at).await?.ok_or(KeeperError::NoToken {
                secret: at.name,
                key: at.key,
                krill: krill.name().to_owned(),
            });
        }
        if let Some(token) = self.store.read(&at).await? {
            return Ok(token);
        }
        // A fleet pod that had a token in an older chart's shared Secret keeps it.
        let legacy = match (krill, &self.config.fleet.legacy_secret) {
            (Krill::Fleet { pod }, Some(legacy)) => {
                self.store
                    .read(&SecretRef {
                        name: legacy.clone(),
                        key: pod.clone(),
                    })
                    .await?
            }
            _ => None,
        };
        let token = self
            .store
            .ensure(&at, || legacy.map_or_else(fresh, Ok))
            .await?;
        Ok(token)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}
