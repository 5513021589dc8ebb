//! In process (see [`testing`](crate::inbound::process::testing)), with, for the mail that
//! reaches the posting step, a loopback stand-in for the homeserver.

use std::sync::Arc;

use crate::store::MailStore;
use tokio::net::TcpListener;

use super::*;
use crate::inbound::process::testing::{AUTHSERV, world, world_with};

/// A reply from `from`, vouched for by the site's MTA when `authenticated`, whose body is what
/// made the worker fail (many unclosed `<head>`).
fn mail(from: &str, authenticated: bool) -> Vec<u8> {
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let verdict = if authenticated { "pass" } else { "fail" };
    format!(
        "Authentication-Results: {AUTHSERV}; dmarc={verdict} header.from={domain}\r\n\
         From: Jeanne Martin <{from}>\r\nTo: nord+r.1.1.x@listes.pcf.test\r\nSubject: Re: Tract\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{}Oui\r\n",
        "<head>".repeat(1000)
    )
    .into_bytes()
}

async fn outcome(store: &MailStore) -> (String, String) {
    let (_, state, outcome) = store.inbound_outcomes(1).await.expect("outcomes").remove(0);
    (state, outcome)
}

#[tokio::test]
async fn a_mail_whose_attempts_never_ended_is_held_erased_and_its_sender_told_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbound, received) = world(&dir).await;
    let store = inbound.store.clone();
    let raw = mail("Jeanne@Example.org", true);
    let id = store.inbound_store("nord+r.1.1.x@listes.pcf.test", "jeanne@example.org", &raw).await;
    let id = id.expect("stored");
    // Three attempts started and never ended: the worker died (or stalled) each time.
    for _ in 0..MAX_FAILED_ATTEMPTS {
        store.inbound_started(id).await.expect("started");
    }
    assert_eq!(inbound.pass().await.expect("pass"), 1);
    let (state, outcome) = outcome(&store).await;
    assert_eq!(state, "held");
    assert_eq!(outcome, "held after 3 failed attempts, content erased; sender told");
    let sent = received.lock().expect("sink").clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("RCPT TO:<jeanne@example.org>"), "{}", sent[0]);
    assert!(sent[0].contains("Auto-Submitted: auto-replied"), "{}", sent[0]);
    // Never again: not claimed, not told twice.
    assert_eq!(inbound.pass().await.expect("pass"), 0);
    assert_eq!(received.lock().expect("sink").len(), 1);
    assert_eq!(store.outbox_stats().await.expect("stats").inbound_held, 1);
}

#[tokio::test]
async fn a_panic_fails_one_attempt_only_and_the_third_holds_the_mail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbound, received) = world(&dir).await;
    let store = inbound.store.clone();
    let rcpt = "nord+r.1.1.x@listes.pcf.test";
    store.inbound_store(rcpt, "spoof@example.org", &mail("jeanne@example.org", false)).await.expect("a");
    store.inbound_store(rcpt, "paul@example.org", b"Subject: fine\r\n\r\nOk").await.expect("b");
    let items = store.claim_inbound(5, 60_000).await.expect("claim");
    let (poison, fine) = (&items[0], &items[1]);
    let crafted = |_: Inbound, _: InboundItem| async { panic!("crafted mail") };
    for attempt in 1..=MAX_FAILED_ATTEMPTS {
        inbound.attempt(poison, crafted).await.expect("attempt");
        let (state, outcome) = first_outcome(&store).await;
        if attempt < MAX_FAILED_ATTEMPTS {
            assert_eq!((state.as_str(), outcome.as_str()), ("pending", "processing failed (panic)"));
        } else {
            assert_eq!(state, "held");
            assert_eq!(
                outcome,
                "held after 3 failed attempts, content erased; sender not told (not authenticated)"
            );
        }
    }
    assert!(received.lock().expect("sink").is_empty(), "an unauthenticated sender is never answered");
    // The worker goes on with the next mail.
    let done =
        |_: Inbound, _: InboundItem| async { Ok(Settled::Done("posted", "posted in the room".into())) };
    inbound.attempt(fine, done).await.expect("attempt");
    let (_, state, outcome) = store.inbound_outcomes(1).await.expect("outcomes").remove(0);
    assert_eq!((state.as_str(), outcome.as_str()), ("posted", "posted in the room"));
}

/// The state and outcome of the first mail stored (the oldest).
async fn first_outcome(store: &MailStore) -> (String, String) {
    let (_, state, outcome) = store.inbound_outcomes(10).await.expect("outcomes").pop().expect("a mail");
    (state, outcome)
}

#[test]
fn only_an_authenticated_human_sender_is_told() {
    let policy = AuthPolicy::Upstream(AUTHSERV.into());
    let good = mail("Jeanne@Example.org", true);
    assert_eq!(authenticated_sender(&good, "x@example.org", &policy).as_deref(), Some("jeanne@example.org"));
    assert_eq!(authenticated_sender(&good, "", &policy), None, "a null sender is a bounce");
    assert_eq!(authenticated_sender(&mail("jeanne@example.org", false), "x@example.org", &policy), None);
    let auto = [b"Auto-Submitted: auto-replied\r\n".as_slice(), &good].concat();
    assert_eq!(authenticated_sender(&auto, "x@example.org", &policy), None);
    let open = AuthPolicy::None;
    let plain = b"From: paul@example.net\r\n\r\nbody";
    assert_eq!(authenticated_sender(plain, "x@example.net", &open).as_deref(), Some("paul@example.net"));
    for junk in [&b""[..], b"\r\n\r\n", b"From:\r\n\r\n", &[0xff; 100], b"From: <@>\r\n"] {
        assert_eq!(authenticated_sender(junk, "x@example.org", &open), None);
    }
    // Only the header is read: an authentication header in the body does not count.
    let forged = format!(
        "From: j@example.org\r\n\r\nAuthentication-Results: {AUTHSERV}; dmarc=pass header.from=example.org\r\n"
    );
    assert_eq!(authenticated_sender(forged.as_bytes(), "j@example.org", &policy), None);
}

/// A stand-in for the homeserver: registering, naming, inviting and joining the ghost succeed;
/// sending a message gets `status` with `errcode`. Returns its URL and the count of sends.
async fn homeserver(status: u16, errcode: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::{Json, http::StatusCode, response::IntoResponse};
    let sends = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = sends.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let counted = counted.clone();
        async move {
            let path = uri.path();
            if path.contains("/send/") {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let code = StatusCode::from_u16(status).expect("status");
                (code, Json(serde_json::json!({"errcode": errcode, "error": "refused"}))).into_response()
            } else if path.ends_with("/versions") {
                Json(serde_json::json!({"versions": ["v1.11"]})).into_response()
            } else if path.ends_with("/join") {
                Json(serde_json::json!({"room_id": ROOM})).into_response()
            } else {
                Json(serde_json::json!({})).into_response()
            }
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the homeserver");
    let addr = listener.local_addr().expect("homeserver address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), sends)
}

const ROOM: &str = "!section:pcf.test";

/// Jeanne (member 1002, jeanne@example.org), subscribed to the list `nord-lille` of `ROOM`.
async fn seed(store: &MailStore) {
    use crate::store::testing::{SeedMember, lille, seed_list};
    let jeanne = SeedMember {
        record: serde_json::json!({"first_name": "Jeanne", "last_name": "Martin"}).to_string(),
        ..SeedMember::new("1002", "jeanne@example.org")
    };
    seed_list(store, &lille(ROOM), &[jeanne]).await;
}

/// Jeanne's authenticated reply, stored and claimed.
async fn jeanne_replies(inbound: &Inbound) -> InboundItem {
    let rcpt = format!("{}@listes.pcf.test", inbound.keys.reply_localpart("nord-lille", 0, "1002"));
    let raw = format!(
        "Authentication-Results: {AUTHSERV}; dmarc=pass header.from=example.org\r\n\
         From: Jeanne Martin <jeanne@example.org>\r\nTo: {rcpt}\r\nSubject: Re: Tract\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nJe serai là samedi.\r\n"
    );
    let store = &inbound.store;
    store.inbound_store(&rcpt, "jeanne@example.org", raw.as_bytes()).await.expect("stored");
    store.claim_inbound(1, 60_000).await.expect("claim").remove(0)
}

/// One attempt at `item`, as the worker makes it.
async fn attempt_once(inbound: &Inbound, item: &InboundItem) {
    let settle = |this: Inbound, item: InboundItem| async move { this.settle(&item).await };
    inbound.attempt(item, settle).await.expect("attempt");
}

#[tokio::test]
async fn a_homeserver_refusal_counts_as_a_failed_attempt_and_the_third_holds_the_mail() {
    let (url, sends) = homeserver(403, "M_FORBIDDEN").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbound, received) = world_with(&dir, &url, "").await;
    seed(&inbound.store).await;
    let item = jeanne_replies(&inbound).await;
    for attempt in 1..=MAX_FAILED_ATTEMPTS {
        attempt_once(&inbound, &item).await;
        let (state, outcome) = outcome(&inbound.store).await;
        if attempt < MAX_FAILED_ATTEMPTS {
            assert_eq!(state, "pending", "attempt {attempt}: {outcome}");
            assert!(outcome.contains("M_FORBIDDEN"), "{outcome}");
        } else {
            assert_eq!(state, "held", "{outcome}");
            assert!(outcome.starts_with("held after 3 failed attempts"), "{outcome}");
            assert!(outcome.ends_with("sender told"), "{outcome}");
        }
    }
    assert_eq!(sends.load(std::sync::atomic::Ordering::SeqCst), 3);
    let sent = received.lock().expect("sink").clone();
    assert_eq!(sent.len(), 1, "one notice, the held one: {sent:?}");
    assert!(sent[0].starts_with("RCPT TO:<jeanne@example.org>"), "{}", sent[0]);
}

#[tokio::test]
async fn a_request_the_homeserver_can_never_take_holds_the_mail_at_once() {
    let (url, sends) = homeserver(413, "M_TOO_LARGE").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbound, received) = world_with(&dir, &url, "").await;
    seed(&inbound.store).await;
    let item = jeanne_replies(&inbound).await;
    attempt_once(&inbound, &item).await;
    let (state, outcome) = outcome(&inbound.store).await;
    assert_eq!(state, "held", "{outcome}");
    assert!(outcome.contains("M_TOO_LARGE") && outcome.ends_with("sender told"), "{outcome}");
    assert_eq!(sends.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(received.lock().expect("sink").len(), 1);
}

#[tokio::test]
async fn a_homeserver_outage_is_retried_without_counting_against_the_mail() {
    let (url, sends) = homeserver(503, "").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbound, received) = world_with(&dir, &url, "").await;
    seed(&inbound.store).await;
    let item = jeanne_replies(&inbound).await;
    for _ in 0..=MAX_FAILED_ATTEMPTS {
        attempt_once(&inbound, &item).await;
        let (state, outcome) = outcome(&inbound.store).await;
        assert_eq!(state, "pending", "{outcome}");
    }
    assert_eq!(sends.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert!(received.lock().expect("sink").is_empty(), "no notice while the homeserver is away");
}
