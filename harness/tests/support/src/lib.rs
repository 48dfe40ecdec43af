//! What krill's test crates share, so that each fact has one home: where the repository, the
//! chart and the tool cache are ([`repo_root`], [`chart_dir`], [`cache_root`]), the pins of
//! `scripts/versions.env` ([`Versions`]), the real helm ([`Helm`]), a real S3 server ([`s3_server`]) and how a test that cannot run
//! says so ([`not_run`]).
//!
//! Only test crates and dev-dependencies use this crate; nothing that ships depends on it.

mod helm;
mod not_run;
mod paths;
mod s3_server;
mod versions;

pub use helm::{Helm, HelmError, HelmOutput, KUBE_VERSION, ValueSource, Values};
pub use not_run::{NOT_RUN_LOG_ENV, not_run};
pub use paths::{cache_root, chart_dir, repo_root};
pub use s3_server::{
    S3_ACCESS_KEY_ID, S3_BUCKET, S3_SECRET_ACCESS_KEY, S3Server, s3_server, seaweedfs_bin,
};
pub use versions::{Versions, VersionsError};
