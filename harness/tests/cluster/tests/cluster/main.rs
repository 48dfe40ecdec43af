//! The cluster tests, one binary, against whichever cluster `KRILL_CLUSTER` names (see
//! docs/testing.md). Select a group with a filter, e.g. `-- volumes::`.

mod admission;
mod config;
mod helm_test;
mod in_pod;
mod install;
mod leaks;
mod network_policy;
mod real_nodes;
mod support;
mod survival;
mod volumes;
