//! The test PostgreSQL image (`krill-test-postgres`, standing in for the upstream postgres image
//! the chart's `apiServer.database.postgres` deploys) run the way that StatefulSet runs it: uid
//! 1000, read-only root, no capabilities, writable only the data volume, /var/run/postgresql and
//! /tmp, the chart's POSTGRES_* and PGDATA.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use krill_image_tests::docker::{self, describe};
use krill_image_tests::unique_name;

const PASSWORD: &str = "a-generated-password-0123456789abcdef";

fn image() -> String {
    match std::env::var("KRILL_TEST_POSTGRES_IMAGE") {
        Ok(image) if !image.trim().is_empty() => image.trim().to_owned(),
        _ => panic!(
            "KRILL_TEST_POSTGRES_IMAGE is not set; it names the test PostgreSQL image. Run the \
             tests through `scripts/dev test image` (build_test_images builds and exports it)"
        ),
    }
}

/// A container and its data volume, removed when dropped.
struct Database {
    container: String,
    volume: String,
}

impl Database {
    fn start(image: &str) -> anyhow::Result<Self> {
        let volume = unique_name("krill-pg-data");
        let container = unique_name("krill-pg");
        docker::checked(&[
            "volume",
            "create",
            "--label",
            "dev.krill.test=image",
            &volume,
        ])?;
        let db = Database { container, volume };
        // What the pod's fsGroup does: the volume belongs to the chart's group.
        let mount = format!("{}:/data", db.volume);
        docker::checked(&[
            "run",
            "--rm",
            "--user",
            "0",
            "-v",
            &mount,
            "--entrypoint",
            "chown",
            image,
            "1000:1000",
            "/data",
        ])?;
        db.run(image)?;
        Ok(db)
    }

    fn run(&self, image: &str) -> anyhow::Result<()> {
        let mount = format!("{}:/var/lib/postgresql/data", self.volume);
        let password = format!("POSTGRES_PASSWORD={PASSWORD}");
        docker::checked(&[
            "run",
            "-d",
            "--name",
            &self.container,
            "--read-only",
            "--user",
            "1000:1000",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/var/run/postgresql:uid=1000,gid=1000",
            "-e",
            "POSTGRES_USER=litellm",
            "-e",
            "POSTGRES_DB=litellm",
            "-e",
            &password,
            "-e",
            "PGDATA=/var/lib/postgresql/data/pgdata",
            "-v",
            &mount,
            image,
        ])?;
        self.wait_ready()
    }

    /// The chart's startup probe, then a query over TCP with the password.
    fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let probe = docker::run(&[
                "exec",
                &self.container,
                "pg_isready",
                "-h",
                "127.0.0.1",
                "-U",
                "litellm",
                "-d",
                "litellm",
            ])?;
            if probe.status.success() && self.sql(PASSWORD, "SELECT 1").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let logs = docker::run(&["logs", &self.container])?;
                bail!("PostgreSQL not ready after 90 s: {}", describe(&logs));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn sql(&self, password: &str, statement: &str) -> anyhow::Result<String> {
        let env = format!("PGPASSWORD={password}");
        let output = docker::run(&[
            "exec",
            "-e",
            &env,
            &self.container,
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "litellm",
            "-d",
            "litellm",
            "-Atc",
            statement,
        ])?;
        if !output.status.success() {
            bail!("psql {statement}: {}", describe(&output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn restart(&self, image: &str) -> anyhow::Result<()> {
        docker::checked(&["rm", "-f", &self.container])?;
        self.run(image)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = docker::run(&["rm", "-f", &self.container]);
        let _ = docker::run(&["volume", "rm", "-f", &self.volume]);
    }
}

#[test]
fn the_test_postgres_runs_restricted_admits_only_its_password_and_keeps_data() -> anyhow::Result<()>
{
    let image = image();
    let db = Database::start(&image).context("starting PostgreSQL as the chart does")?;
    assert_eq!(
        db.sql(PASSWORD, "SELECT current_user || ' ' || current_database()")?,
        "litellm litellm"
    );
    let refused = db
        .sql("not-the-password", "SELECT 1")
        .expect_err("a wrong password");
    assert!(
        refused
            .to_string()
            .contains("password authentication failed"),
        "{refused}"
    );
    db.sql(
        PASSWORD,
        "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')",
    )?;
    // A new container on the same volume: the pod replaced, the volume kept.
    db.restart(&image)?;
    assert_eq!(db.sql(PASSWORD, "SELECT v FROM kept")?, "survives");
    Ok(())
}
