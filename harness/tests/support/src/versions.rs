use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::repo_root;

#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{key} is not pinned in scripts/versions.env")]
    Missing { key: String },
}

/// The pins of `scripts/versions.env`, the one place versions are kept: `KEY=value  # comment`
/// lines (the file is also sourced by bash, so nothing fancier appears in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions(BTreeMap<String, String>);

impl Versions {
    /// Reads the repository's `scripts/versions.env`.
    pub fn load() -> Result<Self, VersionsError> {
        let path = repo_root().join("scripts/versions.env");
        let text = std::fs::read_to_string(&path)
            .map_err(|source| VersionsError::Read { path, source })?;
        Ok(Self::parse(&text))
    }

    pub fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or("").trim())
                .filter_map(|line| line.split_once('='))
                .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
                .collect(),
        )
    }

    /// The pin of `key`, or an error naming it.
    pub fn get(&self, key: &str) -> Result<&str, VersionsError> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| VersionsError::Missing {
                key: key.to_owned(),
            })
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_ignore_comments_and_spacing() {
        let parsed = Versions::parse("# header\nNODE_VERSION=24.21.0     # why\n\nX = y\n");
        assert_eq!(parsed.get("NODE_VERSION").ok(), Some("24.21.0"));
        assert_eq!(parsed.get("X").ok(), Some("y"));
        assert_eq!(parsed.as_map().len(), 2);
    }

    #[test]
    fn a_missing_pin_is_named() {
        let err = Versions::parse("A=1\n").get("HELM_VERSION").err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("HELM_VERSION is not pinned in scripts/versions.env")
        );
    }

    #[test]
    fn the_repository_pins_helm() -> Result<(), VersionsError> {
        let helm = Versions::load()?.get("HELM_VERSION")?.to_owned();
        assert!(helm.starts_with('v'), "{helm}");
        Ok(())
    }
}
