//! A small SMTP (RFC 5321) and LMTP (RFC 2033) receiving server on tokio: the listener the mail
//! domain's MTA hands mail to. It sits behind that MTA on loopback or a private network, so it
//! offers neither STARTTLS nor AUTH; the MTA does TLS, SPF, DKIM and DMARC.
//!
//! It trusts its peers no more than it must:
//! - a peer outside `allowed_peers` (when set) gets 554 at connect; a session above
//!   `max_connections` gets `421 4.3.2` and is closed at once;
//! - every read and write waits at most `timeout`, then the session ends with 421;
//! - a command line is at most 1000 octets, CRLF included (RFC 5321 asks 512 of clients): a
//!   longer one gets 500, and the session is closed with 421 when the line goes on past 64 KiB;
//!   20 refused commands close the session too;
//! - message data is decoded as it arrives and kept up to `max_message_bytes`: a larger message
//!   is read to its end and refused with 552, and when it goes on past twice the limit reading
//!   stops (552, then 421 and the connection closed), so even one endless line is bounded;
//! - lines end with CRLF only ([`line`]): a CR or LF alone in a command gets 500; in message
//!   data it never ends the data, and the whole message is refused with `554 5.5.2` once its real
//!   end is read. No bare LF is normalised: that is what makes SMTP smuggling (`\n.\n` read as
//!   the end by one server and not by another) impossible here, like Postfix 3.9's
//!   `smtpd_forbid_bare_newline`. MTAs write CRLF; only broken or hostile peers are refused.
//!
//! Pipelining works (commands are read line by line from a buffered stream); a refused message
//! (too big, bare newline) leaves the session going on.

mod line;
#[cfg(test)]
mod tests;

use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use relais_core::config::IpNet;
use tokio::{
    io::{AsyncBufRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};

use self::line::{Data, Input, Line, Stop};

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
    /// At `RCPT TO`: is this recipient accepted? Refusing here, during the dialogue, leaves the
    /// answer to the sending MTA instead of mailing it to a sender who may be forged.
    fn check_recipient(&self, rcpt: &str) -> impl Future<Output = Result<(), Reply>> + Send;
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
    /// The longest wait for each read from, or write to, a peer.
    pub timeout: Duration,
    /// Sessions served at once.
    pub max_connections: usize,
    /// Peers allowed to connect; empty: any.
    pub allowed_peers: Vec<IpNet>,
}

impl ServerConfig {
    fn allows(&self, ip: IpAddr) -> bool {
        self.allowed_peers.is_empty() || self.allowed_peers.iter().any(|net| net.contains(ip))
    }
}

/// Longest command line, CRLF included.
const MAX_COMMAND_LINE: usize = 1000;
/// How much more of a too long command line is skipped before giving up on the peer.
const MAX_SKIPPED_LINE: usize = 64 * 1024;
/// Refused commands before the session is closed.
const MAX_ERRORS: usize = 20;

/// Serves connections from `listener` until `shutdown` resolves.
pub async fn serve<D: Delivery>(
    listener: TcpListener,
    config: ServerConfig,
    delivery: Arc<D>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let permits = Arc::new(Semaphore::new(config.max_connections));
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
                if !config.allows(peer.ip()) {
                    tracing::warn!(%peer, "mail listener: peer not in inbound_allowed_peers, refused");
                    tokio::spawn(turn_away(stream, config.timeout, "554 5.7.1 Not an allowed peer\r\n"));
                    continue;
                }
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, limit = config.max_connections, "mail listener: too many sessions");
                    let reply = "421 4.3.2 Too many connections, try again later\r\n";
                    tokio::spawn(turn_away(stream, config.timeout, reply));
                    continue;
                };
                let (config, delivery) = (config.clone(), delivery.clone());
                tokio::spawn(async move {
                    if let Err(e) = Session::new(&config, delivery, peer).run(stream, permit).await {
                        tracing::debug!(error = %e, "mail session ended with an error");
                    }
                });
            }
            () = &mut shutdown => return Ok(()),
        }
    }
}

/// Answers a connection that will not be served, and closes it.
async fn turn_away(mut stream: TcpStream, timeout: Duration, reply: &'static str) {
    let _ = tokio::time::timeout(timeout, stream.write_all(reply.as_bytes())).await;
}

/// The write half of a session: each write waits at most the timeout.
struct Output<W> {
    write: W,
    timeout: Duration,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    async fn send(&mut self, text: &str) -> Result<(), Stop> {
        match tokio::time::timeout(self.timeout, self.write.write_all(text.as_bytes())).await {
            Err(_) => Err(Stop::Timeout),
            Ok(Err(e)) => Err(Stop::Io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }
}

/// Whether the session goes on after a command.
enum Next {
    Go,
    Close,
}

struct Session<'a, D> {
    config: &'a ServerConfig,
    delivery: Arc<D>,
    peer: SocketAddr,
    helo: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    errors: usize,
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
        Self { config, delivery, peer, helo: None, mail_from: None, rcpt_to: Vec::new(), errors: 0 }
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    async fn run(mut self, stream: TcpStream, permit: OwnedSemaphorePermit) -> std::io::Result<()> {
        let (read, write) = stream.into_split();
        let mut input = Input::new(BufReader::with_capacity(64 * 1024, read), self.config.timeout);
        let mut output = Output { write, timeout: self.config.timeout };
        // Declared last, so dropped first: the session's place is free before the peer sees the
        // connection close.
        let _permit = permit;
        match self.dialogue(&mut input, &mut output).await {
            Ok(()) | Err(Stop::Closed) => Ok(()),
            Err(Stop::Timeout) => {
                let _ = output.send("421 4.4.2 Timeout, closing\r\n").await;
                Ok(())
            }
            Err(Stop::Io(e)) => Err(e),
        }
    }

    async fn dialogue<R, W>(&mut self, input: &mut Input<R>, output: &mut Output<W>) -> Result<(), Stop>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        output.send(&format!("220 {} ESMTP Relais\r\n", self.config.hostname)).await?;
        loop {
            if let Next::Close = self.turn(input, output).await? {
                return Ok(());
            }
        }
    }

    /// Reads and answers one command (and its message, for `DATA`).
    async fn turn<R, W>(&mut self, input: &mut Input<R>, output: &mut Output<W>) -> Result<Next, Stop>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let text = match input.line(MAX_COMMAND_LINE).await? {
            Line::Text(text) => String::from_utf8_lossy(&text).into_owned(),
            Line::BareNewline => {
                output.send("500 5.5.2 Syntax error: lines end with <CR><LF>\r\n").await?;
                return self.refused(output).await;
            }
            Line::TooLong => {
                output.send("500 5.5.2 Line too long\r\n").await?;
                if !input.skip_line(MAX_SKIPPED_LINE).await? {
                    output.send("421 4.7.0 Line too long, closing\r\n").await?;
                    return Ok(Next::Close);
                }
                return self.refused(output).await;
            }
        };
        match self.command(&text).await {
            Step::Reply(reply) => {
                output.send(&reply.line()).await?;
                if reply.code >= 500 {
                    return self.refused(output).await;
                }
            }
            Step::Raw(lines) => output.send(&lines).await?,
            Step::Quit => {
                output.send("221 2.0.0 Bye\r\n").await?;
                return Ok(Next::Close);
            }
            Step::Data => {
                output.send("354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let data = input.data(self.config.max_message_bytes).await?;
                return self.finish_data(data, output).await;
            }
        }
        Ok(Next::Go)
    }

    /// Counts a refused command; too many close the session.
    async fn refused<W: AsyncWrite + Unpin>(&mut self, output: &mut Output<W>) -> Result<Next, Stop> {
        self.errors += 1;
        if self.errors < MAX_ERRORS {
            return Ok(Next::Go);
        }
        output.send("421 4.7.0 Too many errors, closing\r\n").await?;
        Ok(Next::Close)
    }

    async fn command(&mut self, line: &str) -> Step {
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        match (verb.to_ascii_uppercase().as_str(), self.config.protocol) {
            ("EHLO", Protocol::Smtp) | ("LHLO", Protocol::Lmtp) => self.hello(arg, true),
            ("HELO", Protocol::Smtp) => self.hello(arg, false),
            ("HELO" | "EHLO", Protocol::Lmtp) => Step::Reply(Reply::new(500, "5.5.1", "Use LHLO")),
            ("MAIL", _) => Step::Reply(self.mail(arg)),
            ("RCPT", _) => Step::Reply(self.rcpt(arg).await),
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

    async fn rcpt(&mut self, arg: &str) -> Reply {
        if self.mail_from.is_none() {
            return bad_sequence();
        }
        let Some((path, _)) = strip_prefix_ci(arg, "TO:").and_then(path_and_params) else {
            return Reply::new(501, "5.5.4", "Syntax: RCPT TO:<address>");
        };
        if self.rcpt_to.len() >= self.config.max_recipients {
            return Reply::new(452, "4.5.3", "Too many recipients");
        }
        match self.delivery.check_recipient(&path).await {
            Ok(()) => {
                self.rcpt_to.push(path);
                ok("Recipient OK")
            }
            Err(reply) => reply,
        }
    }

    async fn finish_data<W: AsyncWrite + Unpin>(
        &mut self,
        data: Data,
        output: &mut Output<W>,
    ) -> Result<Next, Stop> {
        let recipients = std::mem::take(&mut self.rcpt_to);
        let mail_from = self.mail_from.take().unwrap_or_default();
        let endless = data == Data::Endless;
        let refusal = match data {
            Data::Message(data) => {
                self.deliver(mail_from, recipients, data, output).await?;
                return Ok(Next::Go);
            }
            Data::TooBig | Data::Endless => too_big(self.config.max_message_bytes),
            Data::BareNewline => {
                Reply::new(554, "5.5.2", "Bare CR or LF in the message: lines must end with <CR><LF>")
            }
        };
        tracing::info!(peer = %self.peer, reply = refusal.code, "mail listener: message refused");
        let times = if self.config.protocol == Protocol::Lmtp { recipients.len() } else { 1 };
        for _ in 0..times {
            output.send(&refusal.line()).await?;
        }
        if endless {
            output.send("421 4.7.0 Message too big, closing\r\n").await?;
            return Ok(Next::Close);
        }
        Ok(Next::Go)
    }

    async fn deliver<W: AsyncWrite + Unpin>(
        &mut self,
        mail_from: String,
        recipients: Vec<String>,
        data: Vec<u8>,
        output: &mut Output<W>,
    ) -> Result<(), Stop> {
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
                    output.send(&reply.line()).await?;
                }
            }
            Protocol::Smtp => {
                let reply =
                    replies.into_iter().find(|r| r.code >= 400).unwrap_or_else(|| ok("Message accepted"));
                output.send(&reply.line()).await?;
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
