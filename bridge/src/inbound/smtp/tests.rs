//! The server against real sockets on 127.0.0.1: pipelining, sizes, LMTP, and peers that do not
//! play by the rules (endless lines, silence, too many connections, bare newlines).

use std::sync::Mutex;

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::tcp::OwnedReadHalf,
};

use super::*;

#[derive(Default)]
struct Memory {
    mails: Mutex<Vec<(Envelope, Vec<u8>)>>,
}

impl Delivery for Memory {
    async fn check_recipient(&self, rcpt: &str) -> Result<(), Reply> {
        if rcpt.starts_with("inconnu") { Err(Reply::new(550, "5.1.1", "Unknown")) } else { Ok(()) }
    }

    async fn deliver(&self, envelope: Envelope, data: Vec<u8>) -> Vec<Result<(), Reply>> {
        let results = envelope
            .rcpt_to
            .iter()
            .map(|r| if r.starts_with("plein") { Err(Reply::new(452, "4.2.2", "Full")) } else { Ok(()) })
            .collect();
        self.mails.lock().expect("lock").push((envelope, data));
        results
    }
}

impl Memory {
    fn count(&self) -> usize {
        self.mails.lock().expect("lock").len()
    }
}

fn config(protocol: Protocol, max: usize) -> ServerConfig {
    ServerConfig {
        protocol,
        hostname: "listes.pcf.test".into(),
        max_message_bytes: max,
        max_recipients: 10,
        timeout: Duration::from_secs(10),
        max_connections: 100,
        allowed_peers: Vec::new(),
    }
}

async fn start(config: ServerConfig) -> (SocketAddr, Arc<Memory>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let memory = Arc::new(Memory::default());
    tokio::spawn(serve(listener, config, memory.clone(), std::future::pending()));
    (addr, memory)
}

async fn server(protocol: Protocol, max: usize) -> (SocketAddr, Arc<Memory>) {
    start(config(protocol, max)).await
}

/// The next reply (the last line of a multi-line one); `None` once the server closed (or reset)
/// the connection. Waits at most 20 s, so a server that neither answers nor closes fails.
async fn next_reply(reader: &mut BufReader<OwnedReadHalf>) -> Option<String> {
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(20), reader.read_line(&mut line)).await;
        match read {
            Ok(Ok(n)) if n > 0 && line.as_bytes().get(3) == Some(&b'-') => {}
            Ok(Ok(n)) if n > 0 => return Some(line.trim_end().to_owned()),
            Ok(_) => return None,
            Err(_) => panic!("the server neither answered nor closed the connection"),
        }
    }
}

async fn replies_until_closed(reader: &mut BufReader<OwnedReadHalf>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(reply) = next_reply(reader).await {
        out.push(reply);
    }
    out
}

fn codes(replies: &[String]) -> Vec<&str> {
    replies.iter().map(|r| &r[..3]).collect()
}

/// Sends `input` at once (pipelined) and reads `replies` replies.
async fn dialogue(addr: SocketAddr, input: &str, replies: usize) -> Vec<String> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(input.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    while out.len() < replies {
        let Some(reply) = next_reply(&mut reader).await else { break };
        out.push(reply);
    }
    out
}

#[tokio::test]
async fn a_pipelined_smtp_session_with_dot_stuffing() {
    let (addr, memory) = server(Protocol::Smtp, 1000).await;
    let input = "EHLO mx.example.org\r\nMAIL FROM:<jeanne@example.org> SIZE=100 BODY=8BITMIME\r\n\
                 RCPT TO:<liste@listes.pcf.test>\r\nRCPT TO:<inconnu@listes.pcf.test>\r\nDATA\r\n\
                 Subject: x\r\n\r\n..point\r\n..\r\n\r\nfin\r\n.\r\nQUIT\r\n";
    let replies = dialogue(addr, input, 8).await;
    assert_eq!(codes(&replies), ["220", "250", "250", "250", "550", "354", "250", "221"], "{replies:?}");
    let mails = memory.mails.lock().expect("lock");
    assert_eq!(mails[0].0.mail_from, "jeanne@example.org");
    assert_eq!(mails[0].0.rcpt_to, ["liste@listes.pcf.test"]);
    assert_eq!(mails[0].1, b"Subject: x\r\n\r\n.point\r\n.\r\n\r\nfin\r\n");
}

#[tokio::test]
async fn sequence_size_and_null_sender() {
    let (addr, memory) = server(Protocol::Smtp, 50).await;
    let big = "x".repeat(80);
    let input = format!(
        "DATA\r\nHELO a\r\nMAIL FROM:<> SIZE=999\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n{big}\r\n.\r\n\
         MAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\nbounce\r\n.\r\nBOGUS\r\nQUIT\r\n"
    );
    let replies = dialogue(addr, &input, 14).await;
    assert_eq!(
        codes(&replies),
        ["220", "503", "250", "552", "250", "250", "354", "552", "250", "250", "354", "250", "500", "221"],
        "{replies:?}"
    );
    assert!(replies[7].contains("trop volumineux"), "the size refusal is explained");
    let mails = memory.mails.lock().expect("lock");
    assert_eq!((mails.len(), mails[0].0.mail_from.as_str()), (1, ""), "only the small null-sender mail");
}

#[tokio::test]
async fn lmtp_answers_per_recipient() {
    let (addr, _) = server(Protocol::Lmtp, 1000).await;
    let input = "EHLO a\r\nLHLO mx\r\nMAIL FROM:<x@y>\r\nRCPT TO:<a@b>\r\nRCPT TO:<plein@b>\r\nDATA\r\nhi\r\n.\r\n\
                 MAIL FROM:<x@y>\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbare\nLF\r\n.\r\nQUIT\r\n";
    let replies = dialogue(addr, input, 15).await;
    assert_eq!(
        codes(&replies),
        [
            "220", "500", "250", "250", "250", "250", "354", "250", "452", "250", "250", "250", "354", "554",
            "554"
        ],
        "{replies:?}"
    );
}

/// Sends `prefix`, then `x` without end; returns the replies, and whether the server cut the
/// stream (the client's writes failed) before 64 MiB were written.
async fn endless(addr: SocketAddr, prefix: &str) -> (Vec<String>, bool) {
    const LIMIT: usize = 64 * 1024 * 1024;
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(prefix.as_bytes()).await.expect("prefix");
    let writer = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < LIMIT {
            if write.write_all(&chunk).await.is_err() {
                return true;
            }
            sent += chunk.len();
        }
        false
    });
    let replies = replies_until_closed(&mut reader).await;
    (replies, writer.await.expect("writer"))
}

#[tokio::test]
async fn an_endless_command_line_is_cut_off() {
    let (addr, _) = server(Protocol::Smtp, 1000).await;
    let (replies, cut) = endless(addr, "EHLO a\r\nMAIL FROM:<").await;
    assert!(cut, "the server kept reading an endless line: {replies:?}");
    assert_eq!(codes(&replies), ["220", "250", "500", "421"], "{replies:?}");
    // A long line that ends is refused and the session goes on.
    let long = format!("EHLO a\r\nNOOP {}\r\nNOOP\r\nQUIT\r\n", "x".repeat(5000));
    assert_eq!(codes(&dialogue(addr, &long, 5).await), ["220", "250", "500", "250", "221"]);
}

#[tokio::test]
async fn an_endless_message_is_cut_off_and_not_stored() {
    let (addr, memory) = server(Protocol::Smtp, 1000).await;
    let (replies, cut) =
        endless(addr, "EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\n").await;
    assert!(cut, "the server kept reading an endless message: {replies:?}");
    assert_eq!(codes(&replies), ["220", "250", "250", "250", "354", "552", "421"], "{replies:?}");
    assert_eq!(memory.count(), 0);
}

#[tokio::test]
async fn a_silent_peer_is_closed_after_the_timeout_even_in_data() {
    let (addr, memory) =
        start(ServerConfig { timeout: Duration::from_millis(200), ..config(Protocol::Smtp, 1000) }).await;
    for (input, expected) in [
        ("EHLO a\r\nMAIL FR", &["220", "250", "421"][..]),
        (
            "EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\ndebut",
            &["220", "250", "250", "250", "354", "421"][..],
        ),
    ] {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        write.write_all(input.as_bytes()).await.expect("write");
        // The connection stays open, silent, until the server gives up.
        let replies = replies_until_closed(&mut reader).await;
        assert_eq!(codes(&replies), expected, "{replies:?}");
        drop(write);
    }
    assert_eq!(memory.count(), 0, "nothing stored from a stalled DATA");
}

#[tokio::test]
async fn a_bare_newline_never_ends_data_so_nothing_is_smuggled() {
    let (addr, memory) = server(Protocol::Smtp, 10_000).await;
    for end in ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n"] {
        let input = format!(
            "EHLO a\r\nMAIL FROM:<jeanne@example.org>\r\nRCPT TO:<liste@listes.pcf.test>\r\nDATA\r\n\
             Subject: un\r\n\r\ntexte{end}MAIL FROM:<admin@listes.pcf.test>\r\n\
             RCPT TO:<liste@listes.pcf.test>\r\nDATA\r\nSubject: passager clandestin\r\n\r\nhop\r\n.\r\nQUIT\r\n"
        );
        let replies = dialogue(addr, &input, 7).await;
        assert_eq!(
            codes(&replies),
            ["220", "250", "250", "250", "354", "554", "221"],
            "{end:?}: {replies:?}"
        );
        assert_eq!(memory.count(), 0, "{end:?}: nothing stored");
    }
    // In a command, a bare LF is refused too.
    let replies = dialogue(addr, "EHLO a\nNOOP\r\nQUIT\r\n", 4).await;
    assert_eq!(codes(&replies), ["220", "500", "250", "221"], "{replies:?}");
}

#[tokio::test]
async fn one_connection_over_the_cap_gets_421() {
    let (addr, _) = start(ServerConfig { max_connections: 2, ..config(Protocol::Smtp, 1000) }).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let (read, write) = TcpStream::connect(addr).await.expect("connect").into_split();
        let mut reader = BufReader::new(read);
        assert_eq!(next_reply(&mut reader).await.as_deref().map(|r| &r[..3]), Some("220"));
        held.push((reader, write));
    }
    let (read, _write) = TcpStream::connect(addr).await.expect("connect").into_split();
    let replies = replies_until_closed(&mut BufReader::new(read)).await;
    assert_eq!(codes(&replies), ["421"], "{replies:?}");
    assert!(replies[0].starts_with("421 4.3.2"), "{replies:?}");
    // A session that ends frees its place.
    let (mut reader, mut write) = held.pop().expect("a session");
    write.write_all(b"QUIT\r\n").await.expect("quit");
    assert_eq!(codes(&replies_until_closed(&mut reader).await), ["221"]);
    assert_eq!(codes(&dialogue(addr, "QUIT\r\n", 2).await), ["220", "221"]);
}

#[tokio::test]
async fn peers_outside_the_allow_list_get_554() {
    let outside = vec!["10.0.0.0/8".parse().expect("net")];
    let (addr, _) = start(ServerConfig { allowed_peers: outside, ..config(Protocol::Smtp, 1000) }).await;
    let replies = dialogue(addr, "EHLO a\r\n", 2).await;
    assert_eq!(codes(&replies), ["554"], "{replies:?}");
    let inside = vec!["10.0.0.0/8".parse().expect("net"), "127.0.0.1".parse().expect("ip")];
    let (addr, _) = start(ServerConfig { allowed_peers: inside, ..config(Protocol::Smtp, 1000) }).await;
    assert_eq!(codes(&dialogue(addr, "QUIT\r\n", 2).await), ["220", "221"]);
}

#[tokio::test]
async fn too_many_refused_commands_close_the_session() {
    let (addr, _) = server(Protocol::Smtp, 1000).await;
    let replies = dialogue(addr, &"BOGUS\r\n".repeat(30), 40).await;
    assert_eq!(replies.len(), 22, "greeting, 20 refusals, then 421: {replies:?}");
    assert_eq!(replies.last().map(|r| &r[..3]), Some("421"));
}
