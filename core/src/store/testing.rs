//! Store test support, for core's tests and every feature's (`relais-core` with the
//! `test-support` feature): each test runs once on embedded SQLite and once on PostgreSQL.
//!
//! PostgreSQL is reached at `RELAIS_TEST_POSTGRES_URL` (default: the local server with trust
//! auth); each test creates and drops its own database. A missing server fails the test: the
//! suite's script starts one.

use std::future::Future;

use sqlx::{Connection, Executor};

use super::{Store, lease::Fence};

/// Takes the lease `name` for the test (an hour) and returns its fence, for writes that need it.
pub async fn fence(store: &Store, name: &str) -> Fence {
    let taken = store.lease_try_acquire(name, "test", 3_600_000).await.expect("taking the lease");
    assert!(taken, "the lease {name} is free at the start of a test");
    Fence::new(name, "test")
}

fn admin_url() -> String {
    std::env::var("RELAIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Runs `body` once on a fresh SQLite file and once on a fresh PostgreSQL database.
pub async fn on_both<F, Fut>(body: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    on_both_at(None, body).await;
}

/// [`on_both`] with the schema as migration `version` left it (`None`: up to date).
pub async fn on_both_at<F, Fut>(version: Option<i64>, body: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let open = |url: String| async move {
        match version {
            None => Store::open(&url, 4).await,
            Some(version) => {
                let store = Store::connect(&url, 4).await?;
                store.migrate_to(version).await.map(|()| store)
            }
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = open(url).await.expect("sqlite store opens");
    body(store.clone()).await;
    store.close().await;

    sqlx::any::install_default_drivers();
    let admin = admin_url();
    let name = format!("relais_test_{}", rand::random::<u64>());
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .expect("PostgreSQL must run for the store tests (set RELAIS_TEST_POSTGRES_URL)");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create db");
    let (base, _) = admin.rsplit_once('/').expect("admin url has a database path");
    let store = open(format!("{base}/{name}")).await.expect("postgres store opens");
    body(store.clone()).await;
    store.close().await;
    conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).await.expect("drop db");
}
