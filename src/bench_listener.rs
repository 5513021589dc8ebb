//! `relais bench listener`: one large message through the SMTP listener, against the same
//! bytes copied over a bare loopback socket in the same run (the limit: what the kernel and a
//! reader looking for the end of data cost, with no SMTP at all).

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

use relais_bridge::inbound::smtp::{self, Delivery, Envelope, Protocol, Reply, ServerConfig};

/// Accepts every recipient and drops every message (the store is not what is measured).
struct Discard;

impl Delivery for Discard {
    async fn check_recipient(&self, _rcpt: &str) -> Result<(), Reply> {
        Ok(())
    }

    async fn deliver(&self, envelope: Envelope, data: Vec<u8>) -> Vec<Result<(), Reply>> {
        std::hint::black_box(data);
        envelope.rcpt_to.iter().map(|_| Ok(())).collect()
    }
}

/// A message of about `bytes` in 76-character CRLF lines (base64-like), dot-terminated.
fn message(bytes: usize) -> Vec<u8> {
    let line = format!("{}\r\n", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx");
    let mut data = b"From: a@bench.example\r\nTo: liste@listes.pcf.test\r\nSubject: gros\r\n\r\n".to_vec();
    while data.len() < bytes {
        data.extend_from_slice(line.as_bytes());
    }
    data.extend_from_slice(b".\r\n");
    data
}

/// Reads one reply line starting with `code`.
async fn expect(reader: &mut BufReader<TcpStream>, code: &str) -> anyhow::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        anyhow::ensure!(reader.read_line(&mut line).await? > 0, "listener closed");
        if line.as_bytes().get(3) != Some(&b'-') {
            anyhow::ensure!(line.starts_with(code), "expected {code}, got {line:?}");
            return Ok(());
        }
    }
}

/// One session delivering `data`; seconds from connect to the 250 after the data.
async fn through_listener(port: u16, data: &[u8]) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut reader = BufReader::new(TcpStream::connect(("127.0.0.1", port)).await?);
    expect(&mut reader, "220").await?;
    reader.get_mut().write_all(b"EHLO bench.example\r\n").await?;
    expect(&mut reader, "250").await?;
    reader
        .get_mut()
        .write_all(b"MAIL FROM:<a@bench.example>\r\nRCPT TO:<liste@listes.pcf.test>\r\nDATA\r\n")
        .await?;
    expect(&mut reader, "250").await?;
    expect(&mut reader, "250").await?;
    expect(&mut reader, "354").await?;
    reader.get_mut().write_all(data).await?;
    expect(&mut reader, "250").await?;
    let seconds = start.elapsed().as_secs_f64();
    reader.get_mut().write_all(b"QUIT\r\n").await?;
    Ok(seconds)
}

/// The same bytes over a bare socket, read by a task that looks for the final `\r\n.\r\n`.
async fn bare_copy(data: &[u8]) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let reader = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut tail = Vec::new();
        loop {
            let n = stream.read(&mut buf).await?;
            anyhow::ensure!(n > 0, "closed before the end");
            tail.extend_from_slice(&buf[..n]);
            if tail.windows(5).any(|w| w == b"\r\n.\r\n") {
                stream.write_all(b"250 ok\r\n").await?;
                return Ok(());
            }
            let keep = tail.len().saturating_sub(4);
            tail.drain(..keep);
        }
    });
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(data).await?;
    let mut ok = [0u8; 8];
    stream.read_exact(&mut ok).await?;
    let seconds = start.elapsed().as_secs_f64();
    reader.await.context("reader task")??;
    Ok(seconds)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub async fn run(mebibytes: usize, rounds: usize) -> anyhow::Result<()> {
    let data = message(mebibytes * 1024 * 1024);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let config = ServerConfig {
        protocol: Protocol::Smtp,
        hostname: "bench.pcf.test".into(),
        max_message_bytes: data.len() + 1024,
        max_recipients: 10,
        timeout: std::time::Duration::from_secs(60),
        max_connections: 10,
        allowed_peers: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smtp::serve(listener, config, Arc::new(Discard), async {
        let _ = stopped.await;
    }));
    let (mut relais, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        relais.push(through_listener(port, &data).await?);
        bare.push(bare_copy(&data).await?);
    }
    let _ = stop.send(());
    server.await.context("listener task")??;
    let (relais, bare) = (median(relais), median(bare));
    let out = json!({
        "message_bytes": data.len(), "rounds": rounds,
        "listener_seconds_median": relais, "bare_socket_seconds_median": bare,
        "ratio_listener_to_bare": relais / bare,
        "listener_mib_per_second": data.len() as f64 / 1_048_576.0 / relais,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
