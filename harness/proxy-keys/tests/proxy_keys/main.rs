//! krill-proxy-keys against the real LiteLLM proxy and a real PostgreSQL server.
mod world;

use std::time::Duration;

use krill_proxy_keys::{Ensured, KeyPolicy, KrillId, ProxyAdmin, ProxyKeysError};
use krill_stand_in::{Script, StandIn};
use world::{COST_PER_TURN, MASTER_KEY, Postgres, Proxy};

const READY: Duration = Duration::from_secs(180);

async fn stand_in() -> StandIn {
    StandIn::start("127.0.0.1:0".parse().expect("addr"), Script::default())
        .await
        .expect("stand-in")
}

fn key(n: u8) -> String {
    format!("sk-krill-test-{n:02}-0123456789abcdef0123456789")
}

fn only(model: &str) -> KeyPolicy {
    KeyPolicy {
        models: vec![model.to_owned()],
        ..KeyPolicy::default()
    }
}

#[test]
fn postgresql_from_debians_package_serves_sql() {
    let pg = Postgres::start();
    pg.sql("postgres", "CREATE DATABASE litellm");
    assert_eq!(
        pg.sql(
            "litellm",
            "SELECT current_database() || ' ' || current_user"
        ),
        "litellm krill"
    );
    assert!(
        pg.sql("postgres", "SHOW server_version").starts_with(
            &krill_test_support::Versions::load()
                .expect("pins")
                .get("POSTGRESQL_MAJOR")
                .expect("POSTGRESQL_MAJOR")
                .to_owned()
        )
    );
}

/// What a keeper sees when the proxy has no database: a typed error naming the fix, not a
/// mystery 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_without_a_database_refuses_minting_with_the_fix() {
    let upstream = stand_in().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = Proxy::start(dir.path(), &upstream.base_url(), None);
    proxy.wait_ready(READY).await;
    let admin = ProxyAdmin::new(proxy.base_url(), MASTER_KEY).expect("client");
    let krill = KrillId::new("test", "alice");
    let err = admin
        .ensure_key(&krill, &key(1), &only("model-a"))
        .await
        .expect_err("no database, no keys");
    assert!(
        matches!(err, ProxyKeysError::NoDatabase { .. }),
        "want NoDatabase, got {err:?}"
    );
    assert!(err.to_string().contains("apiServer.database"), "{err}");
    // Without a database LiteLLM cannot look up any other key, so a wrong master key is
    // refused too (and said to need the database), never let through.
    let intruder =
        ProxyAdmin::new(proxy.base_url(), "sk-not-the-master-key-000000000000").expect("client");
    let err = intruder
        .ensure_key(&krill, &key(1), &only("model-a"))
        .await
        .expect_err("wrong master key");
    assert!(
        matches!(err, ProxyKeysError::NoDatabase { .. }),
        "want NoDatabase, got {err:?}"
    );
}

/// Everything the keeper relies on, in one proxy life and the next: scope, budget, revocation,
/// restart, spend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_krill_keys_scope_budget_revoke_survive_restart_and_report_spend() {
    if let Some(reason) = world::litellm_database_missing() {
        krill_test_support::not_run(reason);
        return;
    }
    let pg = Postgres::start();
    pg.sql("postgres", "CREATE DATABASE litellm");
    let upstream = stand_in().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = pg.url("litellm");
    let mut proxy = Proxy::start(dir.path(), &upstream.base_url(), Some(&url));
    proxy.wait_ready(READY).await;
    let admin = ProxyAdmin::new(proxy.base_url(), MASTER_KEY).expect("client");
    let intruder =
        ProxyAdmin::new(proxy.base_url(), "sk-not-the-master-key-000000000000").expect("client");
    let err = intruder
        .ensure_key(&KrillId::new("test", "mallory"), &key(9), &only("model-a"))
        .await
        .expect_err("wrong master key");
    assert!(
        matches!(err, ProxyKeysError::Refused { status: 401, .. }),
        "want 401, got {err:?}"
    );

    let alice = KrillId::new("test", "alice");
    let bob = KrillId::new("test", "bob");
    let carol = KrillId::new("test", "carol");
    // Alice may spend one turn and a half: her second turn is allowed, her third is not.
    let alice_policy = KeyPolicy {
        max_budget: Some(COST_PER_TURN * 1.5),
        ..only("model-a")
    };
    assert_eq!(
        admin
            .ensure_key(&alice, &key(1), &alice_policy)
            .await
            .expect("mint"),
        Ensured::Created
    );
    assert_eq!(
        admin
            .ensure_key(&alice, &key(1), &alice_policy)
            .await
            .expect("again"),
        Ensured::Updated,
        "minting twice keeps the key"
    );
    admin
        .ensure_key(&bob, &key(2), &only("model-a"))
        .await
        .expect("mint bob");
    admin
        .ensure_key(&carol, &key(3), &only("model-b"))
        .await
        .expect("mint carol");

    // Scope: a key works for its model and is refused for another.
    assert_eq!(proxy.turn(&key(2), "model-a").await.0, 200);
    let (status, body) = proxy.turn(&key(2), "model-b").await;
    assert!(
        status == 401 || status == 403,
        "bob's key must not reach model-b: {status} {body}"
    );

    // Budget: alice runs out, with an error saying so; bob keeps working.
    assert_eq!(proxy.turn(&key(1), "model-a").await.0, 200);
    assert_eq!(proxy.turn(&key(1), "model-a").await.0, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = proxy.turn(&key(1), "model-a").await;
    assert!(
        status >= 400 && body.to_lowercase().contains("budget"),
        "alice over budget must be told: {status} {body}"
    );
    assert_eq!(proxy.turn(&key(2), "model-a").await.0, 200);

    // Revoking carol cuts off carol alone.
    assert!(admin.revoke(&carol).await.expect("revoke"));
    assert!(!admin.revoke(&carol).await.expect("revoke twice"));
    assert_eq!(proxy.turn(&key(3), "model-b").await.0, 401);
    assert_eq!(proxy.turn(&key(2), "model-a").await.0, 200);

    // A restarted proxy knows the keys and the spend (bob: 3 turns).
    drop(proxy);
    proxy = Proxy::start(dir.path(), &upstream.base_url(), Some(&url));
    proxy.wait_ready(READY).await;
    let admin = ProxyAdmin::new(proxy.base_url(), MASTER_KEY).expect("client");
    assert_eq!(proxy.turn(&key(2), "model-a").await.0, 200);
    assert_eq!(proxy.turn(&key(3), "model-b").await.0, 401);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bob_spend = admin.spend(&bob).await.expect("spend").expect("bob's key");
    assert!(
        (bob_spend - 4.0 * COST_PER_TURN).abs() < 1e-6,
        "bob made 4 turns: spend {bob_spend}"
    );
    assert_eq!(admin.spend(&carol).await.expect("spend"), None);
}
