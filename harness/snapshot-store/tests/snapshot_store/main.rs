//! The snapshot store against a real S3-compatible server: SeaweedFS on this host, started by
//! `scripts/tools/seaweedfs.sh` (krill_test_support::s3_server).

use std::path::Path;
use std::time::Duration;

use krill_snapshot_store::{
    Credentials, MIN_PART_SIZE, SHA256_METADATA, SnapshotKey, SnapshotStore, StoreConfig,
    StoreError,
};
use krill_test_support::{S3Server, not_run, s3_server};
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

fn server() -> Option<&'static S3Server> {
    match s3_server() {
        Ok(server) => Some(server),
        Err(why) => {
            not_run(format!("no S3 server: {why}"));
            None
        }
    }
}

fn config(server: &S3Server) -> StoreConfig {
    let mut config = StoreConfig::new(
        &server.bucket,
        Credentials {
            access_key_id: server.access_key_id.clone(),
            secret_access_key: server.secret_access_key.clone(),
            session_token: None,
        },
    );
    config.endpoint = Some(server.endpoint.clone());
    config.prefix = "tests".to_owned();
    config.part_size = MIN_PART_SIZE;
    config
}

/// Bytes that do not repeat (a weak generator is enough: only the hash has to differ).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the archive");
    path
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The raw client, to do what krill never does (tamper, plant objects).
fn raw(server: &S3Server) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&server.endpoint)
        .with_bucket_name(&server.bucket)
        .with_region("us-east-1")
        .with_access_key_id(&server.access_key_id)
        .with_secret_access_key(&server.secret_access_key)
        .with_allow_http(true)
        .build()
        .expect("raw client")
}

#[tokio::test]
async fn a_big_archive_goes_up_in_parts_and_comes_back_verified() {
    let Some(server) = server() else { return };
    let store = SnapshotStore::new(config(server)).expect("store");
    let dir = tempfile::tempdir().expect("tempdir");
    // Over two parts: three parts, the last a short one.
    let content = pseudo_random(2 * MIN_PART_SIZE + 12345, 7);
    let file = write(dir.path(), "big-20261201T120000Z.claw", &content);
    let key = SnapshotKey::new("rel", "big", "20261201T120000Z.claw").expect("key");

    let uploaded = store.upload(&file, &key).await.expect("upload");
    assert_eq!(uploaded.key, "tests/rel/big/20261201T120000Z.claw");
    assert_eq!(uploaded.parts, 3);
    assert_eq!(uploaded.bytes, content.len() as u64);
    assert_eq!(uploaded.sha256, sha256(&content));

    // The hash is the object's own metadata, there as soon as the object is.
    let got = raw(server)
        .get(&uploaded.key.as_str().into())
        .await
        .expect("get");
    let recorded = got
        .attributes
        .get(&object_store::Attribute::Metadata(SHA256_METADATA.into()))
        .map(|v| v.to_string());
    assert_eq!(recorded.as_deref(), Some(uploaded.sha256.as_str()));

    let dest = dir.path().join("back.claw");
    let downloaded = store
        .download(&uploaded.key, &dest)
        .await
        .expect("download");
    assert_eq!(downloaded.sha256, uploaded.sha256);
    assert_eq!(std::fs::read(&dest).expect("read back"), content);
}

#[tokio::test]
async fn listing_latest_and_retention_in_the_bucket() {
    let Some(server) = server() else { return };
    let store = SnapshotStore::new(config(server)).expect("store");
    let dir = tempfile::tempdir().expect("tempdir");
    let stamps = [
        "20261201T100000Z.claw",
        "20261201T100000Z-1.claw",
        "20261201T110000Z.claw",
        "20261202T090000Z.claw",
    ];
    for (i, archive) in stamps.iter().enumerate() {
        let file = write(dir.path(), archive, &pseudo_random(1000 + i, i as u64));
        let key = SnapshotKey::new("rel", "keeper", archive).expect("key");
        store.upload(&file, &key).await.expect("upload");
    }
    // Not a copy: listed by S3, never by krill, never deleted by retention.
    let stranger = "tests/rel/keeper/notes.txt";
    raw(server)
        .put(&stranger.into(), "hello".into())
        .await
        .expect("plant");
    // Another krill's copy, whose name starts like this one's.
    let other = write(dir.path(), "other.claw", b"other");
    store
        .upload(
            &other,
            &SnapshotKey::new("rel", "keeper-2", "20261203T000000Z.claw").expect("key"),
        )
        .await
        .expect("upload");

    let listed: Vec<String> = store
        .list("rel", "keeper")
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.archive)
        .collect();
    assert_eq!(listed, stamps);
    let latest = store.latest("rel", "keeper").await.expect("latest");
    assert_eq!(latest.archive, "20261202T090000Z.claw");

    let newest = SnapshotKey::new("rel", "keeper", "20261202T090000Z.claw").expect("key");
    let deleted = store.apply_retention(&newest, 2).await.expect("retention");
    assert_eq!(
        deleted,
        [
            "tests/rel/keeper/20261201T100000Z.claw",
            "tests/rel/keeper/20261201T100000Z-1.claw"
        ]
    );
    let left: Vec<String> = store
        .list("rel", "keeper")
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.archive)
        .collect();
    assert_eq!(left, ["20261201T110000Z.claw", "20261202T090000Z.claw"]);
    raw(server)
        .head(&stranger.into())
        .await
        .expect("the stranger is still there");
    assert_eq!(store.list("rel", "keeper-2").await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_tampered_or_unhashed_object_is_refused_and_nothing_is_written() {
    let Some(server) = server() else { return };
    let store = SnapshotStore::new(config(server)).expect("store");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "a.claw", &pseudo_random(4096, 3));
    let key = SnapshotKey::new("rel", "tampered", "20261201T120000Z.claw").expect("key");
    let uploaded = store.upload(&file, &key).await.expect("upload");

    // Same recorded hash, other bytes.
    let mut attributes = object_store::Attributes::new();
    attributes.insert(
        object_store::Attribute::Metadata(SHA256_METADATA.into()),
        uploaded.sha256.clone().into(),
    );
    let options = object_store::PutOptions {
        attributes,
        ..Default::default()
    };
    raw(server)
        .put_opts(
            &uploaded.key.as_str().into(),
            pseudo_random(4096, 4).into(),
            options,
        )
        .await
        .expect("tamper");
    let dest = dir.path().join("restored.claw");
    let err = store.download(&uploaded.key, &dest).await.unwrap_err();
    assert!(matches!(err, StoreError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&uploaded.key), "{err}");
    assert!(!dest.exists(), "a refused download left {}", dest.display());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".download-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Written by something else than krill: no hash, no trust.
    let unhashed = "tests/rel/tampered/20261201T130000Z.claw";
    raw(server)
        .put(&unhashed.into(), pseudo_random(100, 5).into())
        .await
        .expect("plant");
    let err = store.download(unhashed, &dest).await.unwrap_err();
    assert!(matches!(err, StoreError::NoHash { .. }), "{err}");
    assert!(!dest.exists());
}

#[tokio::test]
async fn missing_objects_and_empty_folders_say_where_they_looked() {
    let Some(server) = server() else { return };
    let store = SnapshotStore::new(config(server)).expect("store");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = store
        .download(
            "tests/rel/nobody/20261201T120000Z.claw",
            &dir.path().join("x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("s3://krill-snapshots/tests/rel/nobody/20261201T120000Z.claw")
            && text.contains(&server.endpoint),
        "{text}"
    );
    let err = store.latest("rel", "nobody").await.unwrap_err();
    assert!(matches!(err, StoreError::NoSnapshots { .. }), "{err}");
    assert!(err.to_string().contains("tests/rel/nobody/"), "{err}");
}

#[tokio::test]
async fn wrong_credentials_are_named_as_the_cause() {
    let Some(server) = server() else { return };
    let mut config = config(server);
    config.credentials.secret_access_key = "not-the-secret".to_owned();
    config.max_retries = 0;
    let store = SnapshotStore::new(config).expect("store");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "a.claw", b"archive");
    let key = SnapshotKey::new("rel", "wrong", "20261201T120000Z.claw").expect("key");
    let err = store.upload(&file, &key).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Request { .. }), "{text}");
    assert!(
        text.contains("refused the credentials") && text.contains("tests/rel/wrong/"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_fast_naming_it() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut config = StoreConfig::new(
        "krill-snapshots",
        Credentials {
            access_key_id: "a".to_owned(),
            secret_access_key: "b".to_owned(),
            session_token: None,
        },
    );
    config.endpoint = Some(format!("http://127.0.0.1:{port}"));
    config.connect_timeout = Duration::from_secs(2);
    config.max_retries = 1;
    config.retry_timeout = Duration::from_secs(5);
    let store = SnapshotStore::new(config).expect("store");
    let started = std::time::Instant::now();
    let err = store.latest("rel", "alice").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("did not answer"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
