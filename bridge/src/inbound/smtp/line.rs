//! Reading from a peer that may not play by the rules: every read waits at most a timeout,
//! command lines are bounded, and message data is decoded as it streams in, so memory stays
//! bounded by the message size limit even for a single endless line.
//!
//! Lines end with CRLF only. A CR or LF alone (RFC 5321 §2.3.8 forbids them) never ends a line,
//! a command, or the message: in a command it makes the command refused, in message data the
//! whole message refused once its real end (`CRLF . CRLF`) has been read. So `\n.\n`, `\r.\r`
//! or `\n.\r\n` can never end the data early and smuggle a second message in (SMTP smuggling).

use std::{io, time::Duration};

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Why the session cannot go on reading.
#[derive(Debug)]
pub(super) enum Stop {
    /// The peer sent nothing within the timeout.
    Timeout,
    /// The peer closed the connection.
    Closed,
    Io(io::Error),
}

/// A command line, as read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// The line without its CRLF.
    Text(Vec<u8>),
    /// A CR or LF alone in the line, or a line ended by LF only.
    BareNewline,
    /// Longer than the limit: what was read of it is dropped, the rest is still to be read.
    TooLong,
}

/// What the message data turned out to be, read up to its end.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Data {
    /// The message, dot-stuffing undone.
    Message(Vec<u8>),
    /// Above the size limit; read to its end and dropped.
    TooBig,
    /// A CR or LF alone somewhere; read to its end and dropped.
    BareNewline,
    /// Still no end after twice the size limit: reading stopped there.
    Endless,
}

/// The buffered read half of a session.
#[derive(Debug)]
pub(super) struct Input<R> {
    reader: R,
    timeout: Duration,
}

impl<R: AsyncBufRead + Unpin> Input<R> {
    pub(super) fn new(reader: R, timeout: Duration) -> Self {
        Self { reader, timeout }
    }

    /// The bytes buffered, after waiting at most the timeout for some; `Closed` at the end.
    async fn fill(&mut self) -> Result<&[u8], Stop> {
        match tokio::time::timeout(self.timeout, self.reader.fill_buf()).await {
            Err(_) => Err(Stop::Timeout),
            Ok(Err(e)) => Err(Stop::Io(e)),
            Ok(Ok([])) => Err(Stop::Closed),
            Ok(Ok(buf)) => Ok(buf),
        }
    }

    /// One command line of at most `max` bytes, CRLF included.
    pub(super) async fn line(&mut self, max: usize) -> Result<Line, Stop> {
        let mut line = Vec::new();
        loop {
            let room = max.saturating_sub(line.len());
            let buf = self.fill().await?;
            match buf.iter().position(|&b| b == b'\n') {
                Some(end) if end < room => {
                    line.extend_from_slice(&buf[..=end]);
                    self.reader.consume(end + 1);
                    return Ok(classify(line));
                }
                _ if buf.len() >= room => {
                    self.reader.consume(room);
                    return Ok(Line::TooLong);
                }
                _ => {
                    line.extend_from_slice(buf);
                    let n = buf.len();
                    self.reader.consume(n);
                }
            }
        }
    }

    /// Skips the rest of a line; false when no LF came within `max` bytes.
    pub(super) async fn skip_line(&mut self, max: usize) -> Result<bool, Stop> {
        let mut skipped = 0;
        while skipped < max {
            let buf = self.fill().await?;
            let room = max - skipped;
            if let Some(end) = buf.iter().take(room).position(|&b| b == b'\n') {
                self.reader.consume(end + 1);
                return Ok(true);
            }
            let n = buf.len().min(room);
            self.reader.consume(n);
            skipped += n;
        }
        Ok(false)
    }

    /// Message data after `354`, up to the line holding only a dot; at most `max` bytes kept.
    pub(super) async fn data(&mut self, max: usize) -> Result<Data, Stop> {
        let mut decoder = Decoder::new(max);
        let cutoff = max.saturating_mul(2).saturating_add(64 * 1024);
        loop {
            let buf = self.fill().await?;
            let (used, end) = decoder.feed(buf);
            self.reader.consume(used);
            if end {
                return Ok(decoder.finish());
            }
            if decoder.read > cutoff {
                return Ok(Data::Endless);
            }
        }
    }
}

/// A command line with its CRLF: the text, or why not.
fn classify(mut line: Vec<u8>) -> Line {
    if !line.ends_with(b"\r\n") {
        return Line::BareNewline;
    }
    line.truncate(line.len() - 2);
    if line.iter().any(|&b| b == b'\r' || b == b'\n') { Line::BareNewline } else { Line::Text(line) }
}

/// Where the decoder stands in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Just after a CRLF (or the `DATA` command's).
    LineStart,
    /// A dot at the start of a line.
    Dot,
    /// `.` CR at the start of a line.
    DotCr,
    /// Inside a line.
    Middle,
    /// A CR inside a line.
    Cr,
}

/// Undoes SMTP's transparency (RFC 5321 §4.5.2) and finds the end of data, byte by byte.
#[derive(Debug)]
struct Decoder {
    at: At,
    data: Vec<u8>,
    /// Decoded size so far, counted on even when above `max`.
    size: usize,
    max: usize,
    /// Raw bytes read.
    read: usize,
    bare: bool,
}

impl Decoder {
    fn new(max: usize) -> Self {
        Self { at: At::LineStart, data: Vec::new(), size: 0, max, read: 0, bare: false }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.size <= self.max {
            self.data.extend_from_slice(bytes);
        } else if !self.data.is_empty() {
            self.data = Vec::new();
        }
    }

    /// A CR or LF alone: the message will be refused; a line start after it is not one.
    fn bare(&mut self, byte: u8) {
        self.bare = true;
        self.emit(&[byte]);
        self.at = At::Middle;
    }

    /// Takes bytes from `buf`: how many it used, and whether the data ended there.
    fn feed(&mut self, buf: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < buf.len() {
            let byte = buf[i];
            i += 1;
            match (self.at, byte) {
                (At::Middle, _) => {
                    // The common case: copy up to the next CR or LF at once.
                    let run = buf[i - 1..].iter().position(|&b| b == b'\r' || b == b'\n');
                    let run = run.unwrap_or(buf.len() - (i - 1));
                    if run > 0 {
                        self.emit(&buf[i - 1..i - 1 + run]);
                        i += run - 1;
                    } else if byte == b'\r' {
                        self.at = At::Cr;
                    } else {
                        self.bare(b'\n');
                    }
                }
                (At::LineStart, b'.') => self.at = At::Dot,
                (At::LineStart, b'\r') => self.at = At::Cr,
                (At::Dot, b'\r') => self.at = At::DotCr,
                (At::DotCr, b'\n') => {
                    self.read += i;
                    return (i, true);
                }
                (At::Cr, b'\n') => {
                    self.emit(b"\r\n");
                    self.at = At::LineStart;
                }
                (At::Cr | At::DotCr, _) => {
                    // The CR was alone; the byte after it is looked at again.
                    self.bare(b'\r');
                    i -= 1;
                }
                (At::LineStart | At::Dot, b'\n') => self.bare(b'\n'),
                // A leading dot is dropped (dot-stuffing); what follows starts the line's text.
                (At::LineStart | At::Dot, _) => {
                    self.at = At::Middle;
                    i -= 1;
                }
            }
        }
        self.read += buf.len();
        (buf.len(), false)
    }

    fn finish(self) -> Data {
        if self.bare {
            Data::BareNewline
        } else if self.size > self.max {
            Data::TooBig
        } else {
            Data::Message(self.data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `raw` fed in pieces of `step` bytes: the outcome and the bytes left after the end.
    fn decode(raw: &[u8], max: usize, step: usize) -> (Option<Data>, usize) {
        let mut decoder = Decoder::new(max);
        let mut pos = 0;
        while pos < raw.len() {
            let piece = &raw[pos..(pos + step).min(raw.len())];
            let (used, end) = decoder.feed(piece);
            pos += used;
            if end {
                return (Some(decoder.finish()), raw.len() - pos);
            }
        }
        (None, 0)
    }

    #[test]
    fn data_is_unstuffed_and_ends_only_at_crlf_dot_crlf() {
        for step in [1, 2, 3, 1000] {
            let (data, left) = decode(b"Subject: x\r\n\r\n..point\r\n.\r\nfin\r\n.\r\nQUIT\r\n", 100, step);
            assert_eq!(data, Some(Data::Message(b"Subject: x\r\n\r\n.point\r\n".to_vec())), "{step}");
            assert_eq!(left, b"fin\r\n.\r\nQUIT\r\n".len());
            assert_eq!(decode(b".\r\n", 100, step), (Some(Data::Message(Vec::new())), 0), "empty message");
            for smuggled in
                [&b"a\n.\nb\r\n.\r\n"[..], b"a\r.\rb\r\n.\r\n", b"a\n.\r\nb\r\n.\r\n", b".\n.\r\n.\r\n"]
            {
                let (data, left) = decode(smuggled, 100, step);
                assert_eq!(
                    (data, left),
                    (Some(Data::BareNewline), 0),
                    "{:?}",
                    String::from_utf8_lossy(smuggled)
                );
            }
            assert_eq!(decode(b"a\r\nb\r\r\n.\r\n", 100, step).0, Some(Data::BareNewline), "CR CR LF");
            assert_eq!(decode(b"a\r\n.x\r.\r\n.\r\n", 100, step).0, Some(Data::BareNewline));
            assert_eq!(decode(b"a\r\n.\r", 100, step), (None, 0), "not ended yet");
            assert_eq!(decode(&[b'x'; 300], 100, step), (None, 0));
            let big = [&[b'x'; 300][..], b"\r\n.\r\n"].concat();
            assert_eq!(decode(&big, 100, step).0, Some(Data::TooBig));
        }
    }

    #[test]
    fn command_lines_need_crlf() {
        assert_eq!(classify(b"NOOP\r\n".to_vec()), Line::Text(b"NOOP".to_vec()));
        assert_eq!(classify(b"NOOP\n".to_vec()), Line::BareNewline);
        assert_eq!(classify(b"NO\rOP\r\n".to_vec()), Line::BareNewline);
    }
}
