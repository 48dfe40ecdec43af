use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A manifest that does not fit the Kubernetes type.
#[derive(Debug, thiserror::Error)]
pub enum StrictError {
    #[error("does not parse as {type_name}: {source}")]
    Parse {
        type_name: &'static str,
        source: serde_json::Error,
    },
    #[error("fields unknown to {type_name} (dropped by the typed parse): {paths:?}")]
    Unknown {
        type_name: &'static str,
        paths: Vec<String>,
    },
}

/// Parses `value` into `T` and fails if `T` would silently drop anything.
///
/// The k8s-openapi types ignore unknown fields, so the check is a round trip: whatever is in the
/// input but missing from the re-serialised object was not understood (a misspelt field, a field
/// at the wrong level, a field of another API version).
pub fn strict_from_value<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, StrictError> {
    let type_name = std::any::type_name::<T>();
    let typed: T = serde_json::from_value(value.clone())
        .map_err(|source| StrictError::Parse { type_name, source })?;
    let back =
        serde_json::to_value(&typed).map_err(|source| StrictError::Parse { type_name, source })?;
    let mut paths = Vec::new();
    missing(value, &back, String::new(), &mut paths);
    if paths.is_empty() {
        Ok(typed)
    } else {
        Err(StrictError::Unknown { type_name, paths })
    }
}

fn missing(original: &Value, back: &Value, path: String, out: &mut Vec<String>) {
    match (original, back) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, value) in left {
                let child = format!("{path}.{key}");
                match right.get(key) {
                    Some(other) => missing(value, other, child, out),
                    // An explicit null or empty object carries no information either way.
                    None if value.is_null()
                        || value.as_object().is_some_and(|map| map.is_empty()) => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(left), Value::Array(right)) => {
            for (index, value) in left.iter().enumerate() {
                match right.get(index) {
                    Some(other) => missing(value, other, format!("{path}[{index}]"), out),
                    None => out.push(format!("{path}[{index}]")),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Service;

    #[test]
    fn a_known_service_passes() {
        let value = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "krill"},
            "spec": {"clusterIP": "None", "ports": [{"port": 18789, "targetPort": "gateway"}]}});
        let service: Service = strict_from_value(&value).expect("valid service");
        assert_eq!(
            service.spec.and_then(|spec| spec.cluster_ip).as_deref(),
            Some("None")
        );
    }

    #[test]
    fn a_misspelt_field_is_named() {
        let value = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "krill"},
            "spec": {"clusterIp": "None"}});
        let err =
            strict_from_value::<Service>(&value).expect_err("clusterIp is not a Service field");
        assert!(err.to_string().contains(".spec.clusterIp"), "{err}");
    }
}
