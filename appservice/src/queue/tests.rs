//! The intake queue on both backends: transactions journaled once, events leased exclusively,
//! per-handler completion, failures parked and retried.

use relais_core::store::testing::on_both;

use super::{IncomingEvent, IntakeQueue, QueueStats, TxnOutcome};

fn event(id: &str) -> IncomingEvent {
    IncomingEvent {
        event_id: id.to_owned(),
        room_id: "!room:pcf.test".to_owned(),
        sender: "@alice:pcf.test".to_owned(),
        event_type: "m.room.message".to_owned(),
        body: format!("{{\"event_id\":\"{id}\"}}"),
    }
}

#[tokio::test]
async fn repeated_transaction_and_repeated_event_are_queued_once() {
    on_both(|store| async move {
        let out = store.record_transaction("t1", &[event("$a"), event("$b")]).await.expect("t1");
        assert_eq!(out, TxnOutcome::Stored { new_events: 2 });
        let again = store.record_transaction("t1", &[event("$a"), event("$b")]).await.expect("t1 again");
        assert_eq!(again, TxnOutcome::Duplicate);
        let other = store.record_transaction("t2", &[event("$b"), event("$c")]).await.expect("t2");
        assert_eq!(other, TxnOutcome::Stored { new_events: 1 });
        let stats = store.queue_stats().await.expect("stats");
        assert_eq!(stats, QueueStats { pending: 3, failed: 0, done: 0 });
    })
    .await;
}

#[tokio::test]
async fn a_homeserver_that_counts_transactions_again_loses_nothing() {
    on_both(|store| async move {
        store.record_transaction("1", &[event("$old")]).await.expect("before the reset");
        // Synapse's appservice state was reset: it numbers transactions from 1 again.
        let out = store.record_transaction("1", &[event("$new")]).await.expect("after the reset");
        assert_eq!(out, TxnOutcome::Stored { new_events: 1 }, "not taken for a retry");
        let retry = store.record_transaction("1", &[event("$new")]).await.expect("its retry");
        assert_eq!(retry, TxnOutcome::Duplicate);
        assert_eq!(store.queue_stats().await.expect("stats").pending, 2);
    })
    .await;
}

#[tokio::test]
async fn leases_are_exclusive_and_expire() {
    on_both(|store| async move {
        store.record_transaction("t", &[event("$1"), event("$2"), event("$3")]).await.expect("t");
        let a = store.claim_events("worker-a", 60_000, 2).await.expect("claim a");
        assert_eq!(a.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["$1", "$2"]);
        let b = store.claim_events("worker-b", 60_000, 10).await.expect("claim b");
        assert_eq!(b.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["$3"]);
        assert!(store.claim_events("worker-c", 60_000, 10).await.expect("c").is_empty());
        // A lease that expired (its worker was killed) is claimable again.
        let expired = store.claim_events("worker-d", -1, 10).await.expect("d");
        assert!(expired.is_empty(), "all leased for a minute");
        store.release_event(b[0].seq, "worker-b").await.expect("release");
        let d = store.claim_events("worker-d", -1, 10).await.expect("d");
        assert_eq!(d.len(), 1);
        let e = store.claim_events("worker-e", 60_000, 10).await.expect("e");
        assert_eq!(e.len(), 1, "a lease in the past is expired");
        assert!(!store.complete_event(e[0].seq, "worker-d").await.expect("stale owner"));
        assert!(store.complete_event(e[0].seq, "worker-e").await.expect("owner"));
    })
    .await;
}

#[tokio::test]
async fn failures_back_off_then_park_and_can_be_retried() {
    on_both(|store| async move {
        store.record_transaction("t", &[event("$x")]).await.expect("t");
        let ev = store.claim_events("w", 60_000, 1).await.expect("claim").remove(0);
        store.fail_event(ev.seq, "w", "homeserver unreachable", 60_000, 2).await.expect("fail 1");
        assert!(store.claim_events("w", 60_000, 1).await.expect("backoff").is_empty());
        store.fail_event(ev.seq, "w", "ignored: not the owner", 0, 2).await.expect("noop");
        // Pretend the backoff elapsed.
        sqlx::query("UPDATE event_queue SET not_before = 0").execute(store.pool()).await.expect("reset");
        let ev = store.claim_events("w", 60_000, 1).await.expect("retry").remove(0);
        assert_eq!(ev.attempts, 1);
        store.fail_event(ev.seq, "w", "still unreachable", 0, 2).await.expect("fail 2");
        assert_eq!(store.queue_stats().await.expect("stats").failed, 1);
        let failed = store.failed_events(10).await.expect("list");
        assert_eq!(failed[0].1, "still unreachable");
        assert_eq!(store.retry_failed().await.expect("retry"), 1);
        assert_eq!(store.claim_events("w", 60_000, 1).await.expect("again").len(), 1);
    })
    .await;
}

#[tokio::test]
async fn handler_progress_survives_and_done_events_are_pruned() {
    on_both(|store| async move {
        store.record_transaction("t", &[event("$h")]).await.expect("t");
        store.mark_handler_done("$h", "bots").await.expect("mark");
        store.mark_handler_done("$h", "bots").await.expect("mark twice is fine");
        assert_eq!(store.handlers_done("$h").await.expect("done"), ["bots"]);
        let ev = store.claim_events("w", 60_000, 1).await.expect("claim").remove(0);
        assert!(store.complete_event(ev.seq, "w").await.expect("complete"));
        let removed = store.prune_intake(relais_core::time::now_ms() + 1).await.expect("prune");
        assert_eq!(removed, 3, "handler row, event row, transaction row");
        assert_eq!(store.queue_stats().await.expect("stats"), QueueStats::default());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_never_lease_the_same_event() {
    on_both(|store| async move {
        let events: Vec<IncomingEvent> = (0..200).map(|i| event(&format!("$c{i}"))).collect();
        store.record_transaction("bulk", &events).await.expect("bulk");
        let mut workers = Vec::new();
        for w in 0..4 {
            let store = store.clone();
            workers.push(tokio::spawn(async move {
                let owner = format!("worker-{w}");
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_events(&owner, 60_000, 7).await.expect("claim");
                    if batch.is_empty() {
                        break mine;
                    }
                    for e in batch {
                        assert!(store.complete_event(e.seq, &owner).await.expect("complete"), "lease held");
                        mine.push(e.event_id);
                    }
                }
            }));
        }
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.expect("worker"));
        }
        let total = all.len();
        all.sort();
        all.dedup();
        assert_eq!((total, all.len()), (200, 200), "each event handled exactly once across workers");
    })
    .await;
}
