//! krill-helper's integration tests, one binary: they run the built `krill` against real
//! OpenClaw, LiteLLM and the stand-in. Select a group with a filter, e.g. `-- gateway::`.

mod common;
mod first_start;
mod gateway;
mod offsite;
mod openclaw_config;
mod snapshot_guards;
mod snapshot_loop;
mod snapshot_restore;
