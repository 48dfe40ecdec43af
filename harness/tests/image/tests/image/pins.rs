//! The image's pins agree with scripts/versions.env, the one place versions are kept. The build
//! script passes those pins as build args; these checks keep the Dockerfile's defaults (what a
//! plain `docker build` uses) and the OpenClaw lock file from drifting away from them.

use krill_image_tests::settings::{dockerfile_defaults, pinned_versions, repo_root};

#[test]
fn dockerfile_defaults_match_versions_env() -> anyhow::Result<()> {
    let pins = pinned_versions()?;
    let defaults = dockerfile_defaults("image/Dockerfile")?;
    for key in ["NODE_VERSION", "OPENCLAW_VERSION"] {
        assert_eq!(
            defaults.get(key),
            pins.get(key),
            "image/Dockerfile's ARG {key} default differs from scripts/versions.env"
        );
    }
    Ok(())
}

#[test]
fn litellm_test_image_default_matches_versions_env() -> anyhow::Result<()> {
    let pins = pinned_versions()?;
    let defaults = dockerfile_defaults("harness/tests/image/images/litellm/Dockerfile")?;
    assert_eq!(defaults.get("LITELLM_VERSION"), pins.get("LITELLM_VERSION"));
    Ok(())
}

#[test]
fn openclaw_lock_file_is_for_the_pinned_version() -> anyhow::Result<()> {
    let pinned = pinned_versions()?.get("OPENCLAW_VERSION").cloned();
    let dir = repo_root().join("image/openclaw");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json"))?)?;
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package-lock.json"))?)?;
    let wanted = manifest["dependencies"]["openclaw"]
        .as_str()
        .map(str::to_owned);
    let locked = lock["packages"]["node_modules/openclaw"]["version"]
        .as_str()
        .map(str::to_owned);
    assert_eq!(
        wanted, pinned,
        "image/openclaw/package.json: run scripts/image/lock-openclaw.sh"
    );
    assert_eq!(
        locked, pinned,
        "image/openclaw/package-lock.json: run scripts/image/lock-openclaw.sh"
    );
    Ok(())
}

#[test]
fn every_locked_package_carries_an_integrity_hash() -> anyhow::Result<()> {
    let lock: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        repo_root().join("image/openclaw/package-lock.json"),
    )?)?;
    let packages = lock["packages"]
        .as_object()
        .expect("lockfileVersion 3 has a packages map");
    let unpinned: Vec<&String> = packages
        .iter()
        .filter(|(path, entry)| {
            !path.is_empty()
                && entry.get("link").is_none()
                // Bundled packages ship inside their parent's tarball, covered by its hash.
                && entry.get("inBundle").is_none()
                && !entry["integrity"].as_str().is_some_and(|sum| sum.starts_with("sha512-"))
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        packages.len() > 100,
        "the lock file lists only {} packages",
        packages.len()
    );
    assert!(
        unpinned.is_empty(),
        "packages without a sha512 integrity: {unpinned:?}"
    );
    Ok(())
}
