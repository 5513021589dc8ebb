//! The durable store: SQLite (embedded default) or PostgreSQL, same queries, one set of
//! migrations with per-dialect pieces (see `core/build.rs`).
//!
//! Queries use `$n` placeholders, which both SQLite and PostgreSQL accept, and portable SQL
//! (`ON CONFLICT … DO NOTHING`, `RETURNING`), so one code path serves both backends.

pub mod lease;

use std::{sync::LazyLock, time::Duration};

use sqlx::{
    AnyPool, Executor, SqlSafeStr,
    any::AnyPoolOptions,
    migrate::{MigrateError, Migration, MigrationType, Migrator},
};

/// Each dialect's migrations, built by `core/build.rs` from the one set in `core/migrations/`.
mod migrations {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

static SQLITE_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| embedded(migrations::SQLITE));
static POSTGRES_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| embedded(migrations::POSTGRES));

fn embedded(migrations: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, description.into(), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

/// The migrations of `backend`, in order.
fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store failure; the message names what was being done, never the data involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {0}. Check [database] url and that the server is running")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("unsupported database url: use sqlite:… or postgres://…")]
    Scheme,
    #[error("local file: {0}")]
    Io(String),
    /// A stored record Relais cannot read: never taken for an empty one.
    #[error("unreadable record in the database: {0}")]
    Corrupt(String),
    /// A fenced write found its lease held by someone else (or expired): nothing was written.
    #[error("this process no longer holds the lease {0}; nothing was written")]
    LeaseLost(String),
}

impl StoreError {
    /// A stored JSON document `what` that does not decode. Says where and how it is wrong,
    /// never what it holds (serde's own message quotes the offending value: a name, an address).
    pub fn unreadable_json(what: &str, error: &serde_json::Error) -> Self {
        Self::Corrupt(format!("{what}: {}", crate::json::error_without_data(error)))
    }
}

/// Handle to the database; cheap to clone, safe to share between tasks and workers.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`) with at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Scheme);
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; the busy timeout makes concurrent
                        // writers wait instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    } else {
                        // A process stalled inside a transaction (a frozen VM) would hold its
                        // locks — the provisioning lease's row among them — until TCP gave up.
                        // Relais never waits inside a transaction: one idle a minute is dead.
                        conn.execute("SET idle_in_transaction_session_timeout = '60s'").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Self { pool, backend })
    }

    /// Connects and brings the schema up to date.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::connect(url, max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    /// Applies the migrations up to `version` only: tests of a migration on older data.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        migrator(self.backend).run_to(version, &self.pool).await?;
        Ok(())
    }

    /// A round trip to the database, for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for the ones in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The connection pool, for the features' own store modules (each feature owns the SQL of
    /// its tables; core keeps the pool, the transactions and the migrations).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

#[cfg(test)]
mod lease_tests;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod tests;
