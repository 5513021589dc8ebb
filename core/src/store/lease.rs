//! Named leases: work that must never run twice at once is done by one holder at a time, across
//! every process sharing the database (several `relais serve` nodes, the CLI).
//!
//! A lease is taken for a time to live and renewed while held ([`Lease`] renews it in the
//! background every third of it). A holder that was killed stops renewing: once its lease has
//! expired, the next caller takes over. A holder whose renewal is refused (someone took over) or
//! keeps failing learns it through [`Lease::is_lost`] and must stop before its next step.
//! Expiry is judged on each process's clock, like the event queue's leases: nodes keep their
//! clocks synchronised (NTP), and a lease's time to live is large against their skew.

use std::time::Duration;

use sqlx::Row;
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::{Store, StoreError};
use crate::time::now_ms;

/// The longest wait between two attempts of [`Lease::acquire`].
const MAX_POLL: Duration = Duration::from_secs(5);
/// The first wait of [`Lease::acquire`], doubled after each attempt.
const FIRST_POLL: Duration = Duration::from_millis(200);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Takes the lease `name` for `holder` until `ttl_ms` from now, in one statement: only if
    /// nobody holds it, its holder's time has passed, or `holder` already holds it.
    pub async fn lease_try_acquire(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.expires_at < $4 OR leases.holder = excluded.holder \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now.saturating_add(ttl_ms))
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Extends `holder`'s lease to `ttl_ms` from now; `false`: it is someone else's now.
    pub async fn lease_renew(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE leases SET expires_at = $1 WHERE name = $2 AND holder = $3")
            .bind(now_ms().saturating_add(ttl_ms))
            .bind(name)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
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

    /// Who holds the lease `name` and until when (ms), if it is held and not expired.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1 AND expires_at >= $2")
            .bind(name)
            .bind(now_ms())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| Ok::<_, sqlx::Error>((r.try_get("holder")?, r.try_get("expires_at")?))).transpose()?)
    }
}

/// Whether a lease was lost; cheap to clone into the tasks doing the leased work.
#[derive(Debug, Clone)]
pub struct LeaseWatch(watch::Receiver<bool>);

impl LeaseWatch {
    /// The lease is no longer certainly ours: stop before the next step.
    pub fn is_lost(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the lease is lost (or released).
    pub async fn lost(&mut self) {
        let _ = self.0.wait_for(|lost| *lost).await;
    }
}

/// A held lease: renewed in the background every third of its time to live, given up by
/// [`Lease::release`] or, failing that, when dropped.
#[derive(Debug)]
pub struct Lease {
    store: Store,
    name: String,
    holder: String,
    lost: watch::Receiver<bool>,
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
        if !store.lease_try_acquire(name, holder, millis(ttl)).await? {
            return Ok(None);
        }
        let (tx, rx) = watch::channel(false);
        let renewer = tokio::spawn(renew(store.clone(), name.to_owned(), holder.to_owned(), ttl, tx));
        Ok(Some(Self {
            store: store.clone(),
            name: name.to_owned(),
            holder: holder.to_owned(),
            lost: rx,
            renewer,
            released: false,
        }))
    }

    /// The lease is no longer certainly ours: stop before the next step.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// A watch on the loss of this lease, for the tasks doing the work.
    pub fn watch(&self) -> LeaseWatch {
        LeaseWatch(self.lost.clone())
    }

    /// This holder's identity as stored (its label, process id and a random part).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Stops renewing and gives the lease up at once.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.renewer.abort();
        self.released = true;
        self.store.lease_release(&self.name, &self.holder).await?;
        Ok(())
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
            let (store, name, holder) = (self.store.clone(), self.name.clone(), self.holder.clone());
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
    format!("{label} (pid {}, {:08x})", std::process::id(), rand::random::<u32>())
}

/// Renews the lease every third of `ttl`. Flags it lost when the renewal is refused (someone
/// else holds it) or has not succeeded for two thirds of `ttl` (others may take it soon).
async fn renew(store: Store, name: String, holder: String, ttl: Duration, lost: watch::Sender<bool>) {
    let period = (ttl / 3).max(Duration::from_millis(10));
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(period).await;
        let sent = Instant::now();
        match tokio::time::timeout(period, store.lease_renew(&name, &holder, millis(ttl))).await {
            Ok(Ok(true)) => renewed = sent,
            Ok(Ok(false)) => {
                tracing::warn!(lease = %name, "lease lost: another holder took it over");
                lost.send_replace(true);
                return;
            }
            Ok(Err(error)) => tracing::warn!(lease = %name, %error, "cannot renew a lease; trying again"),
            Err(_) => tracing::warn!(lease = %name, "renewing a lease timed out; trying again"),
        }
        if renewed.elapsed() >= period * 2 {
            tracing::warn!(lease = %name, "lease lost: it could not be renewed in time");
            lost.send_replace(true);
            return;
        }
    }
}
