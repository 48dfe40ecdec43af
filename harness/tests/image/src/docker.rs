//! The docker CLI, for what testcontainers does not do: checking images, named volumes that must
//! outlive a container, and short one-shot runs whose exit code and output are the result.

use std::process::{Command, Output};

use anyhow::{Context, bail};

use crate::SetupError;

fn docker() -> Command {
    Command::new("docker")
}

pub fn ping() -> Result<(), SetupError> {
    let output = docker()
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map_err(|error| SetupError::DockerUnreachable(format!("cannot run `docker`: {error}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(SetupError::DockerUnreachable(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

pub fn image_exists(image: &str) -> bool {
    docker()
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false)
}

/// Runs `docker <args>` and returns its output whatever the exit code: for one-shot containers
/// the exit code is what a test asserts on.
pub fn run<S: AsRef<str>>(args: &[S]) -> anyhow::Result<Output> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    docker()
        .args(&args)
        .output()
        .with_context(|| format!("running docker {}", args.join(" ")))
}

/// Runs `docker <args>` and fails, with its stderr, unless it exits 0.
pub fn checked(args: &[&str]) -> anyhow::Result<String> {
    let output = run(args)?;
    if !output.status.success() {
        bail!(
            "docker {} exited with {}: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

pub fn inspect(object: &str) -> anyhow::Result<serde_json::Value> {
    let text = checked(&["inspect", object])?;
    let mut list: Vec<serde_json::Value> =
        serde_json::from_str(&text).with_context(|| format!("parsing docker inspect {object}"))?;
    list.pop()
        .with_context(|| format!("docker inspect {object} returned nothing"))
}

/// A named volume, removed when dropped: the krill's PVC in these tests, so it must survive the
/// containers that use it.
pub struct Volume {
    pub name: String,
}

impl Volume {
    pub fn create(name: String) -> anyhow::Result<Self> {
        checked(&["volume", "create", "--label", "dev.krill.test=image", &name])?;
        Ok(Self { name })
    }

    /// A one-shot container of `image` with the volume at /krill/data runs `script` (sh -c).
    pub fn sh(&self, image: &str, script: &str) -> anyhow::Result<Output> {
        self.sh_mounted(image, script, "")
    }

    /// `sh`, with `options` (e.g. `:ro`) appended to the volume's mount.
    fn sh_mounted(&self, image: &str, script: &str, options: &str) -> anyhow::Result<Output> {
        let mount = format!("{}:/krill/data{options}", self.name);
        run(&[
            "run",
            "--rm",
            "-v",
            &mount,
            "--entrypoint",
            "sh",
            image,
            "-c",
            script,
        ])
    }

    /// Every path on the volume with its type, size, mode and a content digest: what "untouched"
    /// is compared on (the gateway lock file aside). Read through a read-only mount so looking cannot change it.
    pub fn fingerprint(&self, image: &str) -> anyhow::Result<String> {
        // The gateway lock holds the PID of whoever last started; it is a lock, not data. A
        // directory's mtime moves whenever a scratch entry comes and goes in it, so directories
        // are compared on name and mode, files also on size, mtime and content.
        let script = "cd /krill/data && find . -not -path ./.krill/gateway.lock \
                      \\( -type d -printf '%y %m %p\\n' -o -printf '%y %m %s %T@ %p\\n' \\) | sort \
                      && find . -type f -not -path ./.krill/gateway.lock -exec sha256sum {} + | sort";
        let output = self.sh_mounted(image, script, ":ro")?;
        if !output.status.success() {
            bail!(
                "listing volume {}: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        // Best effort: a failed test must still report its own failure, not this one.
        let _ = docker().args(["volume", "rm", "-f", &self.name]).output();
    }
}

/// Output of a one-shot run as text, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout).trim_end(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    )
}
