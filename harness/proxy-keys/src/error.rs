use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProxyKeysError {
    #[error("cannot build the HTTP client: {source}")]
    Client { source: reqwest::Error },
    #[error("the LiteLLM proxy's URL {base:?} is not a URL: {reason}")]
    BadUrl { base: String, reason: String },
    #[error("LiteLLM proxy unreachable at {endpoint}: {source}")]
    Unreachable {
        endpoint: &'static str,
        source: reqwest::Error,
    },
    #[error(
        "LiteLLM refused {endpoint}: it has no database. Virtual keys need LiteLLM's PostgreSQL: \
         set apiServer.database (chart) or DATABASE_URL (proxy), and make sure the proxy image \
         carries Prisma's client and engines"
    )]
    NoDatabase { endpoint: &'static str },
    #[error("LiteLLM refused {endpoint} with HTTP {status}: {message}")]
    Refused {
        endpoint: &'static str,
        status: u16,
        message: String,
    },
    #[error("LiteLLM's answer to {endpoint} is not what LiteLLM 1.100 sends ({source}): {body}")]
    Malformed {
        endpoint: &'static str,
        source: serde_json::Error,
        body: String,
    },
    #[error(
        "{count} LiteLLM keys carry the alias {alias}; one krill has one key: delete the extra ones"
    )]
    Ambiguous { alias: String, count: usize },
    #[error(
        "a krill's proxy key must start with `sk-` (LiteLLM's rule) and have at least 32 printable characters"
    )]
    BadKey,
}
