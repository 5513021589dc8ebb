//! Named leases on both backends: one holder at a time, expiry takeover, renewal, loss.

use std::time::Duration;

use tokio::task::JoinSet;

use super::{
    Store,
    lease::{Lease, LeaseWatch},
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
