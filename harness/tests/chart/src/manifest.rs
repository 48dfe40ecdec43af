use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::strict::{StrictError, strict_from_value};

#[derive(Debug, thiserror::Error)]
pub enum RenderedError {
    #[error("rendered document {index} (from {source_file}) is not YAML: {error}")]
    Yaml {
        index: usize,
        source_file: String,
        error: serde_yaml::Error,
    },
    #[error("rendered document {index} (from {source_file}) has no kind or metadata.name")]
    Unnamed { index: usize, source_file: String },
    #[error("{kind} {name}: {error}")]
    Type {
        kind: String,
        name: String,
        error: StrictError,
    },
    #[error("{kind} {name} is a kind this chart is not expected to render")]
    UnexpectedKind { kind: String, name: String },
    #[error("no {kind} named {name} in the rendered chart (have: {have:?})")]
    Missing {
        kind: String,
        name: String,
        have: Vec<String>,
    },
}

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub kind: String,
    pub name: String,
    /// The template it came from (helm's `# Source:` line).
    pub source: String,
    pub value: Value,
}

/// Everything one `helm template` printed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub manifests: Vec<Manifest>,
}

impl Rendered {
    pub fn parse(text: &str) -> Result<Self, RenderedError> {
        let mut manifests = Vec::new();
        let mut chunk = String::new();
        let mut documents = Vec::new();
        for line in text.lines() {
            if line == "---" {
                documents.push(std::mem::take(&mut chunk));
            } else {
                chunk.push_str(line);
                chunk.push('\n');
            }
        }
        documents.push(chunk);
        for (index, document) in documents.into_iter().enumerate() {
            let source = document
                .lines()
                .find_map(|line| line.strip_prefix("# Source: "))
                .unwrap_or("?")
                .to_owned();
            let value: Value =
                serde_yaml::from_str(&document).map_err(|error| RenderedError::Yaml {
                    index,
                    source_file: source.clone(),
                    error,
                })?;
            if value.is_null() {
                continue;
            }
            let kind = value.get("kind").and_then(Value::as_str);
            let name = value.pointer("/metadata/name").and_then(Value::as_str);
            let (Some(kind), Some(name)) = (kind, name) else {
                return Err(RenderedError::Unnamed {
                    index,
                    source_file: source,
                });
            };
            manifests.push(Manifest {
                kind: kind.to_owned(),
                name: name.to_owned(),
                source,
                value,
            });
        }
        Ok(Self { manifests })
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Manifest> + 'a {
        self.manifests
            .iter()
            .filter(move |manifest| manifest.kind == kind)
    }

    pub fn find(&self, kind: &str, name: &str) -> Option<&Manifest> {
        self.manifests
            .iter()
            .find(|manifest| manifest.kind == kind && manifest.name == name)
    }

    /// The object `kind/name`, parsed strictly into `T`.
    pub fn get<T: DeserializeOwned + Serialize>(
        &self,
        kind: &str,
        name: &str,
    ) -> Result<T, RenderedError> {
        let manifest = self
            .find(kind, name)
            .ok_or_else(|| RenderedError::Missing {
                kind: kind.to_owned(),
                name: name.to_owned(),
                have: self
                    .of_kind(kind)
                    .map(|manifest| manifest.name.clone())
                    .collect(),
            })?;
        strict_from_value(&manifest.value).map_err(|error| RenderedError::Type {
            kind: kind.to_owned(),
            name: name.to_owned(),
            error,
        })
    }

    /// Every object of `kind`, parsed strictly into `T`.
    pub fn all<T: DeserializeOwned + Serialize>(
        &self,
        kind: &str,
    ) -> Result<Vec<T>, RenderedError> {
        self.of_kind(kind)
            .map(|manifest| {
                strict_from_value(&manifest.value).map_err(|error| RenderedError::Type {
                    kind: kind.to_owned(),
                    name: manifest.name.clone(),
                    error,
                })
            })
            .collect()
    }

    /// Parses every object into its Kubernetes type; any unknown field or unexpected kind fails.
    pub fn check_types(&self) -> Result<(), RenderedError> {
        use k8s_openapi::api::{apps, core, networking, policy, rbac};
        for manifest in &self.manifests {
            let value = &manifest.value;
            let result = match manifest.kind.as_str() {
                "StatefulSet" => strict_from_value::<apps::v1::StatefulSet>(value).map(drop),
                "Deployment" => strict_from_value::<apps::v1::Deployment>(value).map(drop),
                "Service" => strict_from_value::<core::v1::Service>(value).map(drop),
                "ConfigMap" => strict_from_value::<core::v1::ConfigMap>(value).map(drop),
                "Secret" => strict_from_value::<core::v1::Secret>(value).map(drop),
                "ServiceAccount" => strict_from_value::<core::v1::ServiceAccount>(value).map(drop),
                "Pod" => strict_from_value::<core::v1::Pod>(value).map(drop),
                "NetworkPolicy" => {
                    strict_from_value::<networking::v1::NetworkPolicy>(value).map(drop)
                }
                "Role" => strict_from_value::<rbac::v1::Role>(value).map(drop),
                "RoleBinding" => strict_from_value::<rbac::v1::RoleBinding>(value).map(drop),
                "ClusterRole" => strict_from_value::<rbac::v1::ClusterRole>(value).map(drop),
                "ClusterRoleBinding" => {
                    strict_from_value::<rbac::v1::ClusterRoleBinding>(value).map(drop)
                }
                "PodDisruptionBudget" => {
                    strict_from_value::<policy::v1::PodDisruptionBudget>(value).map(drop)
                }
                other => {
                    return Err(RenderedError::UnexpectedKind {
                        kind: other.to_owned(),
                        name: manifest.name.clone(),
                    });
                }
            };
            result.map_err(|error| RenderedError::Type {
                kind: manifest.kind.clone(),
                name: manifest.name.clone(),
                error,
            })?;
        }
        Ok(())
    }
}
