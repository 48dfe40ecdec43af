//! The krill in-pod helper: everything `krill run`, `krill snapshot` and `krill restore` do, as a
//! library so tests and benchmarks can drive it without a process in between.

pub mod compile_cache;
pub mod config;
pub mod credentials;
pub mod envref;
pub mod exclusions;
pub mod first_start;
pub mod fsops;
pub mod gateway;
pub mod layout;
pub mod manual_restore;
pub mod offsite;
pub mod paths;
pub mod restore;
pub mod retention;
pub mod run;
pub mod snapshot;
pub mod space;
pub mod sqlite;
pub mod token;
pub mod watch;
