//! The plain text of an HTML-only reply, in one pass (see [`html_to_text`]).

use super::{
    MAX_INPUT_BYTES, MAX_TEXT_BYTES, count,
    entities::decode_entities,
    join_paragraphs, prefix,
    tag::{BLOCKS, Tag, id_and_class},
};

/// Elements whose content is raw text, never shown: skipped up to their end tag.
const RAW_TEXT: &[&str] = &["script", "style", "title", "textarea", "xml", "template"];

/// A quoted attribute value longer than this is not looked into for a `>`: the first `>` ends
/// the tag (bounds the work on broken HTML).
const MAX_QUOTED_VALUE: usize = 1024;

/// Open `<head>` elements remembered at most; a deeper one is ignored (its text is kept).
const MAX_OPEN_HEADS: usize = 256;

/// Plain text of an HTML body, for replies sent as HTML only; feed the result to
/// [`strip_reply`].
///
/// Drops `<head>`, `<style>`, `<script>`, comments, and the quote containers of Gmail
/// (`div.gmail_quote`), Apple Mail and Thunderbird (`blockquote`, `div.moz-cite-prefix`), new
/// Outlook (`div#mail-editor-reference-message-container`), and everything from Outlook's
/// `div#divRplyFwdMsg` / `div#appendonsend` on. `<br>` is a line break, `<div>`, `<p>` and other
/// blocks start lines (`<p>` but Outlook's `MsoNormal` ones end a paragraph), whitespace is
/// collapsed as a browser would, and the common entities are decoded (named, `&#NNN;`,
/// `&#xHH;`). Broken HTML (unclosed tags, stray `<`) gives its best-effort text, never a panic.
///
/// One pass over the first [`MAX_INPUT_BYTES`] of `html`; the text stops growing past
/// [`MAX_TEXT_BYTES`] (and is never longer than the HTML read, but for a few bytes). A `<head>`
/// never closed is ignored; a raw-text element (`<style>`, `<script>`…) inside a `<head>` ends
/// at its own end tag, as in a browser, even when a `</head>` comes first.
pub fn html_to_text(html: &str) -> String {
    let mut converter = Converter::new(prefix(html, MAX_INPUT_BYTES));
    converter.run();
    count(converter.out.len());
    let text = converter.out.replace('\u{a0}', " ").replace(['\u{200b}', '\u{feff}'], "");
    join_paragraphs(text.split('\n'))
}

/// A remembered search for one byte: it does not occur in `from..at` (`at: None`: nowhere from
/// `from` on). A later search from inside that span is answered without scanning it again.
#[derive(Debug, Clone, Copy, Default)]
struct NextByte {
    known: bool,
    from: usize,
    at: Option<usize>,
}

impl NextByte {
    /// The offset of the first `byte` at or after `from`.
    fn find(&mut self, bytes: &[u8], byte: u8, from: usize) -> Option<usize> {
        if self.known && self.from <= from && self.at.is_none_or(|at| from <= at) {
            return self.at;
        }
        let rest = bytes.get(from..).unwrap_or_default();
        let at = rest.iter().position(|&b| b == byte).map(|p| from + p);
        count(at.map_or(rest.len(), |a| a + 1 - from));
        *self = NextByte { known: true, from, at };
        at
    }
}

/// A `<head>` not closed yet: what the output was when it opened, which its end tag puts back.
///
/// A `<head>` ends at the first `</head>` that brings the count of `<head>` elements open since
/// (itself included, unless written `<head/>`) to zero; with [`Converter::head_depth`] counting
/// every `<head>` and `</head>`, that is the first `</head>` leaving the count below `closes_at`.
#[derive(Debug, Clone, Copy)]
struct Mark {
    len: usize,
    space: bool,
    pre: usize,
    paragraph: bool,
    closes_at: i64,
}

/// Text not written up to an end tag: a quote container's (`name`, with `depth` elements of
/// that name open), or, for Outlook's cut inside a `<head>` (`name: None`), up to that head's
/// end. Either ends too when a `<head>` open before it (one of the first `heads` of the stack)
/// closes.
#[derive(Debug)]
struct Skip {
    name: Option<String>,
    depth: usize,
    heads: usize,
}

/// Tag-scanning states, as bits of [`Converter::dead_ends`].
const PLAIN: u8 = 1;
const AFTER_EQUALS: u8 = 2;

/// The state of one conversion: a scanner over `src` (offsets always on ASCII bytes, so on
/// character boundaries) writing text to `out`, in one pass: `pos` only moves forward, and no
/// search goes over bytes another search already went over (see [`Converter::tag_end`]).
#[derive(Debug)]
struct Converter<'a> {
    src: &'a str,
    /// `src` with ASCII letters lowered: same byte offsets.
    lower: String,
    /// Offset of the last `>` of the input: no tag starts after it.
    last_gt: Option<usize>,
    pos: usize,
    out: String,
    /// Whitespace seen and not yet written (written as one space before the next text).
    space: bool,
    /// Depth of `<pre>` elements, where whitespace is kept.
    pre: usize,
    /// The open `<p>` ends a paragraph (not Outlook's line-per-paragraph `MsoNormal`).
    paragraph: bool,
    /// Inside a quote container: nothing is written until it closes (nothing more at all if it
    /// never does).
    skipping: Option<Skip>,
    /// The `<head>` elements not closed yet, innermost last. An end tag drops what was written
    /// since its `<head>`; a `<head>` never closed drops nothing.
    heads: Vec<Mark>,
    /// `<head>` minus `</head>` tags so far (`<head/>` not counted).
    head_depth: i64,
    /// Searches for the `>` after a tag's start, and for the end of quoted attribute values.
    next_gt: NextByte,
    next_quote: NextByte,
    next_apostrophe: NextByte,
    /// For each offset, the tag-scanning states (bits [`PLAIN`], [`AFTER_EQUALS`]) from which a
    /// scan is known to reach the end of the input without finding the tag's end. Empty until
    /// the first such scan.
    dead_ends: Vec<u8>,
    /// The output budget is spent or everything left is a quoted original.
    done: bool,
}

impl<'a> Converter<'a> {
    fn new(src: &'a str) -> Self {
        count(src.len());
        Converter {
            src,
            lower: src.to_ascii_lowercase(),
            last_gt: src.rfind('>'),
            pos: 0,
            out: String::with_capacity(src.len().min(MAX_TEXT_BYTES) / 2),
            space: false,
            pre: 0,
            paragraph: false,
            skipping: None,
            heads: Vec::new(),
            head_depth: 0,
            next_gt: NextByte::default(),
            next_quote: NextByte::default(),
            next_apostrophe: NextByte::default(),
            dead_ends: Vec::new(),
            done: false,
        }
    }

    fn run(&mut self) {
        let src = self.src;
        while !self.done {
            let Some(rest) = src.get(self.pos..).filter(|r| !r.is_empty()) else { return };
            let lt = rest.find('<');
            count(lt.map_or(rest.len(), |n| n + 1));
            match lt {
                None => {
                    self.text(rest);
                    self.pos = src.len();
                }
                Some(0) => self.markup(),
                Some(n) => {
                    self.text(&rest[..n]);
                    self.pos += n;
                }
            }
            if self.out.len() > MAX_TEXT_BYTES {
                self.done = true;
            }
        }
    }

    /// At a `<`: a comment, a tag, or a literal `<`.
    fn markup(&mut self) {
        let at = self.pos;
        if self.lower.get(at..).is_some_and(|r| r.starts_with("<!--")) {
            self.pos = self.skip_comment(at);
            return;
        }
        let Some(tag) = self.parse_tag(at) else {
            self.text("<");
            self.pos = at + 1;
            return;
        };
        self.pos = tag.end;
        if tag.name == "head" {
            self.head(&tag);
        } else if let Some(skip) = &mut self.skipping {
            // Inside a quote container only its own kind of element counts.
            if skip.name.as_ref() == Some(&tag.name) {
                if tag.closing {
                    skip.depth -= 1;
                } else if !tag.self_closing {
                    skip.depth += 1;
                }
                if skip.depth == 0 {
                    self.skipping = None;
                }
            }
        } else if tag.closing {
            self.close(&tag);
        } else if tag.is_cut() {
            // Everything from here on is the quoted original, unless this is inside a `<head>`
            // that closes later.
            match self.heads.len() {
                0 => self.done = true,
                heads => self.skipping = Some(Skip { name: None, depth: 0, heads }),
            }
        } else if RAW_TEXT.contains(&tag.name.as_str()) && !tag.self_closing {
            self.skip_raw_text(&tag.name);
        } else if tag.is_quote_container() && !tag.is_void() {
            // Quotes are blocks: the text around them stays on separate lines.
            self.block();
            self.skipping = Some(Skip { name: Some(tag.name), depth: 1, heads: self.heads.len() });
        } else {
            self.open(&tag);
        }
    }

    /// A `<head>`, `<head/>` or `</head>`, wherever it is (but in raw text and comments): a
    /// `<head>` drops its content when it closes, and is ignored when it never does.
    fn head(&mut self, tag: &Tag) {
        if !tag.closing {
            if !tag.self_closing {
                self.head_depth += 1;
            }
            if self.skipping.is_none() && self.heads.len() < MAX_OPEN_HEADS {
                let (len, space, pre, paragraph) = (self.out.len(), self.space, self.pre, self.paragraph);
                self.heads.push(Mark { len, space, pre, paragraph, closes_at: self.head_depth });
            }
            return;
        }
        self.head_depth -= 1;
        // Every head this end tag closes; the outermost one's content goes.
        let mut outermost = None;
        while self.heads.last().is_some_and(|m| m.closes_at > self.head_depth) {
            outermost = self.heads.pop();
        }
        if let Some(mark) = outermost {
            self.out.truncate(mark.len);
            (self.space, self.pre, self.paragraph) = (mark.space, mark.pre, mark.paragraph);
            if self.skipping.as_ref().is_some_and(|s| self.heads.len() < s.heads) {
                self.skipping = None;
            }
        }
    }

    /// The offset after the comment starting at `at` (the end of the input if unclosed).
    fn skip_comment(&self, at: usize) -> usize {
        let rest = self.lower.get(at + 4..).unwrap_or_default();
        let end = rest.find("-->");
        count(end.map_or(rest.len(), |e| e + 3));
        end.map_or(self.src.len(), |e| at + 4 + e + 3)
    }

    /// Text between tags, written unless inside a quote container.
    fn text(&mut self, raw: &str) {
        if self.skipping.is_none() {
            self.write(raw);
        }
    }

    /// The tag starting at the `<` at `at`, or `None` if that `<` starts no tag.
    fn parse_tag(&mut self, at: usize) -> Option<Tag> {
        let bytes = self.src.as_bytes();
        let starts_tag = match *bytes.get(at + 1)? {
            b'/' => bytes.get(at + 2).is_some_and(u8::is_ascii_alphabetic),
            next => next.is_ascii_alphabetic() || matches!(next, b'!' | b'?'),
        };
        if !starts_tag {
            return None;
        }
        let end = self.tag_end(at)?;
        let inner = self.lower.get(at + 1..end)?;
        count(inner.len());
        let closing = inner.starts_with('/');
        let inner = inner.trim_start_matches(['/', '!', '?']);
        let name_len = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'));
        let (name, attributes) = inner.split_at(name_len.unwrap_or(inner.len()));
        let (id, class) = id_and_class(attributes);
        Some(Tag {
            name: name.to_owned(),
            closing,
            self_closing: attributes.trim_end().ends_with('/'),
            id,
            class,
            end: end + 1,
        })
    }

    /// The offset of the `>` ending the tag that starts at `at`: the first one outside a quoted
    /// attribute value, or the first one at all if the quotes never close (broken HTML).
    ///
    /// Linear over the whole conversion: a scan that finds the tag's end is followed by a jump
    /// past it, and a scan that reaches the end of the input without finding it marks the
    /// (offset, state) pairs it went through, where any later scan stops.
    fn tag_end(&mut self, at: usize) -> Option<usize> {
        if at >= self.last_gt? {
            return None;
        }
        let first_gt = self.next_gt.find(self.src.as_bytes(), b'>', at)?;
        match self.scan_tag(at, false) {
            Some(end) => Some(end),
            None => {
                self.scan_tag(at, true);
                Some(first_gt)
            }
        }
    }

    /// Walks the tag starting at `at`: the offset of the first `>` outside quoted values, or
    /// `None` when the input ends first or a quote never closes. `mark`: record the walk's
    /// (offset, state) pairs as dead ends.
    fn scan_tag(&mut self, at: usize, mark: bool) -> Option<usize> {
        let bytes = self.src.as_bytes();
        if mark && self.dead_ends.is_empty() {
            self.dead_ends = vec![0; bytes.len()];
        }
        let mut i = at + 1;
        let mut after_equals = false;
        let mut steps = 0;
        let end = loop {
            let Some(&byte) = bytes.get(i) else { break None };
            let state = if after_equals { AFTER_EQUALS } else { PLAIN };
            match self.dead_ends.get_mut(i) {
                Some(dead) if *dead & state != 0 => break None,
                Some(dead) if mark => *dead |= state,
                _ => {}
            }
            steps += 1;
            match byte {
                b'>' => break Some(i),
                b'=' => after_equals = true,
                q @ (b'"' | b'\'') if after_equals => {
                    let next = if q == b'"' { &mut self.next_quote } else { &mut self.next_apostrophe };
                    match next.find(bytes, q, i + 1) {
                        Some(close) if close - (i + 1) < MAX_QUOTED_VALUE => i = close,
                        _ => break None,
                    }
                    after_equals = false;
                }
                b if b.is_ascii_whitespace() => {}
                _ => after_equals = false,
            }
            i += 1;
        };
        count(steps);
        end
    }

    /// Skips to the end tag of the raw-text element `name` (or the end of the input).
    fn skip_raw_text(&mut self, name: &str) {
        let closing = format!("</{name}");
        let rest = self.lower.get(self.pos..).unwrap_or_default();
        let end = rest.find(&closing).and_then(|start| Some(start + rest[start..].find('>')? + 1));
        count(end.unwrap_or(rest.len()));
        self.pos = end.map_or(self.src.len(), |e| self.pos + e);
    }

    fn open(&mut self, tag: &Tag) {
        match tag.name.as_str() {
            "br" => self.newline(),
            "p" => {
                self.block();
                self.paragraph = !tag.has_class(&["msonormal"]);
            }
            "li" => {
                self.block();
                self.out.push_str("- ");
            }
            "pre" => {
                self.block();
                self.pre += 1;
            }
            "td" | "th" => self.space = true,
            name if BLOCKS.contains(&name) => self.block(),
            _ => {}
        }
    }

    fn close(&mut self, tag: &Tag) {
        match tag.name.as_str() {
            "p" => {
                self.block();
                if std::mem::take(&mut self.paragraph) && !self.out.is_empty() && !self.out.ends_with("\n\n")
                {
                    self.out.push('\n');
                }
            }
            "pre" => {
                self.pre = self.pre.saturating_sub(1);
                self.block();
            }
            "td" | "th" => self.space = true,
            name if BLOCKS.contains(&name) => self.block(),
            _ => {}
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.space = false;
    }

    /// Starts a new line unless at the start of one.
    fn block(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.space = false;
    }

    /// Writes text: entities decoded, whitespace collapsed (kept inside `<pre>`).
    fn write(&mut self, raw: &str) {
        count(raw.len());
        let decoded = decode_entities(raw);
        if self.pre > 0 {
            let text = decoded.replace("\r\n", "\n").replace('\r', "\n");
            // Past the budget by a character at most, so that `run` stops.
            let room = MAX_TEXT_BYTES.saturating_sub(self.out.len()) + 4;
            self.out.push_str(prefix(&text, room));
            self.space = false;
            return;
        }
        for c in decoded.chars() {
            if self.out.len() > MAX_TEXT_BYTES {
                // The budget is spent: `run` stops after this.
                return;
            }
            if c.is_ascii_whitespace() {
                self.space = true;
                continue;
            }
            if self.space && !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push(c);
        }
    }
}
