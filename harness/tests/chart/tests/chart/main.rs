//! The chart's rendering tests, one binary: the real `helm template`, parsed into Kubernetes types.
//! Select a group with a filter, e.g. `cargo test -p krill-chart-tests -- schema::`.

mod common;
mod database;
mod docs;
mod features;
mod identity;
mod invariant;
mod invariant_prop;
mod object_store;
mod render;
mod schema;
mod secrets;
mod security;
