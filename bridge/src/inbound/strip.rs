//! The new text of an email reply: quoted history, attribution lines, forwarded-header blocks
//! and signatures removed, for the clients members use (Gmail, Outlook, Apple Mail, Thunderbird,
//! Orange and SFR webmails), in French and English; and the plain text of an HTML-only reply.
//! Pure functions, no allocation-heavy machinery, never panics on odd input.
//!
//! Linear time on any input, with a budget: only the first [`MAX_INPUT_BYTES`] of a body are
//! read, and the text of a reply is cut after [`MAX_TEXT_BYTES`] (marked [`TRUNCATED`]). No
//! search starts again from an earlier offset: the HTML conversion is one pass (an element
//! whose text is dropped is skipped as the pass goes, an unclosed `<head>` costs nothing more),
//! and the line scan of a reply looks a bounded number of lines around each line.
//! [`work_of`] counts the steps taken (bytes scanned, lines visited), for the tests that prove
//! it.
//!
//! How a reply is read ([`strip_reply`]):
//! - the quoted history starts at an attribution line ("Le … a écrit :", "On … wrote:", possibly
//!   wrapped over two or three lines), an Outlook/webmail header block ("De : … / Envoyé : … /
//!   À : … / Objet : …", with or without a line of underscores or "-----Message d'origine-----"),
//!   a separator line ("----- Mail original -----", "----- Mail d'origine -----"…) or Orange's
//!   "> Message du …" block; everything from there on is dropped;
//! - except when nothing new stands above a ">"-quoting attribution: then the member answered
//!   below or between the quotes (bottom posting), and their unquoted lines are kept;
//! - lines starting with ">" are dropped wherever they are (inline answers keep the answers);
//! - a line "-- " (or "--") starts the signature, dropped with everything below it;
//! - mobile and webmail footers ("Envoyé de mon iPhone", "Get Outlook for iOS"…) are dropped
//!   when they are the last non-blank lines;
//! - blank lines at both ends are trimmed, runs of blank lines become one, line ends are trimmed.

use std::cell::Cell;

/// Only the first this many bytes of a body (HTML or text) are read: a reply's new text is at
/// its top, and a crafted mail of many megabytes costs no more than this.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// The text of a reply is cut after this many bytes: it is posted as one Matrix event, which
/// holds at most 64 KiB with its JSON (where a line end takes two bytes).
pub const MAX_TEXT_BYTES: usize = 30 * 1024;

/// Ends a reply cut at [`MAX_TEXT_BYTES`].
pub const TRUNCATED: &str = "\n\n[…] (message tronqué)";

thread_local! {
    /// Steps taken by this module's functions on this thread (see [`work_of`]).
    static WORK: Cell<u64> = const { Cell::new(0) };
}

/// Counts `steps` units of work (bytes scanned, lines visited).
fn count(steps: usize) {
    WORK.with(|w| w.set(w.get().saturating_add(u64::try_from(steps).unwrap_or(u64::MAX))));
}

/// Runs `f` and returns its result with the steps this module took meanwhile (bytes scanned,
/// lines visited), for tests and benchmarks proving the conversion linear in its input.
#[doc(hidden)]
pub fn work_of<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = WORK.with(Cell::get);
    let out = f();
    (out, WORK.with(Cell::get).saturating_sub(before))
}

/// The longest prefix of `text` of at most `max` bytes ending on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// Titles of separator lines once their dashes are removed ("-----Original Message-----").
const SEPARATOR_TITLES: &[&str] = &[
    "message d'origine",
    "message d’origine",
    "original message",
    "mail original",
    "mail d'origine",
    "mail d’origine",
    "message original",
    "courriel original",
    "message transféré",
    "message transfere",
    "message transmis",
    "forwarded message",
    "e-mail d'origine",
];

/// Whole lines that start a forwarded original (Apple Mail).
const SEPARATOR_LINES: &[&str] =
    &["begin forwarded message:", "début du message réexpédié :", "début du message réexpédié:"];

/// Header names that open a quoted header block ("De : …", "From: …").
const FROM_HEADERS: &[&str] = &["de", "from", "expéditeur", "expediteur"];

/// Header names of the rest of a quoted header block.
const OTHER_HEADERS: &[&str] = &[
    "envoyé",
    "envoye",
    "sent",
    "date",
    "à",
    "a",
    "to",
    "cc",
    "cci",
    "copie à",
    "copie a",
    "répondre à",
    "repondre a",
    "reply-to",
    "objet",
    "subject",
];

/// The header names one of which every quoted header block has.
const SUBJECT_HEADERS: &[&str] = &["objet", "subject"];

/// How an attribution line ends (normalised: lower case, accents of "écrit" possibly lost).
const ATTRIBUTION_ENDINGS: &[&str] = &["écrit :", "écrit:", "ecrit :", "ecrit:", "wrote:", "wrote :"];

/// Beginnings of the footers mail apps add under a message (normalised, lower case).
const FOOTERS: &[&str] = &[
    "envoyé de mon ",
    "envoye de mon ",
    "envoyé depuis mon ",
    "envoye depuis mon ",
    "envoyé à partir de outlook",
    "envoyé à partir de courrier",
    "envoyé depuis outlook",
    "envoyé depuis yahoo",
    "envoyé depuis l'application",
    "envoyé avec proton",
    "envoyé avec la messagerie sécurisée proton",
    "obtenir outlook pour ",
    "télécharger outlook pour ",
    "provenance : courrier pour windows",
    "sent from my ",
    "sent from outlook",
    "sent from mail for windows",
    "sent from yahoo mail",
    "sent with proton mail",
    "get outlook for ",
];

/// A footer is a short line: longer ones are the member's own text.
const FOOTER_MAX_CHARS: usize = 80;

/// How far below an attribution we look for the first quoted line.
const QUOTE_LOOKAHEAD: usize = 4;

/// The new text of an email reply: quoted history, attribution lines, forwarded-header blocks,
/// signatures and mobile footers removed; blank lines at both ends trimmed, inner paragraphs
/// kept (runs of blank lines become one).
///
/// Accepts `\r\n`, `\r` or `\n` line ends; the result uses `\n`.
///
/// When the reply holds nothing but quoted text (or only a signature or footer), the result is
/// an empty string, never the quoted text: the caller decides what to answer to an empty reply.
///
/// Reads only the first [`MAX_INPUT_BYTES`]; a result longer than [`MAX_TEXT_BYTES`] is cut there
/// and ends with [`TRUNCATED`].
pub fn strip_reply(text: &str) -> String {
    let text = prefix(text, MAX_INPUT_BYTES);
    count(text.len());
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut kept = new_text_lines(&lines);
    while kept.last().is_some_and(|l| l.trim().is_empty() || is_footer(l)) {
        kept.pop();
    }
    cap_text(join_paragraphs(kept))
}

/// `text` cut after [`MAX_TEXT_BYTES`] (trailing blanks dropped), then [`TRUNCATED`] added.
fn cap_text(mut text: String) -> String {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    text.truncate(prefix(&text, MAX_TEXT_BYTES).trim_end().len());
    text.push_str(TRUNCATED);
    text
}

/// Whether the quoted history begins with a ">"-quoting attribution (which a member may answer
/// below) or with a header block or separator (after which nothing is the member's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HistoryKind {
    Attribution,
    Block,
}

/// Where the quoted history starts (`start`) and the last line of its attribution (`end`).
#[derive(Debug, Clone, Copy)]
struct History {
    start: usize,
    end: usize,
    kind: HistoryKind,
}

/// The member's lines, in order: up to the history, signature and quoted lines left out; below
/// a ">"-quoting attribution too when nothing new stands above it.
///
/// One pass: each history found ends the search that found it, and the next search starts below
/// it; whether anything new was kept is carried along, never recomputed.
fn new_text_lines<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let mut kept: Vec<&'a str> = Vec::new();
    let mut only_blank = true;
    let mut rest = lines;
    loop {
        let history = find_history(rest);
        let end = history.map_or(rest.len(), |h| h.start);
        for line in &rest[..end] {
            count(1);
            if is_signature_delimiter(line) {
                return kept;
            }
            if !is_quoted(line) {
                only_blank &= line.trim().is_empty();
                kept.push(line);
            }
        }
        match history {
            Some(h) if h.kind == HistoryKind::Attribution && only_blank => {
                rest = rest.get(h.end + 1..).unwrap_or_default();
            }
            _ => return kept,
        }
    }
}

fn find_history(lines: &[&str]) -> Option<History> {
    (0..lines.len()).find_map(|i| history_at(lines, i))
}

/// The history starting at (or, for a wrapped attribution, ending at) line `i`, if any.
fn history_at(lines: &[&str], i: usize) -> Option<History> {
    let line = lines[i];
    count(1);
    if line.trim().is_empty() {
        return None;
    }
    let block = History { start: i, end: i, kind: HistoryKind::Block };
    if is_quoted(line) {
        // Orange webmail: "> Message du 23/11/26 18:02" over a quoted "> De : …" block.
        let attribution = History { kind: HistoryKind::Attribution, ..block };
        return is_message_du(lines, i).then_some(attribution);
    }
    if is_separator(line) || header_block_at(lines, i) || is_message_du(lines, i) {
        return Some(block);
    }
    attribution_start(lines, i).map(|start| History { start, end: i, kind: HistoryKind::Attribution })
}

/// Lower case, whitespace (no-break spaces included) collapsed to single spaces, combining
/// accents dropped (so a decomposed "é" reads "e").
fn normalise(line: &str) -> String {
    count(line.len());
    let mut out = String::with_capacity(line.len());
    for word in line.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(
            word.chars().filter(|c| !('\u{300}'..='\u{36f}').contains(c)).flat_map(char::to_lowercase),
        );
    }
    out
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Neither blank nor quoted.
fn is_text(line: &str) -> bool {
    !line.trim().is_empty() && !is_quoted(line)
}

fn is_signature_delimiter(line: &str) -> bool {
    line == "-- " || line.trim_end() == "--"
}

fn is_footer(line: &str) -> bool {
    let l = normalise(line);
    l.chars().count() <= FOOTER_MAX_CHARS && FOOTERS.iter().any(|f| l.starts_with(f))
}

/// "-----Original Message-----", "----- Mail d'origine -----", Outlook's underscores…
fn is_separator(line: &str) -> bool {
    let l = normalise(line);
    if l.len() >= 10 && l.chars().all(|c| c == '_') {
        return true;
    }
    if l.starts_with("--") && l.ends_with("--") {
        let title = l.trim_matches(|c| c == '-' || c == ' ');
        return SEPARATOR_TITLES.contains(&title);
    }
    SEPARATOR_LINES.contains(&l.as_str())
}

/// The name of a header line ("De : x" → "de", "*From:* x" → "from", "> Objet : x" → "objet").
fn header_name(line: &str) -> Option<String> {
    let l = normalise(line.trim_start().trim_start_matches(['>', ' ', '*']));
    let (name, _) = l.split_once(':')?;
    let name = name.trim_matches(|c: char| c == '*' || c.is_whitespace());
    let plausible = !name.is_empty()
        && name.chars().count() <= 20
        && name.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '-');
    plausible.then(|| name.to_owned())
}

/// A "De : … / Envoyé : … / À : … / Objet : …" block (Outlook, SFR, Android clients) starting at
/// line `i`: a sender line, then at least two more headers, one of them the subject.
fn header_block_at(lines: &[&str], i: usize) -> bool {
    if !header_name(lines[i]).is_some_and(|n| FROM_HEADERS.contains(&n.as_str())) {
        return false;
    }
    let (mut headers, mut subject) = (0, false);
    // A few lines, allowing long recipient lists wrapped over several lines.
    for line in lines.iter().skip(i + 1).take(8).take_while(|l| !l.trim().is_empty()) {
        if let Some(name) = header_name(line).filter(|n| OTHER_HEADERS.contains(&n.as_str())) {
            headers += 1;
            subject |= SUBJECT_HEADERS.contains(&name.as_str());
        }
    }
    headers >= 2 && subject
}

/// Orange's "Message du 23/11/26 18:02" line (quoted or not) over a "De : …" header.
fn is_message_du(lines: &[&str], i: usize) -> bool {
    let l = normalise(lines[i].trim_start().trim_start_matches(['>', ' ']));
    l.starts_with("message du ")
        && l.chars().any(|c| c.is_ascii_digit())
        && lines
            .get(i + 1)
            .and_then(|next| header_name(next))
            .is_some_and(|n| FROM_HEADERS.contains(&n.as_str()))
}

fn ends_attribution(normalised: &str) -> bool {
    ATTRIBUTION_ENDINGS.iter().any(|e| normalised.ends_with(e))
}

fn starts_le_on(normalised: &str) -> bool {
    normalised.starts_with("le ") || normalised.starts_with("on ")
}

/// A clock time such as "18:02" or "6:02".
fn has_time(text: &str) -> bool {
    text.as_bytes()
        .windows(4)
        .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit())
}

/// The first non-blank line below line `i` (looking a few lines down) is quoted.
fn followed_by_quote(lines: &[&str], i: usize) -> bool {
    lines
        .iter()
        .skip(i + 1)
        .take(QUOTE_LOOKAHEAD)
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| is_quoted(l))
}

/// The first line of the attribution that ends at line `i`, if line `i` ends one.
///
/// An attribution ends with "écrit :" / "wrote:" and either starts with "Le"/"On" and carries a
/// time or an address (Gmail, Apple Mail, Thunderbird), possibly wrapped over up to three lines,
/// or carries an address or stands right above quoted lines ("Jeanne Martin a écrit :"). Prose
/// that merely ends with "a écrit :" is not an attribution.
fn attribution_start(lines: &[&str], i: usize) -> Option<usize> {
    let own = normalise(lines[i]);
    if !own.ends_with(':') {
        return None;
    }
    if starts_le_on(&own) {
        let dated = has_time(&own) || own.contains('@') || followed_by_quote(lines, i);
        return (ends_attribution(&own) && dated).then_some(i);
    }
    // Wrapped: "Le lun. 23 nov. 2026 à 18:02, Jeanne Martin <" / "jeanne@example.org> a écrit :".
    for start in (1..=2).filter_map(|k| i.checked_sub(k)) {
        if !is_text(lines[start]) {
            break;
        }
        let joined = normalise(&lines[start..=i].join(" "));
        let head_ends_sentence = lines[start].trim_end().ends_with(['.', '!', '?']);
        if ends_attribution(&joined) && starts_le_on(&joined) && has_time(&joined) && !head_ends_sentence {
            return Some(start);
        }
    }
    (ends_attribution(&own) && (own.contains('@') || followed_by_quote(lines, i))).then_some(i)
}

/// Lines joined with `\n`, each trimmed at its end, runs of blank lines made one, blank lines at
/// both ends dropped.
fn join_paragraphs<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in lines {
        let line = line.trim_end();
        if line.trim_start().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(line);
    }
    out
}

/// Elements whose content is raw text, never shown: skipped up to their end tag.
const RAW_TEXT: &[&str] = &["script", "style", "title", "textarea", "xml", "template"];

/// Elements that never have content or an end tag.
const VOID: &[&str] =
    &["br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source", "embed", "param"];

/// Elements that start a new line when they open and when they close.
const BLOCKS: &[&str] = &[
    "div", "p", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "pre", "section", "article", "header", "footer", "address", "center", "body", "form", "fieldset",
    "figure", "main", "aside", "nav",
];

/// Classes of the elements holding the quoted original (Gmail, Thunderbird, Yahoo).
const QUOTE_CLASSES: &[&str] = &["gmail_quote", "gmail_quote_container", "moz-cite-prefix", "yahoo_quoted"];

/// Ids of the elements holding the quoted original (new Outlook).
const QUOTE_IDS: &[&str] = &["mail-editor-reference-message-container"];

/// Ids of the elements from which on everything is the quoted original (Outlook on the web and
/// desktop; "x_" prefixed when a message was quoted again).
const CUT_IDS: &[&str] = &["divrplyfwdmsg", "appendonsend"];

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

/// One opening or closing tag.
#[derive(Debug)]
struct Tag {
    /// Lower-case name ("div", "o:p").
    name: String,
    closing: bool,
    self_closing: bool,
    /// Lower-case `id` attribute.
    id: String,
    /// Lower-case `class` attribute.
    class: String,
    /// Byte offset just after the tag's `>`.
    end: usize,
}

impl Tag {
    fn is_void(&self) -> bool {
        self.self_closing || VOID.contains(&self.name.as_str())
    }

    fn has_class(&self, wanted: &[&str]) -> bool {
        self.class.split_ascii_whitespace().any(|c| wanted.contains(&c))
    }

    fn is_quote_container(&self) -> bool {
        self.name == "blockquote" || self.has_class(QUOTE_CLASSES) || QUOTE_IDS.contains(&self.id.as_str())
    }

    fn is_cut(&self) -> bool {
        !self.id.is_empty() && CUT_IDS.iter().any(|id| self.id.contains(id))
    }
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

/// The `id` and `class` values among a tag's (lower-case) attributes.
fn id_and_class(attributes: &str) -> (String, String) {
    let (mut id, mut class) = (String::new(), String::new());
    let mut rest = attributes;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return (id, class);
        }
        let name_len = rest.find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/');
        let name_len = name_len.unwrap_or(rest.len());
        if name_len == 0 {
            // A stray '='.
            rest = &rest[1..];
            continue;
        }
        let name = &rest[..name_len];
        rest = rest[name_len..].trim_start();
        let mut value = "";
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &after[1..];
                let end = body.find(quote).unwrap_or(body.len());
                value = &body[..end];
                rest = body.get(end + 1..).unwrap_or_default();
            } else {
                let end = after.find(|c: char| c.is_ascii_whitespace()).unwrap_or(after.len());
                value = &after[..end];
                rest = &after[end..];
            }
        }
        match name {
            "id" => value.clone_into(&mut id),
            "class" => value.clone_into(&mut class),
            _ => {}
        }
    }
}

/// Named entities decoded (those mail clients write in French and English text).
const NAMED_ENTITIES: &[(&str, char)] = &[
    ("nbsp", '\u{a0}'),
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("eacute", 'é'),
    ("Eacute", 'É'),
    ("egrave", 'è'),
    ("Egrave", 'È'),
    ("ecirc", 'ê'),
    ("Ecirc", 'Ê'),
    ("euml", 'ë'),
    ("agrave", 'à'),
    ("Agrave", 'À'),
    ("acirc", 'â'),
    ("Acirc", 'Â'),
    ("ccedil", 'ç'),
    ("Ccedil", 'Ç'),
    ("icirc", 'î'),
    ("iuml", 'ï'),
    ("ocirc", 'ô'),
    ("Ocirc", 'Ô'),
    ("ugrave", 'ù'),
    ("ucirc", 'û'),
    ("uuml", 'ü'),
    ("oelig", 'œ'),
    ("OElig", 'Œ'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("hellip", '…'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("euro", '€'),
    ("deg", '°'),
    ("copy", '©'),
    ("reg", '®'),
    ("middot", '·'),
    ("bull", '•'),
    ("thinsp", '\u{2009}'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("zwnj", '\u{200c}'),
    ("zwj", '\u{200d}'),
    ("shy", '\u{ad}'),
];

/// Characters 0x80-0x9F of Windows-1252, which `&#NNN;` in Outlook's HTML means in that range.
const WINDOWS_1252: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}',
    '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// The longest entity name looked for (`&#x10FFFF;`, `&thinsp;`…), without `&` and `;`.
const MAX_ENTITY: usize = 10;

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        count(amp + 1);
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // An entity name is short: the `;` is looked for in the next few bytes only.
        let window = &after.as_bytes()[..after.len().min(MAX_ENTITY + 1)];
        count(window.len());
        let semicolon = window.iter().position(|&b| b == b';');
        match semicolon.and_then(|e| entity(&after[..e]).map(|c| (c, e))) {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    let Some(number) = name.strip_prefix('#') else {
        return NAMED_ENTITIES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
    };
    let code = match number.strip_prefix(['x', 'X']) {
        Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => u32::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None if number.bytes().all(|b| b.is_ascii_digit()) => number.parse().ok()?,
        None => return None,
    };
    Some(match code {
        0x80..=0x9f => WINDOWS_1252[(code - 0x80) as usize],
        _ => char::from_u32(code).filter(|c| *c != '\0').unwrap_or('\u{fffd}'),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_empty_and_blank_input_gives_empty() {
        assert_eq!(strip_reply(""), "");
        assert_eq!(strip_reply("\n\n  \r\n\t\n"), "");
        assert_eq!(strip_reply("\u{feff}"), "");
    }

    #[test]
    fn strip_all_quoted_input_gives_empty() {
        assert_eq!(strip_reply("> tout cité\n>\n> encore"), "");
        assert_eq!(strip_reply("\nLe 23/11/2026 à 18:02, Paul Durand a écrit :\n> Qui vient ?\n"), "");
        assert_eq!(strip_reply("Sent from my iPhone\n\n> On 23 Nov 2026, at 18:02, Paul wrote:\n> Hi"), "");
        assert_eq!(strip_reply("-- \nJeanne\n\n> Paul wrote:\n> Hi"), "");
    }

    #[test]
    fn strip_crlf_and_cr_line_ends() {
        let text = "Oui.\r\n\r\nÀ jeudi.\r\n\r\nLe lun. 23 nov. 2026 à 18:02, Jeanne <j@example.org> a écrit :\r\n> Q ?\r\n";
        assert_eq!(strip_reply(text), "Oui.\n\nÀ jeudi.");
        assert_eq!(strip_reply("Oui.\rNon.\r\r\r-- \rJeanne"), "Oui.\nNon.");
    }

    #[test]
    fn strip_keeps_inner_paragraphs_and_collapses_blank_runs() {
        assert_eq!(strip_reply("\n\n  Un\n\n\n\nDeux   \n  trois\n\n"), "  Un\n\nDeux\n  trois");
    }

    #[test]
    fn strip_keeps_prose_mentioning_a_ecrit() {
        let prose = "Paul a écrit un tract magnifique.\nBravo.";
        assert_eq!(strip_reply(prose), prose);
        let quoting = "Voici ce que Jeanne a écrit :\n\n« Rendez-vous samedi. »\n\nJ'approuve.";
        assert_eq!(strip_reply(quoting), quoting);
        let le = "Le camarade Paul a écrit :\nune belle lettre.";
        assert_eq!(strip_reply(le), le);
        let on = "On a écrit :\n« Non à la fermeture »";
        assert_eq!(strip_reply(on), on);
    }

    #[test]
    fn strip_wrapped_attributions() {
        let gmail = "Oui\n\nLe lun. 23 nov. 2026 à 18:02, Jeanne Martin <jeanne.martin@example.org> a\nécrit :\n\n> Q";
        assert_eq!(strip_reply(gmail), "Oui");
        let three = "Oui\nLe lun. 23 nov. 2026 à 18:02, Jeanne\nMartin (via Relais) <nord@listes.example.org>\na écrit :\n> Q";
        assert_eq!(strip_reply(three), "Oui");
        let en =
            "Yes\n\nOn Mon, Nov 23, 2026 at 6:02\u{202f}PM Jeanne Martin <\njeanne@example.org> wrote:\n> Q";
        assert_eq!(strip_reply(en), "Yes");
    }

    #[test]
    fn strip_does_not_take_prose_above_for_an_attribution_head() {
        let text = "Le bureau se réunit jeudi à 18:30.\nJeanne Martin <jeanne@example.org> a écrit :\n> Q";
        assert_eq!(strip_reply(text), "Le bureau se réunit jeudi à 18:30.");
    }

    #[test]
    fn strip_bottom_posting_keeps_the_answer_below() {
        let text = "Le 23/11/2026 à 18:02, Paul a écrit :\n> Qui vient ?\n> Paul\n\nMoi !\n\n-- \nJeanne";
        assert_eq!(strip_reply(text), "Moi !");
        // A header block has no answer below it.
        let outlook = "De : Paul\nEnvoyé : lundi\nÀ : Jeanne\nObjet : Réunion\n\nQui vient ?";
        assert_eq!(strip_reply(outlook), "");
    }

    #[test]
    fn strip_header_block_needs_a_subject() {
        let itinerary = "Le trajet :\nDe : Lille\nÀ : Paris\nDate : 12 décembre\n\nRendez-vous en gare.";
        assert_eq!(strip_reply(itinerary), itinerary);
        let starred = "Ok\n\n*From:* Paul\n*Sent:* Monday\n*To:* Tom\n*Subject:* Banner\n\nWho?";
        assert_eq!(strip_reply(starred), "Ok");
    }

    #[test]
    fn strip_footers_only_at_the_end() {
        assert_eq!(strip_reply("D'accord\n\nEnvoyé de mon iPhone\n"), "D'accord");
        assert_eq!(
            strip_reply("D'accord\nSent from my iPhone\nGet Outlook for iOS<https://aka.ms/o0ukef>"),
            "D'accord"
        );
        let middle = "Envoyé de mon iPhone, je ne peux pas tout relire.\nMais je suis d'accord.";
        assert_eq!(strip_reply(middle), middle);
    }

    #[test]
    fn strip_signature_delimiters() {
        assert_eq!(strip_reply("Merci\n-- \nJeanne\nSecrétaire"), "Merci");
        assert_eq!(strip_reply("Merci\n--\nJeanne"), "Merci");
        assert_eq!(strip_reply("Merci\n---\nJeanne"), "Merci\n---\nJeanne");
        assert_eq!(strip_reply("Merci -- à jeudi"), "Merci -- à jeudi");
    }

    #[test]
    fn strip_separators() {
        assert_eq!(strip_reply("Vu.\n-------- Message d’origine --------\nDe : Paul\nPapier"), "Vu.");
        assert_eq!(strip_reply("Vu.\n\n_____________________\nrest"), "Vu.");
        assert_eq!(strip_reply("Vu.\n---------- Forwarded message ---------\nFrom: P"), "Vu.");
        assert_eq!(strip_reply("Titre\n-----\nTexte"), "Titre\n-----\nTexte");
    }

    #[test]
    fn strip_decomposed_accents_in_attribution() {
        let text = "Oui\nLe 23/11/2026 a\u{300} 18:02, Paul a e\u{301}crit :\n> Q";
        assert_eq!(strip_reply(text), "Oui");
    }

    #[test]
    fn html_blocks_breaks_and_paragraphs() {
        assert_eq!(
            html_to_text("<p>Bonjour&nbsp;à tous</p><p>Oui &amp; non <b>é</b></p>"),
            "Bonjour à tous\n\nOui & non é"
        );
        assert_eq!(
            html_to_text("<div>Un</div>\n  <div><br></div>\n<div>Deux<br>trois</div>"),
            "Un\n\nDeux\ntrois"
        );
        let outlook = "<p class=MsoNormal>Un<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Deux</p>";
        assert_eq!(html_to_text(outlook), "Un\n\nDeux");
        assert_eq!(html_to_text("<b>Jean</b> <i>Martin</i>\n   est\tlà"), "Jean Martin est là");
        assert_eq!(html_to_text("<pre>a  b\n  c</pre>"), "a  b\n  c");
        assert_eq!(html_to_text("<ul><li>un</li><li>deux</li></ul>"), "- un\n- deux");
    }

    #[test]
    fn html_entities() {
        assert_eq!(html_to_text("é&#233;&#xE9;&#XE9;&eacute;"), "ééééé");
        assert_eq!(html_to_text("&lt;b&gt; &quot;x&quot; &#39;y&#39; &rsquo;&#146;"), "<b> \"x\" 'y' ’’");
        assert_eq!(
            html_to_text("&#0; &#xD800; &#99999999; &#x110000;"),
            "\u{fffd} \u{fffd} \u{fffd} \u{fffd}"
        );
        assert_eq!(html_to_text("&unknown; &amp &#xZZ; & ; &é;"), "&unknown; &amp &#xZZ; & ; &é;");
    }

    #[test]
    fn html_drops_head_style_script_comments() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head><body>\
                    <!-- c <div>x</div> --><script>if (a<b) { x = \"</div>\"; }</script>Texte</body></html>";
        assert_eq!(html_to_text(html), "Texte");
        assert_eq!(html_to_text("<head><meta charset=utf-8><body>Sans fin de head"), "Sans fin de head");
        assert_eq!(html_to_text("<style>p{}</style>é&#233;&#xE9;"), "ééé");
    }

    #[test]
    fn html_quote_containers() {
        let gmail = "<div>Réponse</div><div class=\"gmail_quote gmail_quote_container\"><div>Le … a écrit</div>\
                     <blockquote class=\"gmail_quote\"><div>cité</div></blockquote></div>";
        assert_eq!(html_to_text(gmail), "Réponse");
        let inline = "<blockquote type=cite><div>Q1<blockquote>Q0</blockquote></div></blockquote>R1<blockquote>Q2</blockquote>R2";
        assert_eq!(html_to_text(inline), "R1\nR2");
        let owa = "<div>Oui</div><div id=\"appendonsend\"></div><hr><div id=\"divRplyFwdMsg\">De : P</div><div>Q</div>";
        assert_eq!(html_to_text(owa), "Oui");
        let requoted = "<div>Oui</div><div id=\"x_divRplyFwdMsg\">De : P</div>";
        assert_eq!(html_to_text(requoted), "Oui");
        let new_outlook = "<div>Oui</div><div id=\"mail-editor-reference-message-container\"><div>De : P</div></div><div>Fin</div>";
        assert_eq!(html_to_text(new_outlook), "Oui\nFin");
        // A data attribute naming a quote class is not a quote container.
        assert_eq!(html_to_text("<div data-class=\"gmail_quote\" title='a > b'>Texte</div>"), "Texte");
    }

    #[test]
    fn html_broken_markup_never_panics() {
        assert_eq!(html_to_text("a < b <i"), "a < b <i");
        assert_eq!(html_to_text("x <3 y"), "x <3 y");
        assert_eq!(html_to_text("<div>ouvert <b>gras"), "ouvert gras");
        assert_eq!(html_to_text("texte<!-- jamais fermé <div>x</div>"), "texte");
        assert_eq!(html_to_text("Oui<blockquote>jamais fermé"), "Oui");
        assert_eq!(html_to_text("<div title=\"pas fermé>Texte</div>"), "Texte");
        assert_eq!(html_to_text("<script>sans fin"), "");
        assert_eq!(html_to_text("<"), "<");
        assert_eq!(html_to_text("</"), "</");
        assert_eq!(html_to_text("<>"), "<>");
        assert_eq!(html_to_text("<div =x ==\"y\" id=>z</div>"), "z");
    }

    #[test]
    fn html_multibyte_characters_near_tags() {
        assert_eq!(html_to_text("é<b>è</b>à"), "éèà");
        assert_eq!(html_to_text("<é>ü</é>"), "<é>ü</é>");
        assert_eq!(html_to_text("日本<br>語<div class=\"日\">€</div>"), "日本\n語\n€");
        assert_eq!(html_to_text("<div title=\"«é»\">œ</div>&é;"), "œ\n&é;");
        assert_eq!(html_to_text("Ça<blockquote>ü</blockquote>ß"), "Ça\nß");
    }

    #[test]
    fn html_every_prefix_and_suffix_is_safe() {
        let html = "<html><head><style>p{}</style></head><body><div dir=\"ltr\">Bonjour l’équipe&nbsp;!<br>\
                    <b title='a>b'>Réunion</b> à 18&#8239;h</div><!-- c --><div class=\"gmail_quote\">\
                    <blockquote>Le 23 nov. 2026 à 18:02, Zoé a écrit&nbsp;:<br>日本</blockquote></div></body></html>";
        for (i, _) in html.char_indices() {
            let _ = strip_reply(&html_to_text(&html[..i]));
            let _ = strip_reply(&html_to_text(&html[i..]));
        }
        assert_eq!(strip_reply(&html_to_text(html)), "Bonjour l’équipe !\nRéunion à 18\u{202f}h");
    }

    #[test]
    fn html_then_strip_apple_mail() {
        let html = "<html><body><div>Ça marche.</div><div><br></div><div>Envoyé de mon iPhone</div>\
                    <div><br>Le 23 nov. 2026 à 18:02, Paul &lt;paul@example.org&gt; a écrit&nbsp;:<br><br></div>\
                    <blockquote type=\"cite\"><div>Question ?</div></blockquote></body></html>";
        assert_eq!(strip_reply(&html_to_text(html)), "Ça marche.");
    }

    /// An adversarial shape of input: its name, how to build it at about `n` bytes, whether it
    /// is HTML.
    type Shape = (&'static str, fn(usize) -> String, bool);

    const SHAPES: &[Shape] = &[
        ("unclosed <head>", |n| "<head>".repeat(n / 6), true),
        ("self-closed <head/>", |n| "<head/>x".repeat(n / 8), true),
        ("<head> closed at the very end", |n| "<head>x".repeat(n / 7) + "</head>", true),
        ("'&' far from ';'", |n| "&x ".repeat(n / 3) + ";", true),
        ("unclosed quoted attributes", |n| "<a b='>".repeat(n / 7), true),
        ("quoted '>' in every tag, no end", |n| "<a b=\"x>y\"".repeat(n / 10), true),
        ("unclosed comments", |n| "<!--".repeat(n / 4), true),
        ("<style> without end", |n| "<style>".repeat(n / 7), true),
        ("</style without '>'", |n| "<style></style".repeat(n / 14), true),
        (
            "nested blockquotes",
            |n| "<blockquote>".repeat(n / 24) + "x" + &"</blockquote>".repeat(n / 24),
            true,
        ),
        ("unclosed blockquotes", |n| "<blockquote>".repeat(n / 12), true),
        ("giant attribute", |n| format!("<div class=\"{}\">Oui</div>", "a".repeat(n)), true),
        ("many '<' and one '>'", |n| "<a ".repeat(n / 3) + ">", true),
        ("stray '<'", |n| "a < b ".repeat(n / 6), true),
        (
            "text: blank line and attribution, repeated",
            |n| "\nLe 23/11/2026 à 18:02, P a écrit :\n".repeat(n / 38),
            false,
        ),
        ("text: header blocks", |n| "De : P\nObjet : x\nÀ : J\n".repeat(n / 24), false),
        ("text: thousands of quote levels", |n| ">".repeat(n) + " x\nOui", false),
        ("text: long lines", |n| "a".repeat(n) + "\n" + &" ".repeat(n), false),
    ];

    fn convert(input: &str, html: bool) -> String {
        if html { strip_reply(&html_to_text(input)) } else { strip_reply(input) }
    }

    /// Steps per input byte no conversion exceeds (the shapes above take 1 to 15).
    const STEPS_PER_BYTE: u64 = 16;

    fn steps_bound(input: &str) -> u64 {
        STEPS_PER_BYTE * (input.len() as u64 + 16)
    }

    #[test]
    fn adversarial_input_takes_linear_work() {
        // Before the one-pass conversion, 16 KiB of unclosed `<head>` took 0.7 s and 64 KiB took
        // 9.4 s (docs/benchmarks.md): each `<head>` searched the rest of the input for its end.
        let n = 16 * 1024;
        for (name, build, html) in SHAPES {
            let (small, large) = (build(n), build(4 * n));
            let (_, work_small) = work_of(|| convert(&small, *html));
            let (_, work_large) = work_of(|| convert(&large, *html));
            assert!(
                work_large <= steps_bound(&large),
                "{name}: {work_large} steps for {} bytes",
                large.len()
            );
            assert!(
                work_large * 10 <= work_small * 45,
                "{name}: 4 times the input took {work_large} steps, against {work_small} (more than 4.5 times)"
            );
        }
    }

    #[test]
    fn fifty_thousand_unclosed_heads_are_ignored_in_one_pass() {
        let html = "<head>".repeat(50_000) + "<div>Texte</div>";
        let (text, work) = work_of(|| html_to_text(&html));
        assert_eq!(text, "Texte");
        assert!(work <= steps_bound(&html), "{work} steps for {} bytes", html.len());
    }

    #[test]
    fn html_heads_drop_their_text_only_when_closed() {
        assert_eq!(html_to_text("<head>A<head>B</head>C"), "AC");
        assert_eq!(html_to_text("<head>A<head>B</head>C</head>D"), "D");
        assert_eq!(html_to_text("<head/>A</head>B"), "B");
        assert_eq!(html_to_text("</head>A<head><p>B</p>"), "A\nB");
        // The state when the `<head>` opened comes back with its end tag: still in `<pre>`.
        assert_eq!(html_to_text("<pre>a <head></pre>b</head>  c"), "a   c");
        assert_eq!(html_to_text("<head><blockquote>Q</blockquote>T</head>R"), "R");
        // A quote container or Outlook's cut inside a closed `<head>` goes with it…
        assert_eq!(html_to_text("<head><blockquote></head>texte</blockquote>plus"), "texteplus");
        assert_eq!(html_to_text("<head><div id=divRplyFwdMsg>x</head>Oui"), "Oui");
        assert_eq!(html_to_text("<head><div id=divRplyFwdMsg>x<p>Oui"), "");
        // … and a `<head>` inside a quote container is part of the quote.
        assert_eq!(html_to_text("<blockquote><head></blockquote>Texte</head>Plus"), "TextePlus");
    }

    #[test]
    fn html_tags_with_quoted_gt() {
        assert_eq!(html_to_text("<a title=\"x>y\" href='a>b'>lien</a> fin"), "lien fin");
        // A quote closed by the next tag's: one tag up to the first `>` outside them.
        assert_eq!(html_to_text("<a b=\"x>y<a b=\"x>z"), "z");
        // A quote that never closes: the first `>` ends the tag.
        assert_eq!(html_to_text("<a b=\"x>y"), "y");
        // Every tag's quote closes in the next tag and no `>` ends any: each ends at its first `>`.
        assert_eq!(html_to_text("<a b=\"x>y\"<a b=\"x>y\""), "y\"y\"");
    }

    #[test]
    fn budget_caps_what_is_read_and_written() {
        let long = "Oui. ".repeat(MAX_TEXT_BYTES / 4);
        let text = strip_reply(&long);
        assert!(
            text.len() <= MAX_TEXT_BYTES + TRUNCATED.len() && text.ends_with(TRUNCATED),
            "{}",
            text.len()
        );
        assert!(text.starts_with("Oui. Oui."));
        let html = format!("<p>{long}</p>");
        let text = strip_reply(&html_to_text(&html));
        assert!(
            text.len() <= MAX_TEXT_BYTES + TRUNCATED.len() && text.ends_with(TRUNCATED),
            "{}",
            text.len()
        );
        // Past the first MAX_INPUT_BYTES nothing is read.
        let padded = "\n".repeat(MAX_INPUT_BYTES) + "Invisible";
        assert_eq!(strip_reply(&padded), "");
        assert_eq!(html_to_text(&(" ".repeat(MAX_INPUT_BYTES) + "Invisible")), "");
        // A cut inside a multi-byte character keeps whole characters.
        let accents = "é".repeat(MAX_INPUT_BYTES);
        assert!(html_to_text(&accents).chars().all(|c| c == 'é'));
        // Short replies are untouched.
        assert_eq!(strip_reply("Oui."), "Oui.");
    }
}
