//! Copies off the node through the real `krill` binary and a real S3 server (SeaweedFS, started
//! by scripts/tools/seaweedfs.sh): `krill snapshot` uploads, `krill fetch-init-claw` downloads a
//! krill's latest copy for another krill's first start, and what does not verify is refused
//! before the volume is touched.

use crate::common;

use std::fs;

use common::{Volume, tree};
use krill_test_support::{S3Server, not_run, s3_server};
use object_store::{ObjectStore, ObjectStoreExt};

fn server() -> Option<&'static S3Server> {
    match s3_server() {
        Ok(server) => Some(server),
        Err(why) => {
            not_run(format!("no S3 server: {why}"));
            None
        }
    }
}

/// The variables the chart gives the snapshot sidecar (and the init container).
fn store_env(server: &S3Server, release: &str) -> Vec<(&'static str, String)> {
    vec![
        ("KRILL_OBJECT_STORE_ENDPOINT", server.endpoint.clone()),
        ("KRILL_OBJECT_STORE_BUCKET", server.bucket.clone()),
        ("KRILL_OBJECT_STORE_PREFIX", "helper".to_owned()),
        ("KRILL_OBJECT_STORE_KEEP", "1".to_owned()),
        ("KRILL_RELEASE", release.to_owned()),
        ("AWS_ACCESS_KEY_ID", server.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", server.secret_access_key.clone()),
    ]
}

/// stdout's JSON lines.
fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn snapshot(volume: &Volume, env: &[(&str, String)]) -> std::process::Output {
    let out = volume.path("snapshots");
    volume
        .krill(&["snapshot", "--out", out.to_str().expect("utf-8")])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run krill snapshot")
}

fn notes(volume: &Volume, text: &str) {
    let workspace = volume.paths().workspace();
    fs::create_dir_all(&workspace).expect("mkdir");
    fs::write(workspace.join("NOTES.md"), text).expect("write");
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_snapshot_goes_to_the_bucket_and_another_krill_starts_from_the_latest_copy() {
    let Some(server) = server() else { return };
    let env = store_env(server, "copies");
    let alice = Volume::new();
    notes(&alice, "first draft\n");
    let first = snapshot(&alice, &env);
    assert!(first.status.success(), "{}", stderr(&first));
    let lines = json_lines(&first.stdout);
    assert_eq!(lines[0]["outcome"], "written", "{lines:?}");
    assert_eq!(lines[1]["offsite"], "uploaded", "{lines:?}");
    let first_key = lines[1]["key"].as_str().expect("key").to_owned();
    assert!(first_key.starts_with("helper/copies/alice/"), "{first_key}");

    notes(&alice, "second draft\n");
    let second = snapshot(&alice, &env);
    assert!(second.status.success(), "{}", stderr(&second));
    let lines = json_lines(&second.stdout);
    assert_eq!(lines[1]["offsite"], "uploaded", "{lines:?}");
    // keep 1 in the bucket: the first copy went; both stay on the node (local retention is its own).
    assert_eq!(lines[1]["deleted"], serde_json::json!([first_key]));
    assert_eq!(
        fs::read_dir(alice.path("snapshots")).expect("ls").count(),
        2
    );

    // Nothing new: the bucket is not asked to store it again.
    let again = snapshot(&alice, &env);
    let lines = json_lines(&again.stdout);
    assert_eq!(lines[1]["offsite"], "up_to_date", "{lines:?}");

    // Bob's first start restores alice's latest copy.
    let bob = Volume::new();
    let object = format!("s3://{}/helper/copies/alice/latest", server.bucket);
    let with_object = |command: &mut std::process::Command| {
        command
            .env("KRILL_NAME", "bob")
            .env("KRILL_INIT_CLAW_OBJECT", &object);
    };
    let mut fetch = bob.krill(&["fetch-init-claw"]);
    fetch.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    with_object(&mut fetch);
    let fetched = fetch.output().expect("run fetch-init-claw");
    assert!(fetched.status.success(), "{}", stderr(&fetched));
    let download = &json_lines(&fetched.stdout)[0];
    assert_eq!(download["key"], lines[1]["key"]);
    assert!(bob.paths().fetched_init_claw().is_file());

    // The krill container: no bucket settings, no credentials, only which object it was.
    let mut prepare = bob.krill(&["prepare"]);
    with_object(&mut prepare);
    let prepared = prepare.output().expect("run prepare");
    assert!(prepared.status.success(), "{}", stderr(&prepared));
    let restored = fs::read_to_string(bob.paths().workspace().join("NOTES.md")).expect("notes");
    assert_eq!(restored, "second draft\n");
    assert!(
        !bob.paths().fetched_init_claw().exists(),
        "the download is removed once restored"
    );

    // Set up now: a restart downloads nothing.
    let mut fetch = bob.krill(&["fetch-init-claw"]);
    fetch.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    with_object(&mut fetch);
    let skipped = fetch.output().expect("run fetch-init-claw");
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    assert!(
        stderr(&skipped).contains("is not needed"),
        "{}",
        stderr(&skipped)
    );
    assert!(!bob.paths().fetched_init_claw().exists());
}

#[test]
fn a_failed_upload_keeps_the_local_snapshot_and_says_why() {
    let Some(server) = server() else { return };
    let mut env = store_env(server, "refused");
    for (name, value) in &mut env {
        if *name == "AWS_SECRET_ACCESS_KEY" {
            *value = "not-the-secret".to_owned();
        }
    }
    let alice = Volume::new();
    notes(&alice, "work\n");
    let output = snapshot(&alice, &env);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("refused the credentials"), "{text}");
    let lines = json_lines(&output.stdout);
    assert_eq!(lines[0]["outcome"], "written", "{lines:?}");
    let local = lines[0]["path"].as_str().expect("path");
    assert!(std::path::Path::new(local).is_file(), "{local} was removed");
}

#[test]
fn a_tampered_copy_is_refused_before_the_volume_is_touched() {
    let Some(server) = server() else { return };
    let env = store_env(server, "tampered");
    let alice = Volume::new();
    notes(&alice, "genuine\n");
    let output = snapshot(&alice, &env);
    assert!(output.status.success(), "{}", stderr(&output));
    let key = json_lines(&output.stdout)[1]["key"]
        .as_str()
        .expect("key")
        .to_owned();

    // Other bytes under the recorded hash.
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&server.endpoint)
        .with_bucket_name(&server.bucket)
        .with_region("us-east-1")
        .with_access_key_id(&server.access_key_id)
        .with_secret_access_key(&server.secret_access_key)
        .with_allow_http(true)
        .build()
        .expect("client");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let location = object_store::path::Path::from(key.as_str());
        let original = raw.get(&location).await.expect("get");
        let attributes = original.attributes.clone();
        let mut bytes = original.bytes().await.expect("bytes").to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let options = object_store::PutOptions {
            attributes,
            ..Default::default()
        };
        raw.put_opts(&location, bytes.into(), options)
            .await
            .expect("tamper");
    });

    // A new krill (an empty volume: one with data would be adopted, not restored).
    let bob = Volume::new();
    let object = format!("s3://{}/{key}", server.bucket);
    let fetched = bob
        .krill(&["fetch-init-claw"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("KRILL_NAME", "bob")
        .env("KRILL_INIT_CLAW_OBJECT", &object)
        .output()
        .expect("run fetch-init-claw");
    assert!(!fetched.status.success());
    let text = stderr(&fetched);
    assert!(
        text.contains("does not match its recorded SHA-256") && text.contains(&key),
        "{text}"
    );
    // Only the (empty) bookkeeping folder may have appeared; nothing of the archive.
    assert!(!bob.paths().fetched_init_claw().exists());
    let after: Vec<_> = tree(&bob.data())
        .into_iter()
        .filter(|(p, _)| !p.as_os_str().is_empty() && p.as_path() != std::path::Path::new(".krill"))
        .collect();
    assert!(
        after.is_empty(),
        "{:?}",
        after.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );

    // And the start that would have restored it refuses rather than starting empty.
    let prepared = bob
        .krill(&["prepare"])
        .env("KRILL_NAME", "bob")
        .env("KRILL_INIT_CLAW_OBJECT", &object)
        .output()
        .expect("run prepare");
    assert!(!prepared.status.success());
    assert!(
        stderr(&prepared).contains("fetch-init-claw"),
        "{}",
        stderr(&prepared)
    );
    assert!(!bob.paths().workspace().join("NOTES.md").exists());
}

/// Waits for a line containing `needle` on `lines`, keeping what it read in `seen`.
fn wait_for(
    lines: &std::sync::mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    needle: &str,
    timeout: std::time::Duration,
) {
    let deadline = std::time::Instant::now() + timeout;
    while !seen.iter().any(|l| l.contains(needle)) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no {needle:?} within {timeout:?}:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn the_loop_keeps_going_when_the_bucket_fails_and_the_next_round_uploads() {
    use std::io::BufRead;
    let Some(server) = server() else { return };
    // A bucket that does not exist yet: every round fails until it does.
    let bucket = format!("krill-late-{}", std::process::id());
    let mut env = store_env(server, "late");
    for (name, value) in &mut env {
        if *name == "KRILL_OBJECT_STORE_BUCKET" {
            *value = bucket.clone();
        }
    }
    let alice = Volume::new();
    notes(&alice, "work\n");
    let out = alice.path("snapshots");
    let mut child = alice
        .krill(&[
            "snapshot",
            "--out",
            out.to_str().expect("utf-8"),
            "--every",
            "1s",
            "--first-after",
            "0s",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the loop");
    let stderr = child.stderr.take().expect("stderr");
    let mut running = common::Running {
        name: "krill snapshot --every",
        child,
    };
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let minute = std::time::Duration::from_secs(60);
    wait_for(&lines, &mut seen, "the copy off the node failed", minute);
    assert!(
        seen.iter().any(|l| l.contains("the bucket does not exist")),
        "{}",
        seen.join("\n")
    );
    // Failed rounds keep the local snapshot.
    assert_eq!(fs::read_dir(&out).expect("ls").count(), 1);

    let created = std::process::Command::new("bash")
        .arg(krill_test_support::repo_root().join("scripts/tools/seaweedfs.sh"))
        .args([
            "bucket",
            &server.endpoint,
            &server.access_key_id,
            &server.secret_access_key,
            &bucket,
        ])
        .status()
        .expect("run seaweedfs.sh bucket");
    assert!(created.success());
    wait_for(
        &lines,
        &mut seen,
        &format!("copied to s3://{bucket}/helper/late/alice/"),
        minute,
    );
    let status = running
        .terminate(std::time::Duration::from_secs(30))
        .expect("the loop ends on SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn krill_restore_takes_a_krills_latest_copy_from_the_bucket() {
    let Some(server) = server() else { return };
    let env = store_env(server, "by-hand");
    let alice = Volume::new();
    notes(&alice, "restore me\n");
    let output = snapshot(&alice, &env);
    assert!(output.status.success(), "{}", stderr(&output));

    let carol = Volume::new();
    notes(&carol, "to be replaced\n");
    let object = format!("s3://{}/helper/by-hand/alice/latest", server.bucket);
    let restored = carol
        .krill(&["restore", &object])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("KRILL_NAME", "carol")
        .output()
        .expect("run krill restore");
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert_eq!(
        fs::read_to_string(carol.paths().workspace().join("NOTES.md")).expect("notes"),
        "restore me\n"
    );
    assert!(
        !carol
            .paths()
            .bookkeeping()
            .join("fetched-restore.claw")
            .exists()
    );

    // Without the bucket's settings it says what is missing.
    let refused = carol
        .krill(&["restore", &object])
        .env("KRILL_NAME", "carol")
        .output()
        .expect("run krill restore");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("KRILL_OBJECT_STORE_BUCKET"),
        "{}",
        stderr(&refused)
    );
}
