//! Named leases on both backends: one holder at a time, expiry takeover, renewal, loss.

use std::time::Duration;

use tokio::task::JoinSet;

use super::{
    Store, StoreError,
    lease::{Fence, Lease, LeaseWatch},
    testing::on_both,
};

const MINUTE: i64 = 60_000;

async fn holder(store: &Store, name: &str) -> Option<String> {
    store.lease_holder(name).await.expect("holder").map(|(h, _)| h)
}

#[tokio::test]
async fn a_named_lease_has_one_holder_until_released_or_expired() {
    on_both(|store| async move {
        assert!(store.lease_try_acquire("provisioning", "a", MINUTE).await.expect("a"));
        assert!(!store.lease_try_acquire("provisioning", "b", MINUTE).await.expect("b"), "held by a");
        assert!(store.lease_try_acquire("provisioning", "a", MINUTE).await.expect("a again"), "a's own");
        assert!(
            store.lease_try_acquire("drift", "b", MINUTE).await.expect("other name"),
            "names are separate"
        );
        assert!(!store.lease_renew("provisioning", "b", MINUTE).await.expect("renew b"));
        assert!(store.lease_renew("provisioning", "a", MINUTE).await.expect("renew a"));
        assert!(!store.lease_release("provisioning", "b").await.expect("release b"), "not b's to release");
        assert_eq!(holder(&store, "provisioning").await.as_deref(), Some("a"));
        assert!(store.lease_release("provisioning", "a").await.expect("release a"));
        assert_eq!(holder(&store, "provisioning").await, None);
        assert!(store.lease_try_acquire("provisioning", "b", MINUTE).await.expect("b after release"));

        // A holder that was killed stops renewing: once its time has passed, the next one takes
        // over, and the old holder can no longer renew what is not its own.
        assert!(store.lease_try_acquire("resume", "killed", -1).await.expect("killed"));
        assert_eq!(holder(&store, "resume").await, None, "expired: held by nobody");
        assert!(store.lease_try_acquire("resume", "next", MINUTE).await.expect("takeover"));
        assert!(!store.lease_renew("resume", "killed", MINUTE).await.expect("stale renew"));
        assert!(!store.lease_release("resume", "killed").await.expect("stale release"));
        assert_eq!(holder(&store, "resume").await.as_deref(), Some("next"));
    })
    .await;
}

#[tokio::test]
async fn callers_racing_for_a_lease_get_it_once() {
    on_both(|store| async move {
        let mut racers = JoinSet::new();
        for i in 0..8 {
            let store = store.clone();
            racers.spawn(async move {
                store.lease_try_acquire("race", &format!("racer {i}"), MINUTE).await.expect("acquire")
            });
        }
        let won = racers.join_all().await.into_iter().filter(|won| *won).count();
        assert_eq!(won, 1);
    })
    .await;
}

/// Polls `probe` until it holds, for at most ten seconds.
async fn until(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn lost_within(mut watch: LeaseWatch, limit: Duration) {
    tokio::time::timeout(limit, watch.lost()).await.expect("the holder learns the lease was lost");
}

#[tokio::test]
async fn a_held_lease_is_renewed_and_its_holder_learns_when_it_is_lost() {
    on_both(|store| async move {
        let ttl = Duration::from_millis(600);
        let lease = Lease::try_acquire(&store, "p", "first", ttl).await.expect("acquire").expect("free");
        assert!(lease.holder().starts_with("first"), "{}", lease.holder());
        let (_, first_expiry) = store.lease_holder("p").await.expect("holder").expect("held");
        until("the lease is renewed", async || {
            store.lease_holder("p").await.expect("holder").is_some_and(|(_, at)| at > first_expiry)
        })
        .await;
        // Renewed, hence never expired: nobody else gets it, however long the work lasts.
        until("well past its first expiry", async || crate::time::now_ms() > first_expiry + 600).await;
        assert!(Lease::try_acquire(&store, "p", "second", ttl).await.expect("second").is_none());
        assert!(!lease.is_lost());

        // Someone takes it over (as after a pause longer than its time to live): the holder
        // learns it at its next renewal.
        assert!(store.lease_release("p", lease.holder()).await.expect("force"));
        assert!(store.lease_try_acquire("p", "thief", MINUTE).await.expect("thief"));
        lost_within(lease.watch(), Duration::from_secs(10)).await;
        assert!(lease.is_lost());
        lease.release().await.expect("release");
        assert_eq!(holder(&store, "p").await.as_deref(), Some("thief"), "a lost lease is not released");
    })
    .await;
}

#[tokio::test]
async fn waiters_wait_for_the_holder_and_a_dropped_lease_is_given_up() {
    on_both(|store| async move {
        let ttl = Duration::from_secs(60);
        let first = Lease::try_acquire(&store, "p", "first", ttl).await.expect("acquire").expect("free");
        let mut told = String::new();
        let impatient =
            Lease::acquire(&store, "p", "impatient", ttl, Some(Duration::from_millis(300)), |h| {
                told = h.to_owned()
            })
            .await
            .expect("acquire");
        assert!(impatient.is_none(), "still held at the end of its patience");
        assert_eq!(told, first.holder(), "the waiter is told who holds it");

        let waiter = {
            let store = store.clone();
            tokio::spawn(async move { Lease::acquire(&store, "p", "waiter", ttl, None, |_| {}).await })
        };
        drop(first); // not released explicitly: dropping it gives it up
        let next = waiter.await.expect("joined").expect("acquire").expect("got it");
        assert!(next.holder().starts_with("waiter"));
        next.release().await.expect("release");
        assert_eq!(holder(&store, "p").await, None);
    })
    .await;
}

#[tokio::test]
async fn a_holder_whose_renewals_fail_counts_its_lease_lost_before_anyone_can_take_it() {
    on_both(|store| async move {
        let ttl = Duration::from_secs(3);
        let lease = Lease::try_acquire(&store, "p", "cut off", ttl).await.expect("acquire").expect("free");
        // The database stops taking its renewals (the table is out of reach).
        sqlx::query("ALTER TABLE leases RENAME TO leases_away").execute(store.pool()).await.expect("hide");
        lost_within(lease.watch(), Duration::from_secs(10)).await;
        assert!(lease.is_lost());
        sqlx::query("ALTER TABLE leases_away RENAME TO leases").execute(store.pool()).await.expect("restore");
        // The holder stopped with a third of the time to live left: nobody could take over yet.
        assert!(!store.lease_try_acquire("p", "next", MINUTE).await.expect("next"), "not expired yet");
        drop(lease);
    })
    .await;
}

#[tokio::test]
async fn a_fenced_write_is_refused_once_the_lease_has_expired_or_is_someone_elses() {
    on_both(|store| async move {
        // A holder stalled past its time to live (a suspended VM): its lease has expired.
        assert!(store.lease_try_acquire("p", "stalled", -1).await.expect("stalled"));
        let stalled = Fence::new("p", "stalled");
        let refused = store.begin_fenced(&stalled).await.map(|_| ());
        assert!(matches!(refused, Err(StoreError::LeaseLost(_))), "expired: {refused:?}");
        // Someone took over: still refused, and the new holder's writes go through.
        assert!(store.lease_try_acquire("p", "next", MINUTE).await.expect("next"));
        let refused = store.begin_fenced(&stalled).await.map(|_| ());
        assert!(matches!(refused, Err(StoreError::LeaseLost(_))), "taken over: {refused:?}");
        let tx = store.begin_fenced(&Fence::new("p", "next")).await.expect("the holder's write");
        tx.commit().await.expect("commit");
        assert!(matches!(
            store.begin_fenced(&Fence::new("other", "next")).await.map(|_| ()),
            Err(StoreError::LeaseLost(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn nobody_takes_a_lease_over_while_a_fenced_write_of_its_holder_is_open() {
    on_both(|store| async move {
        // Short-lived, and never renewed: it expires while the write is open.
        assert!(store.lease_try_acquire("p", "writer", 300).await.expect("writer"));
        let mut tx = store.begin_fenced(&Fence::new("p", "writer")).await.expect("fenced");
        let taker = {
            let store = store.clone();
            tokio::spawn(async move { store.lease_try_acquire("p", "taker", MINUTE).await })
        };
        if store.backend() == super::Backend::Postgres {
            // The taker waits on the lease's row, which the open write locked (this test's own
            // database: other tests' waits do not count).
            until("the taker waits on the lease's row", async || {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                     AND wait_event_type = 'Lock'",
                )
                .fetch_one(store.pool())
                .await
                .expect("pg_stat_activity");
                waiting > 0
            })
            .await;
        }
        until("the lease has expired on the database's clock", async || {
            store.lease_holder("p").await.is_ok_and(|h| h.is_none())
        })
        .await;
        assert!(!taker.is_finished(), "the taker got through while the holder's write was open");
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (1, 'writer', 'x', '', '')",
        )
        .execute(&mut *tx)
        .await
        .expect("the holder writes");
        tx.commit().await.expect("commit");
        assert!(taker.await.expect("joined").expect("taker"), "taken once the write is committed");
    })
    .await;
}

#[tokio::test]
async fn a_lease_is_renewed_even_when_the_work_holds_every_other_connection() {
    on_both(|store| async move {
        let ttl = Duration::from_secs(3);
        let lease = Lease::try_acquire(&store, "p", "busy", ttl).await.expect("acquire").expect("free");
        // The leased work takes every connection of the pool (the test pool holds 4), the last
        // one as soon as it is free.
        let pool = store.pool().clone();
        let max = pool.options().get_max_connections() as usize;
        let mut busy = Vec::new();
        for _ in 1..max {
            busy.push(pool.acquire().await.expect("a connection"));
        }
        let hog = tokio::spawn(async move { pool.acquire().await });
        let first_expiry: i64 = sqlx::query_scalar("SELECT expires_at FROM leases WHERE name = 'p'")
            .fetch_one(&mut *busy[0])
            .await
            .expect("expiry");
        let mut probe = busy.pop().expect("probe");
        until("renewed on its own connection", async || {
            let at: i64 = sqlx::query_scalar("SELECT expires_at FROM leases WHERE name = 'p'")
                .fetch_one(&mut *probe)
                .await
                .expect("expiry");
            at > first_expiry + 300
        })
        .await;
        assert!(!lease.is_lost());
        hog.abort();
        drop((busy, probe));
        lease.release().await.expect("release");
    })
    .await;
}
