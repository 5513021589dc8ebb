//! A small SMTP (RFC 5321) and LMTP (RFC 2033) receiving server on tokio: the listener the mail
//! domain's MTA hands mail to. It sits behind that MTA on loopback or a private network, so it
//! offers neither STARTTLS nor AUTH; the MTA does TLS, SPF, DKIM and DMARC.
//!
//! Pipelining works (commands are read line by line from a buffered stream); a message above
//! the size limit is read to its end and refused with 552 while the session goes on.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// One SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: String,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, enhanced: &str, text: &str) -> Self {
        Self { code, enhanced: enhanced.to_owned(), text: text.to_owned() }
    }

    fn line(&self) -> String {
        if self.enhanced.is_empty() {
            format!("{} {}\r\n", self.code, self.text)
        } else {
            format!("{} {} {}\r\n", self.code, self.enhanced, self.text)
        }
    }
}

/// The envelope of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub helo: String,
    /// Empty for the null sender `<>`.
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub peer: SocketAddr,
}

/// What the server asks of its owner.
pub trait Delivery: Send + Sync + 'static {
    /// At `RCPT TO`: is this recipient accepted?
    fn check_recipient(&self, rcpt: &str) -> Result<(), Reply>;
    /// After `DATA`: stores the message durably; one result per recipient, in order. The
    /// server answers 250 only for `Ok`.
    fn deliver(
        &self,
        envelope: Envelope,
        data: Vec<u8>,
    ) -> impl Future<Output = Vec<Result<(), Reply>>> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Smtp,
    Lmtp,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub protocol: Protocol,
    pub hostname: String,
    pub max_message_bytes: usize,
    pub max_recipients: usize,
    pub idle_timeout: Duration,
}

const MAX_LINE: usize = 2048;

/// Serves connections from `listener` until `shutdown` resolves.
pub async fn serve<D: Delivery>(
    listener: TcpListener,
    config: ServerConfig,
    delivery: Arc<D>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail listener: accept failed");
                        continue;
                    }
                };
                let (config, delivery) = (config.clone(), delivery.clone());
                tokio::spawn(async move {
                    if let Err(e) = Session::new(&config, delivery, peer).run(stream).await {
                        tracing::debug!(error = %e, "mail session ended with an error");
                    }
                });
            }
            () = &mut shutdown => return Ok(()),
        }
    }
}

struct Session<'a, D> {
    config: &'a ServerConfig,
    delivery: Arc<D>,
    peer: SocketAddr,
    helo: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// What a command line asks for.
enum Step {
    Reply(Reply),
    /// Already formatted lines (the EHLO capabilities).
    Raw(String),
    Data,
    Quit,
}

fn ok(text: &str) -> Reply {
    Reply::new(250, "2.0.0", text)
}

fn bad_sequence() -> Reply {
    Reply::new(503, "5.5.1", "Bad sequence of commands")
}

/// The address inside `<…>` after `FROM:`/`TO:`, and the parameters after it.
fn path_and_params(arg: &str) -> Option<(String, Vec<String>)> {
    let arg = arg.trim_start();
    let (path, rest) = match arg.strip_prefix('<') {
        Some(inner) => {
            let end = inner.find('>')?;
            (inner[..end].to_owned(), &inner[end + 1..])
        }
        None => {
            let end = arg.find(' ').unwrap_or(arg.len());
            (arg[..end].to_owned(), &arg[end..])
        }
    };
    // A source route (`@a,@b:user@host`) is ignored, as RFC 5321 asks.
    let path = path.rsplit_once(':').map_or(path.clone(), |(_, p)| p.to_owned());
    Some((path, rest.split_whitespace().map(str::to_owned).collect()))
}

impl<'a, D: Delivery> Session<'a, D> {
    fn new(config: &'a ServerConfig, delivery: Arc<D>, peer: SocketAddr) -> Self {
        Self { config, delivery, peer, helo: None, mail_from: None, rcpt_to: Vec::new() }
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    async fn run(mut self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let greeting = format!("220 {} ESMTP Relais\r\n", self.config.hostname);
        write.write_all(greeting.as_bytes()).await?;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read =
                tokio::time::timeout(self.config.idle_timeout, reader.read_until(b'\n', &mut line)).await;
            let n = match read {
                Ok(result) => result?,
                Err(_) => {
                    write.write_all(b"421 4.4.2 Idle timeout, closing\r\n").await?;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            if line.len() > MAX_LINE {
                write.write_all(b"500 5.5.2 Line too long\r\n").await?;
                continue;
            }
            let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned();
            match self.command(&text) {
                Step::Reply(reply) => write.write_all(reply.line().as_bytes()).await?,
                Step::Raw(lines) => write.write_all(lines.as_bytes()).await?,
                Step::Quit => {
                    write.write_all(b"221 2.0.0 Bye\r\n").await?;
                    return Ok(());
                }
                Step::Data => {
                    write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    let data = read_data(&mut reader, self.config.max_message_bytes).await?;
                    self.finish_data(data, &mut write).await?;
                }
            }
        }
    }

    fn command(&mut self, line: &str) -> Step {
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        match (verb.to_ascii_uppercase().as_str(), self.config.protocol) {
            ("EHLO", Protocol::Smtp) | ("LHLO", Protocol::Lmtp) => self.hello(arg, true),
            ("HELO", Protocol::Smtp) => self.hello(arg, false),
            ("HELO" | "EHLO", Protocol::Lmtp) => Step::Reply(Reply::new(500, "5.5.1", "Use LHLO")),
            ("MAIL", _) => Step::Reply(self.mail(arg)),
            ("RCPT", _) => Step::Reply(self.rcpt(arg)),
            ("DATA", _) if self.rcpt_to.is_empty() => Step::Reply(bad_sequence()),
            ("DATA", _) => Step::Data,
            ("RSET", _) => {
                self.reset();
                Step::Reply(ok("Reset"))
            }
            ("NOOP", _) => Step::Reply(ok("OK")),
            ("VRFY", _) => Step::Reply(Reply::new(252, "2.5.0", "Cannot verify, send some mail")),
            ("QUIT", _) => Step::Quit,
            _ => Step::Reply(Reply::new(500, "5.5.1", "Command not recognized")),
        }
    }

    fn hello(&mut self, arg: &str, extended: bool) -> Step {
        self.helo = Some(arg.trim().to_owned());
        self.reset();
        let host = &self.config.hostname;
        if !extended {
            return Step::Reply(Reply::new(250, "", host));
        }
        let size = self.config.max_message_bytes;
        Step::Raw(format!(
            "250-{host}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE {size}\r\n"
        ))
    }

    fn mail(&mut self, arg: &str) -> Reply {
        if self.helo.is_none() || self.mail_from.is_some() {
            return bad_sequence();
        }
        let Some(rest) = strip_prefix_ci(arg, "FROM:") else {
            return Reply::new(501, "5.5.4", "Syntax: MAIL FROM:<address>");
        };
        let Some((path, params)) = path_and_params(rest) else {
            return Reply::new(501, "5.1.7", "Bad sender address syntax");
        };
        for param in &params {
            if let Some(size) = strip_prefix_ci(param, "SIZE=")
                && size.parse::<usize>().is_ok_and(|s| s > self.config.max_message_bytes)
            {
                return too_big(self.config.max_message_bytes);
            }
        }
        self.mail_from = Some(path);
        ok("Sender OK")
    }

    fn rcpt(&mut self, arg: &str) -> Reply {
        if self.mail_from.is_none() {
            return bad_sequence();
        }
        let Some((path, _)) = strip_prefix_ci(arg, "TO:").and_then(path_and_params) else {
            return Reply::new(501, "5.5.4", "Syntax: RCPT TO:<address>");
        };
        if self.rcpt_to.len() >= self.config.max_recipients {
            return Reply::new(452, "4.5.3", "Too many recipients");
        }
        match self.delivery.check_recipient(&path) {
            Ok(()) => {
                self.rcpt_to.push(path);
                ok("Recipient OK")
            }
            Err(reply) => reply,
        }
    }

    async fn finish_data<W: AsyncWrite + Unpin>(
        &mut self,
        data: Option<Vec<u8>>,
        write: &mut W,
    ) -> std::io::Result<()> {
        let recipients = std::mem::take(&mut self.rcpt_to);
        let mail_from = self.mail_from.take().unwrap_or_default();
        let Some(data) = data else {
            let reply = too_big(self.config.max_message_bytes);
            let times = if self.config.protocol == Protocol::Lmtp { recipients.len() } else { 1 };
            for _ in 0..times {
                write.write_all(reply.line().as_bytes()).await?;
            }
            return Ok(());
        };
        tracing::debug!(bytes = data.len(), recipients = recipients.len(), "mail received");
        let envelope = Envelope {
            helo: self.helo.clone().unwrap_or_default(),
            mail_from,
            rcpt_to: recipients.clone(),
            peer: self.peer,
        };
        let mut results = self.delivery.deliver(envelope, data).await;
        results.resize(recipients.len(), Err(Reply::new(451, "4.3.0", "Not stored")));
        let replies: Vec<Reply> =
            results.into_iter().map(|r| r.map_or_else(|reply| reply, |()| ok("Message accepted"))).collect();
        match self.config.protocol {
            Protocol::Lmtp => {
                for reply in replies {
                    write.write_all(reply.line().as_bytes()).await?;
                }
            }
            Protocol::Smtp => {
                let reply =
                    replies.into_iter().find(|r| r.code >= 400).unwrap_or_else(|| ok("Message accepted"));
                write.write_all(reply.line().as_bytes()).await?;
            }
        }
        Ok(())
    }
}

fn too_big(limit: usize) -> Reply {
    let mb = limit.div_ceil(1024 * 1024);
    Reply::new(552, "5.3.4", &format!("Message trop volumineux (limite {mb} Mo)"))
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Reads message data up to the lone dot, undoing dot-stuffing; `None` when it exceeded `max`
/// (read to its end anyway, so the session can go on).
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed in DATA"));
        }
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content == b"." {
            return Ok(if too_big { None } else { Some(data) });
        }
        let content = content.strip_prefix(b".").unwrap_or(content);
        if data.len() + content.len() + 2 > max {
            too_big = true;
            data.clear();
        }
        if !too_big {
            data.extend_from_slice(content);
            data.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    #[derive(Default)]
    struct Memory {
        mails: Mutex<Vec<(Envelope, Vec<u8>)>>,
    }

    impl Delivery for Memory {
        fn check_recipient(&self, rcpt: &str) -> Result<(), Reply> {
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

    async fn server(protocol: Protocol, max: usize) -> (SocketAddr, Arc<Memory>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let memory = Arc::new(Memory::default());
        let config = ServerConfig {
            protocol,
            hostname: "listes.pcf.test".into(),
            max_message_bytes: max,
            max_recipients: 10,
            idle_timeout: Duration::from_secs(10),
        };
        tokio::spawn(serve(listener, config, memory.clone(), std::future::pending()));
        (addr, memory)
    }

    /// Sends `input` at once (pipelined) and reads `replies` reply lines' codes (multi-line
    /// replies count once).
    async fn dialogue(addr: SocketAddr, input: &str, replies: usize) -> Vec<String> {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        write.write_all(input.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        while out.len() < replies {
            let mut line = String::new();
            if reader.read_line(&mut line).await.expect("read") == 0 {
                break;
            }
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            out.push(line.trim_end().to_owned());
        }
        out
    }

    #[tokio::test]
    async fn a_pipelined_smtp_session_with_dot_stuffing() {
        let (addr, memory) = server(Protocol::Smtp, 1000).await;
        let input = "EHLO mx.example.org\r\nMAIL FROM:<jeanne@example.org> SIZE=100 BODY=8BITMIME\r\n\
                     RCPT TO:<liste@listes.pcf.test>\r\nRCPT TO:<inconnu@listes.pcf.test>\r\nDATA\r\n\
                     Subject: x\r\n\r\n..point\r\nfin\n.\r\nQUIT\r\n";
        let replies = dialogue(addr, input, 8).await;
        let codes: Vec<&str> = replies.iter().map(|r| &r[..3]).collect();
        assert_eq!(codes, ["220", "250", "250", "250", "550", "354", "250", "221"], "{replies:?}");
        let mails = memory.mails.lock().expect("lock");
        assert_eq!(mails[0].0.mail_from, "jeanne@example.org");
        assert_eq!(mails[0].0.rcpt_to, ["liste@listes.pcf.test"]);
        assert_eq!(mails[0].1, b"Subject: x\r\n\r\n.point\r\nfin\r\n");
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
        let codes: Vec<&str> = replies.iter().map(|r| &r[..3]).collect();
        assert_eq!(
            codes,
            [
                "220", "503", "250", "552", "250", "250", "354", "552", "250", "250", "354", "250", "500",
                "221"
            ],
            "{replies:?}"
        );
        assert!(replies[7].contains("trop volumineux"), "the size refusal is explained");
        let mails = memory.mails.lock().expect("lock");
        assert_eq!((mails.len(), mails[0].0.mail_from.as_str()), (1, ""), "only the small null-sender mail");
    }

    #[tokio::test]
    async fn lmtp_answers_per_recipient() {
        let (addr, _) = server(Protocol::Lmtp, 1000).await;
        let input = "EHLO a\r\nLHLO mx\r\nMAIL FROM:<x@y>\r\nRCPT TO:<a@b>\r\nRCPT TO:<plein@b>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n";
        let replies = dialogue(addr, input, 9).await;
        let codes: Vec<&str> = replies.iter().map(|r| &r[..3]).collect();
        assert_eq!(codes, ["220", "500", "250", "250", "250", "250", "354", "250", "452"], "{replies:?}");
    }
}
