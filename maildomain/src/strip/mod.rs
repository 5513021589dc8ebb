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

mod entities;
mod flowed;
mod html;
mod tag;
pub use flowed::unflow;
pub use html::html_to_text;

#[cfg(test)]
mod tests;
