//! In process: a SQLite store, a loopback SMTP sink for the explanations, no homeserver (no
//! mail here reaches the posting step).

use std::sync::{Arc, Mutex};

use relais_appservice::{MatrixClient, Metrics};
use relais_core::{Config, Store};
use relais_mail::Mailer;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use super::*;
use crate::keys::Keys;

const AUTHSERV: &str = "mx.pcf.test";

/// What the sink received: for each mail, its `RCPT TO` lines then its data.
type Received = Arc<Mutex<Vec<String>>>;

/// A loopback SMTP server accepting every mail.
async fn smtp_sink() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
    let port = listener.local_addr().expect("sink address").port();
    let received = Received::default();
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink\r\n").await;
                let (mut mail, mut in_data) = (String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            kept.lock().expect("sink lock").push(std::mem::take(&mut mail));
                            in_data = false;
                            let _ = write.write_all(b"250 kept\r\n").await;
                        } else {
                            mail.push_str(&line);
                            mail.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => {
                            if verb == "RCPT" {
                                mail.push_str(&line);
                                mail.push('\n');
                            }
                            b"250 ok\r\n"
                        }
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, received)
}

async fn world(dir: &tempfile::TempDir) -> (Inbound, Received) {
    let (port, received) = smtp_sink().await;
    let text = format!(
        r#"
[homeserver]
url = "http://127.0.0.1:9"
server_name = "pcf.test"
[appservice]
id = "relais"
bind = "127.0.0.1:9009"
url = "http://127.0.0.1:9009"
as_token = "as-token-0123456789abcdef"
hs_token = "hs-token-0123456789abcdef"
sender_localpart = "relais"
[database]
url = "sqlite://relais.db?mode=rwc"
[web]
bind = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"
[mail]
domain = "listes.pcf.test"
smtp_url = "smtp://127.0.0.1:{port}"
inbound_auth = "upstream"
authserv_id = "{AUTHSERV}"
"#
    );
    let config = Config::from_toml_and_env(&text, "test.toml", std::iter::empty()).expect("config");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::open(&url, 2).await.expect("store");
    let client = MatrixClient::new(&config, Arc::new(Metrics::default())).expect("client");
    let mailer =
        Mailer::new(&format!("smtp://127.0.0.1:{port}"), "Relais <relais@listes.pcf.test>").expect("mailer");
    let inbound = Inbound::new(store, client, Keys::new(b"secret"), Arc::new(config), Some(mailer));
    (inbound, received)
}

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

async fn outcome(store: &Store) -> (String, String) {
    let (_, state, outcome) = store.mail_inbound_outcomes(1).await.expect("outcomes").remove(0);
    (state, outcome)
}

#[tokio::test]
async fn a_mail_whose_attempts_never_ended_is_held_erased_and_its_sender_told_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbound, received) = world(&dir).await;
    let store = inbound.store.clone();
    let raw = mail("Jeanne@Example.org", true);
    let id = store.mail_inbound_store("nord+r.1.1.x@listes.pcf.test", "jeanne@example.org", &raw).await;
    let id = id.expect("stored");
    // Three attempts started and never ended: the worker died (or stalled) each time.
    for _ in 0..MAX_FAILED_ATTEMPTS {
        store.mail_inbound_started(id).await.expect("started");
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
    assert_eq!(store.mail_outbox_stats().await.expect("stats").inbound_held, 1);
}

#[tokio::test]
async fn a_panic_fails_one_attempt_only_and_the_third_holds_the_mail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (inbound, received) = world(&dir).await;
    let store = inbound.store.clone();
    let rcpt = "nord+r.1.1.x@listes.pcf.test";
    store.mail_inbound_store(rcpt, "spoof@example.org", &mail("jeanne@example.org", false)).await.expect("a");
    store.mail_inbound_store(rcpt, "paul@example.org", b"Subject: fine\r\n\r\nOk").await.expect("b");
    let items = store.mail_claim_inbound(5, 60_000).await.expect("claim");
    let (poison, fine) = (&items[0], &items[1]);
    let crafted = |_: Inbound, _: InboundItem| async { panic!("crafted mail") };
    for attempt in 1..=MAX_FAILED_ATTEMPTS {
        assert!(inbound.attempt(poison, crafted).await.expect("attempt").is_none());
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
    let settled = inbound.attempt(fine, done).await.expect("attempt");
    assert!(matches!(settled, Some(Settled::Done("posted", _))));
}

/// The state and outcome of the first mail stored (the oldest).
async fn first_outcome(store: &Store) -> (String, String) {
    let (_, state, outcome) = store.mail_inbound_outcomes(10).await.expect("outcomes").pop().expect("a mail");
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
