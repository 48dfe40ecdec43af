use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;

/// Value of `format` in every manifest this format family writes.
pub const FORMAT_NAME: &str = "openclaw-context";
/// Format version we write (the one claw.py writes).
pub const FORMAT_VERSION: &str = "0.1";

/// `manifest.json`, field for field as claw.py writes it. Missing fields read as empty so that
/// archives from other producers still load; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub version: String,
    /// ISO-8601 UTC, e.g. `2026-11-24T08:41:41.123456+00:00` (Python's `isoformat()` shape).
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub generated_by: String,
    /// Archive paths of every file under `context/`, with `/` separators.
    #[serde(default)]
    pub context_files: Vec<String>,
    /// What the producer left out of `context/` on purpose, and why (krill's snapshots list the
    /// credentials they do not carry). Not written by claw.py; omitted when empty, so archives
    /// without exclusions stay byte-for-byte claw.py's shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

/// One path a producer left out of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Relative to `context/`, with `/` separators.
    pub path: String,
    /// A short word a reader can act on (`credential`, `scratch`).
    pub reason: String,
}

impl Manifest {
    pub fn new(generated_by: &str, context_files: Vec<String>) -> Self {
        Manifest {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION.to_owned(),
            created_at: now_iso8601(),
            generated_by: generated_by.to_owned(),
            context_files,
            left_out: Vec::new(),
        }
    }

    /// Pretty JSON with two-space indent and raw UTF-8, byte-compatible in shape with
    /// `json.dump(..., indent=2, ensure_ascii=False)`.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of strings cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

pub(crate) fn now_iso8601() -> String {
    let fmt = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000+00:00".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_at_has_python_isoformat_shape() {
        let stamp = now_iso8601();
        assert_eq!(
            stamp.len(),
            "2026-11-24T08:41:41.123456+00:00".len(),
            "{stamp}"
        );
        assert!(stamp.ends_with("+00:00"), "{stamp}");
        assert_eq!(&stamp[10..11], "T");
    }

    #[test]
    fn json_keeps_claw_py_field_order_and_unicode() {
        let m = Manifest::new("test", vec!["context/ünï.md".into()]);
        let text = String::from_utf8(m.to_json()).expect("utf8");
        let order: Vec<usize> = [
            "\"format\"",
            "\"version\"",
            "\"created_at\"",
            "\"generated_by\"",
            "\"context_files\"",
        ]
        .iter()
        .map(|k| text.find(k).expect(k))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(
            text.contains("ünï"),
            "non-ASCII must not be escaped: {text}"
        );
        assert!(text.contains("\n  \"format\""), "two-space indent: {text}");
    }

    #[test]
    fn lenient_about_missing_fields() {
        let m: Manifest =
            serde_json::from_str(r#"{"format":"openclaw-context","extra":1}"#).expect("parse");
        assert_eq!(m.format, FORMAT_NAME);
        assert!(m.context_files.is_empty());
    }
}
