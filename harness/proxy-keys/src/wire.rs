//! LiteLLM 1.100's JSON, only the fields krill reads.
use serde::Deserialize;

use crate::KeyRecord;

#[derive(Debug, Deserialize)]
pub(crate) struct KeyList {
    #[serde(default)]
    pub keys: Vec<KeyRecordWire>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct KeyRecordWire {
    /// The key's hash (LiteLLM's column name).
    pub token: String,
    pub key_alias: Option<String>,
    #[serde(default)]
    pub spend: f64,
    pub max_budget: Option<f64>,
    #[serde(default)]
    pub models: Vec<String>,
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
}

impl KeyRecordWire {
    pub fn into_record(self) -> KeyRecord {
        KeyRecord {
            hash: self.token,
            alias: self.key_alias.unwrap_or_default(),
            spend: self.spend,
            max_budget: self.max_budget,
            models: self.models,
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
        }
    }
}

/// LiteLLM's errors come as `{"error": {"message": ...}}` (ProxyException) or FastAPI's
/// `{"detail": ...}`; anything else is shown as it came.
pub(crate) struct ErrorBody;

impl ErrorBody {
    pub fn message(text: &str) -> String {
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(_) => return text.chars().take(500).collect(),
        };
        let pick = |v: &serde_json::Value| -> Option<String> {
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => other
                    .get("message")
                    .or_else(|| other.get("error"))
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .or_else(|| Some(other.to_string())),
            }
        };
        value
            .get("error")
            .and_then(pick)
            .or_else(|| value.get("detail").and_then(pick))
            .unwrap_or_else(|| text.chars().take(500).collect())
    }
}
