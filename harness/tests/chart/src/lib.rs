//! Renders `charts/krill` with the real `helm template` and parses every manifest into the
//! Kubernetes types of `k8s-openapi` (v1.33), rejecting fields those types do not know.
//!
//! helm and the chart directory come from krill-test-support ([`Helm::locate`], [`chart_dir`]).

mod manifest;
mod strict;

pub use krill_test_support::{Helm, HelmError, ValueSource, chart_dir, repo_root};
pub use manifest::{Manifest, Rendered, RenderedError};
pub use strict::{StrictError, strict_from_value};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Helm(#[from] HelmError),
    #[error(transparent)]
    Rendered(#[from] RenderedError),
}

/// `helm template <release> <chart> -n <namespace>` with `values`, every manifest parsed.
pub fn render(
    helm: &Helm,
    release: &str,
    namespace: &str,
    values: &[ValueSource],
) -> Result<Rendered, RenderError> {
    Ok(Rendered::parse(
        &helm.template(release, namespace, values)?,
    )?)
}

/// Values files shipped with the chart: the defaults, the ct cases and the examples.
pub fn shipped_values_files() -> Vec<PathBuf> {
    let chart = chart_dir();
    let mut files = vec![
        chart.join("values.yaml"),
        chart.join("values-dev.yaml"),
        chart.join("values-prod.yaml"),
    ];
    if let Ok(entries) = std::fs::read_dir(chart.join("ci")) {
        let mut ci: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
            .collect();
        ci.sort();
        files.extend(ci);
    }
    files
}
pub mod values_docs;
