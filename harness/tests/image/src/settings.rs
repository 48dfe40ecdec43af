//! Which images the tests run, and the pins they are checked against. Everything comes from the
//! environment `scripts/dev` exports or from files in the repository; nothing is guessed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "{var} is not set; it names the {what} image. Run the tests through `scripts/dev test` \
         (or scripts/test/image.sh), which builds the images and exports it"
    )]
    MissingVariable {
        var: &'static str,
        what: &'static str,
    },
    #[error("image {image} ({what}) is not built on this docker daemon; build it with {how}")]
    ImageNotBuilt {
        image: String,
        what: &'static str,
        how: &'static str,
    },
    #[error("docker is not reachable ({0}); start it with scripts/tools/docker.sh")]
    DockerUnreachable(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Versions(#[from] krill_test_support::VersionsError),
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The three images a test run needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub krill_image: String,
    pub litellm_image: String,
    pub stand_in_image: String,
}

impl Settings {
    /// Reads the image names and checks each image exists, so a missing build fails with the
    /// command that makes it instead of a pull error from a registry nobody can reach.
    pub fn from_env() -> Result<Self, SetupError> {
        let settings = Self {
            krill_image: required("KRILL_IMAGE", "krill")?,
            litellm_image: required("KRILL_TEST_LITELLM_IMAGE", "LiteLLM test")?,
            stand_in_image: required("KRILL_TEST_STAND_IN_IMAGE", "stand-in model server")?,
        };
        crate::docker::ping()?;
        for (image, what, how) in [
            (
                &settings.krill_image,
                "the krill image",
                "scripts/image/build.sh [--local-bases]",
            ),
            (
                &settings.litellm_image,
                "LiteLLM test image",
                "scripts/test/image.sh",
            ),
            (
                &settings.stand_in_image,
                "stand-in test image",
                "scripts/test/image.sh",
            ),
        ] {
            if !crate::docker::image_exists(image) {
                return Err(SetupError::ImageNotBuilt {
                    image: image.clone(),
                    what,
                    how,
                });
            }
        }
        Ok(settings)
    }
}

fn required(var: &'static str, what: &'static str) -> Result<String, SetupError> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(SetupError::MissingVariable { var, what }),
    }
}

/// `name:tag` split at the last colon that is not part of a registry port.
pub fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    }
}

pub use krill_test_support::repo_root;

fn read(path: &Path) -> Result<String, SetupError> {
    std::fs::read_to_string(path).map_err(|source| SetupError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The pins of scripts/versions.env.
pub fn pinned_versions() -> Result<BTreeMap<String, String>, SetupError> {
    Ok(krill_test_support::Versions::load()?.into_map())
}

/// `ARG NAME=default` lines of a Dockerfile (the last one wins, like a later stage's ARG).
pub fn dockerfile_arg_defaults(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("ARG "))
        .filter_map(|arg| arg.trim().split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

pub fn dockerfile_defaults(relative: &str) -> Result<BTreeMap<String, String>, SetupError> {
    Ok(dockerfile_arg_defaults(&read(&repo_root().join(relative))?))
}

/// `version` under `[workspace.package]` of the root Cargo.toml: the image's version.
pub fn workspace_version() -> Result<String, SetupError> {
    let path = repo_root().join("Cargo.toml");
    let text = read(&path)?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(value) = line.strip_prefix("version") {
            let value = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            return Ok(value.to_owned());
        }
    }
    Err(SetupError::Parse {
        path,
        message: "no version under [workspace.package]".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("krill:0.1.0", ("krill", "0.1.0"))]
    #[case("krill", ("krill", "latest"))]
    #[case("registry.local:5000/krill:1.2.3", ("registry.local:5000/krill", "1.2.3"))]
    #[case("registry.local:5000/krill", ("registry.local:5000/krill", "latest"))]
    fn references_split_at_the_tag(#[case] reference: &str, #[case] expected: (&str, &str)) {
        assert_eq!(split_reference(reference), expected);
    }

    #[test]
    fn dockerfile_args_without_default_are_skipped() {
        let parsed = dockerfile_arg_defaults("ARG TARGETARCH\nARG NODE_VERSION=24.21.0\nRUN x\n");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed["NODE_VERSION"], "24.21.0");
    }
}
