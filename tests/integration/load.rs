//! Bounded load on each listener of the real `relais serve`, on loopback: clients that are slow,
//! numerous or oversized never take the service from others, and nothing accepted is lost.
//!
//! Each test owns its Relais (no homeserver needed: what is measured is the listeners). Time
//! bounds below are liveness bounds for a stuck server, never performance assertions.

use crate::common;

use std::time::Duration;

use crate::common::{Relais, RelaisOptions, free_port};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};

/// Longest a stuck server is waited for before the test fails.
const BOUND: Duration = Duration::from_secs(60);

fn options(env: &[(&str, &str)]) -> RelaisOptions {
    RelaisOptions {
        env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..Default::default()
    }
}

fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes (or `BOUND`); returns what came.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ =
        tokio::time::timeout(BOUND, stream.read_to_end(&mut out)).await.expect("the server closes in time");
    String::from_utf8_lossy(&out).into_owned()
}

/// A GET on a fresh connection; the status code.
async fn status(url: &str) -> u16 {
    let client = reqwest::Client::builder().timeout(BOUND).build().expect("client");
    client.get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

#[tokio::test]
async fn slow_and_oversized_bodies_never_take_the_pages_from_others() {
    let mut relais = Relais::prepare(options(&[("RELAIS_WEB__BODY_TIMEOUT_SECONDS", "3")]));
    relais.start().await;
    let web = addr(&relais.web_url);

    // More clients than requests answered at once (256), each sending a form body byte by byte
    // and then nothing.
    const SLOW: usize = 300;
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut stream = TcpStream::connect(&web).await.expect("connect");
        let head = "POST /inscription/abcdef HTTP/1.1\r\nHost: relais\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nmot";
        stream.write_all(head.as_bytes()).await.expect("send head");
        slow.push(stream);
    }
    // Meanwhile, pages answer everyone else.
    assert_eq!(
        status(&format!("{}/health", relais.web_url)).await,
        200,
        "health while {SLOW} bodies trickle"
    );
    assert_eq!(status(&format!("{}/", relais.web_url)).await, 200, "the landing page too");
    let form = reqwest::Client::builder()
        .timeout(BOUND)
        .build()
        .expect("client")
        .post(format!("{}/inscription/abcdef", relais.web_url))
        .form(&[("mot_de_passe", "x")])
        .send()
        .await
        .expect("a whole form is answered");
    assert_ne!(form.status().as_u16(), 503, "an honest form is not turned away");

    // A body announced too large is refused before it is sent; one that runs past the limit
    // is cut at the limit.
    let mut big = TcpStream::connect(&web).await.expect("connect");
    let head = "POST /inscription/abcdef HTTP/1.1\r\nHost: relais\r\nContent-Length: 100000000\r\n\r\n";
    big.write_all(head.as_bytes()).await.expect("send head");
    let answer = read_to_close(&mut big).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let mut chunked = TcpStream::connect(&web).await.expect("connect");
    let head = "POST /inscription/abcdef HTTP/1.1\r\nHost: relais\r\nTransfer-Encoding: chunked\r\n\r\n";
    chunked.write_all(head.as_bytes()).await.expect("send head");
    let (mut read, mut write) = chunked.into_split();
    let writer = tokio::spawn(async move {
        let chunk = format!("2000\r\n{}\r\n", "a".repeat(0x2000));
        // Up to 64 MiB: an unbounded server would read it all.
        for _ in 0..8192 {
            if write.write_all(chunk.as_bytes()).await.is_err() {
                return false;
            }
        }
        true
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(BOUND, read.read_to_end(&mut answer)).await.expect("answered in time");
    let answer = String::from_utf8_lossy(&answer);
    // The 413 may be lost to the reset a close with unread data sends; the refusal is not.
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!writer.await.expect("writer"), "the server stopped reading past the limit");

    // Each trickling client is answered 408 once its deadline passes, and its slot is free.
    let mut answers = JoinSet::new();
    for mut stream in slow {
        answers.spawn(async move { read_to_close(&mut stream).await });
    }
    let mut timed_out = 0;
    while let Some(answer) = answers.join_next().await {
        let answer = answer.expect("reader");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        timed_out += 1;
    }
    assert_eq!(timed_out, SLOW);
    assert_eq!(status(&format!("{}/health", relais.web_url)).await, 200);
    assert!(relais.terminate().await.success());
}

#[tokio::test]
async fn crowds_silent_heads_and_deaf_clients_cannot_hold_the_web_listener() {
    let mut relais = Relais::prepare(options(&[
        ("RELAIS_WEB__MAX_CONNECTIONS", "100"),
        ("RELAIS_WEB__HEADER_TIMEOUT_SECONDS", "20"),
        // The write timeout of a client that stops reading.
        ("RELAIS_WEB__BODY_TIMEOUT_SECONDS", "3"),
    ]));
    relais.start().await;
    let web = addr(&relais.web_url);

    // 150 connections at once: 100 are kept, 50 answered 503 and closed as soon as accepted.
    let mut streams = Vec::new();
    for _ in 0..150 {
        streams.push(TcpStream::connect(&web).await.expect("connect"));
    }
    common::eventually("the listener turns away the 50 connections past its cap", BOUND, || {
        let closed = streams.iter().filter(|s| has_spoken(s)).count();
        std::future::ready((closed == 50).then_some(()))
    })
    .await;
    let mut answers = JoinSet::new();
    for mut stream in streams {
        answers.spawn(async move {
            if has_spoken(&stream) {
                return (true, read_to_close(&mut stream).await);
            }
            let request = "GET /health HTTP/1.1\r\nHost: relais\r\nConnection: close\r\n\r\n";
            stream.write_all(request.as_bytes()).await.expect("send");
            (false, read_to_close(&mut stream).await)
        });
    }
    let (mut served, mut turned_away) = (0, 0);
    while let Some(answer) = answers.join_next().await {
        match answer.expect("reader") {
            (true, answer) => {
                assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
                turned_away += 1;
            }
            (false, answer) => {
                assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
                served += 1;
            }
        }
    }
    assert_eq!((served, turned_away), (100, 50));
    let health = format!("{}/health", relais.web_url);
    common::eventually("the slots come back", BOUND, || async {
        (status(&health).await == 200).then_some(())
    })
    .await;

    // A client that sends requests and never reads the answers is cut off once its receive
    // window is full and the server's writes stop making progress.
    let mut deaf = TcpStream::connect(&web).await.expect("connect");
    let request = "GET / HTTP/1.1\r\nHost: relais\r\n\r\n".repeat(2000);
    let pipelined = tokio::time::timeout(BOUND, async {
        // Writing stops succeeding once the server stops reading (it waits on its writes).
        let mut sent = 0;
        while deaf.write_all(request.as_bytes()).await.is_ok() {
            sent += 1;
            if sent == 200 {
                break;
            }
        }
        sent
    })
    .await;
    // Writing failed (the server closed) before the client read a byte; a server that waits on
    // its writes forever leaves the client's writes blocked until the bound.
    assert!(
        matches!(pipelined, Ok(sent) if sent < 200),
        "a client that stopped reading is cut off: {pipelined:?}"
    );

    // A connection that never sends its request, or stops half-way through the head, is
    // closed by the header timeout.
    let mut silent = TcpStream::connect(&web).await.expect("connect");
    let mut half = TcpStream::connect(&web).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: rel").await.expect("send half a head");
    let (silent, half) = tokio::join!(read_to_close(&mut silent), read_to_close(&mut half));
    assert!(!silent.contains("200 OK") && !half.contains("200 OK"), "{silent} / {half}");
    assert!(relais.terminate().await.success());
}

/// Whether the peer has written to `stream` or closed it, without consuming anything.
fn has_spoken(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    stream.poll_peek(&mut cx, &mut tokio::io::ReadBuf::new(&mut buf)).is_ready()
}

/// Reads an SMTP greeting (empty if the server closed first).
async fn greeting(stream: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(BOUND, stream.read(&mut buf)).await.expect("greeting in time").unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn five_hundred_slow_smtp_sessions_leave_the_listener_and_the_service_answering() {
    let inbound = free_port();
    let mut relais = Relais::prepare(RelaisOptions {
        env: vec![
            ("RELAIS_MAIL__DOMAIN".into(), "listes.pcf.test".into()),
            ("RELAIS_MAIL__AUTHSERV_ID".into(), "mx.pcf.test".into()),
            ("RELAIS_MAIL__INBOUND_BIND".into(), format!("127.0.0.1:{inbound}")),
            ("RELAIS_MAIL__INBOUND_TIMEOUT_SECONDS".into(), "5".into()),
        ],
        // No SMTP server behind: nothing is sent in this test, the outbox just idles.
        smtp_url: Some(format!("smtp://127.0.0.1:{}", free_port())),
        ..Default::default()
    });
    relais.start().await;
    let mx = format!("127.0.0.1:{inbound}");

    // 500 sessions: the first 100 (the default cap) are greeted, then stall in the middle of a
    // command; the others are told to come back later (a stalled session that timed out
    // meanwhile frees its slot for a later one, hence "at least").
    // The listener binds after the service answers its health check.
    common::eventually("the mail listener", BOUND, || async { TcpStream::connect(&mx).await.ok() }).await;
    let mut greeted = Vec::new();
    let mut later = 0;
    for _ in 0..500 {
        let mut stream = TcpStream::connect(&mx).await.expect("connect");
        let hello = greeting(&mut stream).await;
        if hello.starts_with("220") {
            stream.write_all(b"EHLO lent.example\r\nMAIL FROM:<lent@").await.expect("half a command");
            greeted.push(stream);
        } else {
            assert!(hello.starts_with("421"), "{hello}");
            later += 1;
        }
    }
    assert!(greeted.len() >= 100 && later > 0, "{} greeted, {later} told to come back", greeted.len());
    assert_eq!(status(&format!("{}/health", relais.as_url)).await, 200, "the service answers meanwhile");

    // Each stalled session is closed with 421 once its read times out…
    let mut closed = JoinSet::new();
    for mut stream in greeted {
        closed.spawn(async move { read_to_close(&mut stream).await });
    }
    while let Some(transcript) = closed.join_next().await {
        let transcript = transcript.expect("reader");
        assert!(transcript.lines().last().is_some_and(|l| l.starts_with("421")), "{transcript}");
    }
    // …and an MTA that came back is served in full.
    let mut stream = TcpStream::connect(&mx).await.expect("connect");
    assert!(greeting(&mut stream).await.starts_with("220"));
    stream
        .write_all(
            b"EHLO mx.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<nobody@listes.pcf.test>\r\nQUIT\r\n",
        )
        .await
        .expect("send");
    let transcript = read_to_close(&mut stream).await;
    assert!(transcript.contains("\r\n550 "), "an unknown list is refused during the dialogue: {transcript}");
    assert!(transcript.contains("\r\n221 "), "{transcript}");
    assert!(relais.terminate().await.success());
}

#[tokio::test]
async fn a_100000_event_transaction_is_journaled_whole_while_health_answers() {
    // Intake only: what is measured is the listener and the journal, not the features.
    let mut relais = Relais::prepare(options(&[("RELAIS_DISPATCH__ENABLED", "false")]));
    relais.start().await;
    const EVENTS: usize = 100_000;
    let events: Vec<_> = (0..EVENTS)
        .map(|i| {
            json!({
                "event_id": format!("$load{i}"), "room_id": "!salle:pcf.test", "sender": "@alice:pcf.test",
                "type": "m.room.message", "content": {"msgtype": "m.text", "body": format!("message {i}")},
                "origin_server_ts": 1_700_000_000_000_u64 + i as u64,
            })
        })
        .collect();
    let body = json!({ "events": events }).to_string();
    let url = format!("{}/_matrix/app/v1/transactions/load-1", relais.as_url);
    let client = reqwest::Client::builder().timeout(BOUND * 3).build().expect("client");
    let push = {
        let (client, url, body, token) = (client.clone(), url.clone(), body.clone(), relais.hs_token.clone());
        tokio::spawn(async move {
            client
                .put(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
        })
    };
    // Health answers while the transaction is read, parsed and committed.
    let health = format!("{}/health", relais.as_url);
    let mut probes = 0;
    while !push.is_finished() {
        assert_eq!(status(&health).await, 200, "health during the transaction");
        probes += 1;
    }
    let response = push.await.expect("push task").expect("transaction answered");
    assert_eq!(response.status().as_u16(), 200);
    eprintln!("{probes} health probes answered during the transaction");
    assert!(probes > 0, "health was probed while the transaction was in flight");
    assert_eq!(relais.metric("relais_events_received_total").await, Some(EVENTS as f64));
    assert_eq!(relais.metric("relais_queue_events{state=\"pending\"}").await, Some(EVENTS as f64));

    // The homeserver sends it again (it did not see the answer): nothing is doubled.
    let again = client
        .put(url)
        .bearer_auth(&relais.hs_token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("replay answered");
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(relais.metric("relais_transactions_duplicate_total").await, Some(1.0));
    assert_eq!(relais.metric("relais_queue_events{state=\"pending\"}").await, Some(EVENTS as f64));
    assert!(relais.terminate().await.success());
}
