//! In a chart's pod the krill's credentials come from the keeper, not from a Secret: `krill run`
//! presents the pod's projected token to `KRILL_KEEPER_URL` and waits for the keeper to be up.
//! Outside the chart (Docker, a laptop) `OPENCLAW_GATEWAY_TOKEN` and `OPENCLAW_API_KEY` set in
//! the environment win and the keeper is never asked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use krill_keeper::api::Credentials;
use krill_keeper::client::{self, ClientError, Settings};

use crate::token::TOKEN_VARIABLE;

pub const URL_VARIABLE: &str = "KRILL_KEEPER_URL";
pub const TOKEN_FILE_VARIABLE: &str = "KRILL_KEEPER_TOKEN_FILE";
/// Where the chart projects the pod's keeper-audience token.
pub const DEFAULT_TOKEN_FILE: &str = "/krill/secrets/keeper/token";
/// Longer than the keeper takes to start on a busy node; shorter than the startup probe, so the
/// container says why it gives up instead of being killed mid-wait.
const PATIENCE: Duration = Duration::from_secs(240);

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("KRILL_NAME is unset: the keeper needs to know which krill asks")]
    NoName,
    #[error("cannot start the keeper client: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Keeper(#[from] ClientError),
}

/// The keeper's answer when this pod should ask it, `None` when it should not.
pub fn from_keeper(
    env: &BTreeMap<String, String>,
) -> Result<Option<Credentials>, CredentialsError> {
    let set = |name: &str| env.get(name).filter(|v| !v.is_empty());
    let Some(url) = set(URL_VARIABLE) else {
        return Ok(None);
    };
    if set(TOKEN_VARIABLE).is_some() {
        return Ok(None);
    }
    let settings = Settings {
        url: url.clone(),
        token_file: PathBuf::from(
            set(TOKEN_FILE_VARIABLE).map_or(DEFAULT_TOKEN_FILE, String::as_str),
        ),
        name: set("KRILL_NAME").ok_or(CredentialsError::NoName)?.clone(),
        patience: PATIENCE,
    };
    // One thread: `krill run` execs right after, and nothing else runs meanwhile.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CredentialsError::Runtime)?;
    let credentials = runtime.block_on(client::fetch(&settings, |line| {
        eprintln!("krill: {line}");
    }))?;
    eprintln!(
        "krill: credentials of {} from the keeper at {}",
        credentials.name, settings.url
    );
    Ok(Some(credentials))
}
