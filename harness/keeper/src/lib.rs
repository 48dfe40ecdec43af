//! The keeper: the one part of a release that creates and reads the krills' credentials.
//!
//! A krill pod holds no Secret. At start `krill run` presents the pod's projected service-account
//! token (audience [`config::KeeperConfig::audience`], useless against the API server) to the
//! keeper; the keeper asks the API server who that token belongs to (TokenReview), checks that
//! the pod is one of this release's krills, derives the krill's name from the pod and hands back
//! that krill's credentials alone, creating its gateway token once on first request. So a krill
//! can obtain its own token and no sibling's, and nothing random is rendered by Helm.

pub mod api;
pub mod client;
pub mod config;
pub mod identity;
pub mod proxy_key;
pub mod random;
pub mod server;
pub mod store;
