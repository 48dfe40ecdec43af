//! Support for the krill image tests: which images to run (from the environment `scripts/dev`
//! sets up), thin wrappers over the docker CLI for what testcontainers does not cover (volumes,
//! one-shot runs, inspect), the model chain (stand-in model server behind a real LiteLLM proxy on a
//! user-defined network) and a krill container started the way the chart starts a pod.

pub mod docker;
pub mod krill;
pub mod settings;
pub mod stack;

pub use settings::{Settings, SetupError};

/// A name no other test run on this docker daemon uses: containers, volumes and networks are
/// global to the daemon, and several test binaries (or developers) may share it.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn unique_names_differ_within_one_process() {
        assert_ne!(unique_name("krill"), unique_name("krill"));
    }

    #[test]
    fn unique_names_are_valid_docker_names() {
        let name = unique_name("krill-it");
        assert!(name.starts_with("krill-it-"), "{name}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "docker names allow [a-zA-Z0-9_.-], got {name}"
        );
    }
}
