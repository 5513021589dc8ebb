//! Named leases: work that must never run twice at once is done by one holder at a time, across
//! every process sharing the database (several `relais serve` nodes, the CLI).
//!
//! A lease is taken for a time to live and renewed while held ([`Lease`] renews it in the
//! background every third of it). A holder that was killed stops renewing: once its lease has
//! expired, the next caller takes over. A holder whose renewal is refused (someone took over) or
//! keeps failing learns it through [`Lease::is_lost`] and must stop before its next step.
//! Expiry is judged on the database's clock, never a node's: a node whose clock runs ahead
//! cannot take over a live holder. A holder counts its lease as valid for two thirds of its time
//! to live from the moment it last asked for it (its own monotonic clock), so it stops before
//! anyone else can take it over, even when a renewal hangs.

use std::time::Duration;

use sqlx::{Any, AnyConnection, Row, Transaction, pool::PoolConnection};
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::{Backend, Store, StoreError};

/// The longest wait between two attempts of [`Lease::acquire`].
const MAX_POLL: Duration = Duration::from_secs(5);
/// The first wait of [`Lease::acquire`], doubled after each attempt.
const FIRST_POLL: Duration = Duration::from_millis(200);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The database's clock in ms since the epoch, as SQL for each backend.
macro_rules! sqlite_now {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS BIGINT)"
    };
}
macro_rules! postgres_now {
    () => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    };
}
/// `$sql` with `NOW` (a literal placeholder split out by the caller) as each backend's clock.
macro_rules! on_db_clock {
    ($backend:expr, $before:literal, $after:literal) => {
        match $backend {
            Backend::Sqlite => concat!($before, sqlite_now!(), $after),
            Backend::Postgres => concat!($before, postgres_now!(), $after),
        }
    };
    ($backend:expr, $before:literal, $middle:literal, $after:literal) => {
        match $backend {
            Backend::Sqlite => concat!($before, sqlite_now!(), $middle, sqlite_now!(), $after),
            Backend::Postgres => concat!($before, postgres_now!(), $middle, postgres_now!(), $after),
        }
    };
}

impl Store {
    /// Takes the lease `name` for `holder` until `ttl_ms` from now, in one statement: only if
    /// nobody holds it, its holder's time has passed, or `holder` already holds it.
    pub async fn lease_try_acquire(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        lease_try_acquire_on(&mut conn, self.backend(), name, holder, ttl_ms).await
    }

    /// Extends `holder`'s lease to `ttl_ms` from now; `false`: it is someone else's now.
    pub async fn lease_renew(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        lease_renew_on(&mut conn, self.backend(), name, holder, ttl_ms).await
    }

    /// Gives the lease up if `holder` still holds it; `false`: it was not theirs any more.
    pub async fn lease_release(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Begins a transaction whose first statement proves that `fence`'s holder still holds its
    /// lease on the database's clock, so every write in it is the holder's. The check locks the
    /// lease's row (PostgreSQL) or the database (SQLite) until the transaction ends: nobody can
    /// take the lease over between the check and the commit. [`StoreError::LeaseLost`] (and
    /// nothing begun) when the lease is someone else's or has expired.
    pub async fn begin_fenced(&self, fence: &Fence) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let sql = on_db_clock!(
            self.backend(),
            "UPDATE leases SET holder = holder WHERE name = $1 AND holder = $2 AND expires_at > ",
            ""
        );
        let done = sqlx::query(sql).bind(&fence.name).bind(&fence.holder).execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(StoreError::LeaseLost(fence.name.clone()));
        }
        Ok(tx)
    }

    /// Who holds the lease `name` and until when (ms), if it is held and not expired.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<(String, i64)>, StoreError> {
        let sql = on_db_clock!(
            self.backend(),
            "SELECT holder, expires_at FROM leases WHERE name = $1 AND expires_at >= ",
            ""
        );
        let row = sqlx::query(sql).bind(name).fetch_optional(self.pool()).await?;
        Ok(row.map(|r| Ok::<_, sqlx::Error>((r.try_get("holder")?, r.try_get("expires_at")?))).transpose()?)
    }
}

/// [`Store::lease_try_acquire`] on the connection `conn`.
async fn lease_try_acquire_on(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    let sql = on_db_clock!(
        backend,
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, ",
        " + $3) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.expires_at < ",
        " OR leases.holder = excluded.holder RETURNING holder"
    );
    let row = sqlx::query(sql).bind(name).bind(holder).bind(ttl_ms).fetch_optional(conn).await?;
    Ok(row.is_some())
}

/// [`Store::lease_renew`] on the connection `conn`.
async fn lease_renew_on(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    let sql =
        on_db_clock!(backend, "UPDATE leases SET expires_at = ", " + $1 WHERE name = $2 AND holder = $3");
    let done = sqlx::query(sql).bind(ttl_ms).bind(name).bind(holder).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// What a holder knows of its lease: refused (someone else holds it), or valid until when.
#[derive(Debug, Clone, Copy)]
struct Standing {
    lost: bool,
    valid_until: Instant,
}

impl Standing {
    fn is_lost(&self) -> bool {
        self.lost || Instant::now() >= self.valid_until
    }
}

/// How long a lease asked for at `asked` is certainly ours: two thirds of its time to live (the
/// last third is the margin for the database round trip and the others' polling).
fn valid_from(asked: Instant, ttl: Duration) -> Instant {
    asked + ttl * 2 / 3
}

/// What a leased write carries to prove it is the holder's: [`Store::begin_fenced`] checks it
/// in the write's own transaction. A holder that stalled (a suspended VM, a starved runtime, a
/// slow disk) past its lease cannot write over its successor's work, even before its
/// renewer notices the loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    name: String,
    holder: String,
}

impl Fence {
    /// The fence of `holder`'s lease `name` (tests and tools; holders get theirs from [`Lease`]).
    pub fn new(name: &str, holder: &str) -> Self {
        Self { name: name.to_owned(), holder: holder.to_owned() }
    }
}

/// Whether a lease was lost; cheap to clone into the tasks doing the leased work.
#[derive(Debug, Clone)]
pub struct LeaseWatch {
    standing: watch::Receiver<Standing>,
    fence: Fence,
}

impl LeaseWatch {
    /// The fence for this lease's writes.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// The lease is no longer certainly ours: stop before the next step.
    pub fn is_lost(&self) -> bool {
        self.standing.borrow().is_lost()
    }

    /// Returns once the lease is lost (refused, or not renewed in time).
    pub async fn lost(&mut self) {
        loop {
            let standing = *self.standing.borrow_and_update();
            if standing.is_lost() {
                return;
            }
            tokio::select! {
                changed = self.standing.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(standing.valid_until) => {}
            }
        }
    }
}

/// A held lease: renewed in the background every third of its time to live, given up by
/// [`Lease::release`] or, failing that, when dropped.
#[derive(Debug)]
pub struct Lease {
    store: Store,
    fence: Fence,
    standing: watch::Receiver<Standing>,
    renewer: JoinHandle<()>,
    released: bool,
}

impl Lease {
    /// Takes the lease `name` if it is free (or expired); `label` says who holds it, for the
    /// messages of those who wait, and is made unique to this holder.
    pub async fn try_acquire(
        store: &Store,
        name: &str,
        label: &str,
        ttl: Duration,
    ) -> Result<Option<Self>, StoreError> {
        Self::attempt(store, name, &holder_id(label), ttl).await
    }

    /// Waits for the lease `name`, polling with backoff, at most `patience` (`None`: until it is
    /// free). `waiting` is told the holder's label once, when the lease is busy at first.
    /// `None`: still held by someone else at the end of `patience`.
    pub async fn acquire(
        store: &Store,
        name: &str,
        label: &str,
        ttl: Duration,
        patience: Option<Duration>,
        waiting: impl FnOnce(&str),
    ) -> Result<Option<Self>, StoreError> {
        let holder = holder_id(label);
        let deadline = patience.map(|p| Instant::now() + p);
        let mut waiting = Some(waiting);
        let mut delay = FIRST_POLL;
        loop {
            if let Some(lease) = Self::attempt(store, name, &holder, ttl).await? {
                return Ok(Some(lease));
            }
            if waiting.is_some()
                && let Some((other, _)) = store.lease_holder(name).await?
                && let Some(tell) = waiting.take()
            {
                tell(&other);
            }
            let now = Instant::now();
            if let Some(deadline) = deadline {
                if now >= deadline {
                    return Ok(None);
                }
                delay = delay.min(deadline - now);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_POLL);
        }
    }

    async fn attempt(
        store: &Store,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Self>, StoreError> {
        // The renewer's own connection, kept while the lease is held.
        let mut conn = store.pool().acquire().await?;
        let asked = Instant::now();
        if !lease_try_acquire_on(&mut conn, store.backend(), name, holder, millis(ttl)).await? {
            return Ok(None);
        }
        let (tx, rx) = watch::channel(Standing { lost: false, valid_until: valid_from(asked, ttl) });
        let renewal = Renewal { store: store.clone(), name: name.to_owned(), holder: holder.to_owned(), ttl };
        let renewer = tokio::spawn(renew(renewal, conn, tx));
        Ok(Some(Self {
            store: store.clone(),
            fence: Fence::new(name, holder),
            standing: rx,
            renewer,
            released: false,
        }))
    }

    /// The lease is no longer certainly ours: stop before the next step.
    pub fn is_lost(&self) -> bool {
        self.standing.borrow().is_lost()
    }

    /// A watch on the loss of this lease, for the tasks doing the work.
    pub fn watch(&self) -> LeaseWatch {
        LeaseWatch { standing: self.standing.clone(), fence: self.fence.clone() }
    }

    /// The fence for this lease's writes.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// This holder's identity as stored (its label, process id and a random part).
    pub fn holder(&self) -> &str {
        &self.fence.holder
    }

    /// Stops renewing and gives the lease up at once.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.renewer.abort();
        self.released = true;
        self.store.lease_release(&self.fence.name, &self.fence.holder).await?;
        Ok(())
    }

    /// Gives the lease up, for a service that goes on: a failure is logged and the lease then
    /// expires by itself.
    pub async fn release_or_expire(self) {
        let name = self.fence.name.clone();
        if let Err(error) = self.release().await {
            tracing::warn!(%error, lease = %name, "cannot release a lease; it expires by itself");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
        if self.released {
            return;
        }
        // Not released explicitly (an early return, a panic): give it up in the background, so
        // the next caller need not wait for it to expire.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, Fence { name, holder }) = (self.store.clone(), self.fence.clone());
            runtime.spawn(async move {
                if let Err(error) = store.lease_release(&name, &holder).await {
                    tracing::warn!(lease = %name, %error, "cannot release a lease; it expires by itself");
                }
            });
        }
    }
}

/// A holder id: the label, this process and a random part, so two holders never share one.
fn holder_id(label: &str) -> String {
    format!("{label} (pid {}, {:016x})", std::process::id(), rand::random::<u64>())
}

/// What the renewer renews.
struct Renewal {
    store: Store,
    name: String,
    holder: String,
    ttl: Duration,
}

/// Renews the lease every third of `ttl`. Flags it lost when the renewal is refused (someone
/// else holds it); each success moves its validity on, and a renewal that fails or hangs lets
/// the validity run out (a renewal never waits past it). The renewer keeps a connection of its
/// own, so a pool busy with the leased work cannot starve it.
async fn renew(renewal: Renewal, conn: PoolConnection<Any>, standing: watch::Sender<Standing>) {
    let Renewal { store, name, holder, ttl } = renewal;
    let period = (ttl / 3).max(Duration::from_millis(10));
    let mut conn = Some(conn);
    let mut wait = period;
    loop {
        tokio::time::sleep(wait).await;
        // After a miss, the next try comes soon: the validity left is shorter than a period.
        wait = period / 4;
        let asked = Instant::now();
        let valid_until = standing.borrow().valid_until;
        let Some(left) = valid_until.checked_duration_since(asked).filter(|left| !left.is_zero()) else {
            tracing::warn!(lease = %name, "lease lost: it could not be renewed in time");
            standing.send_modify(|s| s.lost = true);
            return;
        };
        let attempt = async {
            let held = match conn.take() {
                Some(held) => held,
                None => store.pool().acquire().await?,
            };
            lease_renew_on(conn.insert(held), store.backend(), &name, &holder, millis(ttl)).await
        };
        let outcome = tokio::time::timeout(left, attempt).await;
        match outcome {
            Ok(Ok(true)) => {
                standing.send_modify(|s| s.valid_until = valid_from(asked, ttl));
                wait = period;
            }
            Ok(Ok(false)) => {
                tracing::warn!(lease = %name, "lease lost: another holder took it over");
                standing.send_modify(|s| s.lost = true);
                return;
            }
            Ok(Err(error)) => {
                tracing::warn!(lease = %name, %error, "cannot renew a lease; trying again");
                conn = None;
            }
            Err(_) => {
                tracing::warn!(lease = %name, "renewing a lease timed out; trying again");
                conn = None;
            }
        }
    }
}
