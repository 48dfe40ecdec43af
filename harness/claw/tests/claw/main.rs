//! krill-claw's integration tests, one binary (each test binary is a link step on two cores).
//! Select a group with a filter: `cargo test -p krill-claw --test claw -- interop::`.

mod cli;
mod common;
mod hostile;
mod interop;
mod roundtrip;
