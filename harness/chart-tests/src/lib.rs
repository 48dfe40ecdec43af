//! Renders `charts/krill` with the real `helm template` and parses every manifest into the
//! Kubernetes types of `k8s-openapi` (v1.33), rejecting fields those types do not know.
//!
//! helm comes from the project's tool setup: the first `helm` on `KRILL_TOOLS_PATH` (set by
//! `scripts/dev`), else the pinned cache location that `scripts/tools/go-tools.sh helm` fills.

mod helm;
mod manifest;
mod strict;

pub use helm::{Helm, HelmError, Values};
pub use manifest::{Manifest, Rendered, RenderedError};
pub use strict::{StrictError, strict_from_value};

use std::path::PathBuf;

/// Root of the krill repository (this crate lives at `harness/chart-tests`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The chart under test.
pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/krill")
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
