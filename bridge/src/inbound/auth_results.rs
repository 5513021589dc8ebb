//! Who sent a mail, as the site's MTA verified it (`Authentication-Results`, RFC 8601), and
//! what a bounce says (delivery status notifications, RFC 3464). Pure functions.
//!
//! The MTA prepends its headers, often several (one per filter: OpenDKIM, OpenDMARC…), above
//! anything the message carried. So the headers that count are the topmost run of headers with
//! the configured authserv-id: from the first one, up to a header of another authserv-id (below
//! it, nothing can be our MTA's). Within that run each method (`dmarc`, `dkim`, `spf`…) is read
//! from the topmost header that reports it, so a header the sender wrote under our authserv-id
//! below ours cannot change what ours say. (It could add a method ours do not report at all: the
//! MTA must remove such headers on arrival, as RFC 8601 §5 asks; docs/deploy.md says how.)

/// The verdict on who sent a message, from the trusted `Authentication-Results` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The `From` domain is vouched for by `method`: `"dmarc"`, `"dkim"` or `"spf"`.
    Pass { method: &'static str },
    /// The trusted MTA checked the message and nothing vouches for the `From` domain.
    Fail {
        /// A short English phrase, for logs.
        reason: String,
    },
    /// No header from the trusted MTA.
    None,
}

/// What a delivery status notification says about the failed recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    /// Permanent: the address does not work.
    Hard,
    /// Transient: a full mailbox, a delay, a temporary error.
    Soft,
}

// ---------------------------------------------------------------------------------------------
// Authentication-Results
// ---------------------------------------------------------------------------------------------

/// A lexical token of a header value, comments and whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Semi,
    Equals,
    Word(String),
    Quoted(String),
}

impl Token {
    /// The text of a word or quoted string.
    fn text(&self) -> Option<&str> {
        match self {
            Token::Word(w) | Token::Quoted(w) => Some(w),
            Token::Semi | Token::Equals => None,
        }
    }
}

/// Skips an RFC 5322 comment whose `(` was just read; comments nest, `\` quotes a character.
fn skip_comment(chars: &mut std::str::Chars<'_>) {
    let mut depth = 1usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Reads a quoted string whose `"` was just read, unquoting `\x` and unfolding lines.
fn read_quoted(chars: &mut std::str::Chars<'_>) -> String {
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => out.extend(chars.next()),
            '\r' | '\n' => {}
            _ => out.push(c),
        }
    }
    out
}

/// Splits a header value into tokens: comments (nested) dropped, folded lines unfolded, quoted
/// strings kept whole, `;` and `=` apart.
fn tokenize(value: &str) -> Vec<Token> {
    fn flush(word: &mut String, tokens: &mut Vec<Token>) {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    }
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c.is_whitespace() || matches!(c, '(' | '"' | ';' | '=') {
            flush(&mut word, &mut tokens);
        }
        match c {
            '(' => skip_comment(&mut chars),
            '"' => tokens.push(Token::Quoted(read_quoted(&mut chars))),
            ';' => tokens.push(Token::Semi),
            '=' => tokens.push(Token::Equals),
            c if c.is_whitespace() => {}
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// One `method=result ptype.property=value …` result.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    /// Lowercase, without its version (`dkim/1` is `dkim`).
    method: String,
    /// Lowercase.
    result: String,
    /// Lowercase property names (`header.d`), values as written.
    props: Vec<(String, String)>,
}

impl MethodResult {
    fn is(&self, method: &str, result: &str) -> bool {
        self.method == method && self.result == result
    }

    fn prop(&self, name: &str) -> Option<&str> {
        self.props.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The domain a property names (`x@example.org`, `@example.org` or `example.org`).
    fn prop_domain(&self, name: &str) -> Option<String> {
        self.prop(name).and_then(normalize_domain)
    }

    /// The signing domain of a DKIM result: `header.d`, else the domain of `header.i`.
    fn dkim_domain(&self) -> Option<String> {
        self.prop_domain("header.d").or_else(|| self.prop_domain("header.i"))
    }
}

/// One `Authentication-Results` value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AuthResults {
    authserv_id: String,
    /// The version after the authserv-id, if any.
    version: Option<String>,
    results: Vec<MethodResult>,
}

/// Parses a header value; `None` when it has no authserv-id at all.
fn parse_header(value: &str) -> Option<AuthResults> {
    let tokens = tokenize(value);
    let mut segments = tokens.split(|t| *t == Token::Semi);
    let first = segments.next()?;
    let authserv_id = first.first()?.text()?.to_owned();
    let version = first
        .get(1)
        .and_then(Token::text)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned);
    let results = segments.filter_map(parse_result).collect();
    Some(AuthResults { authserv_id, version, results })
}

/// Parses one `resinfo` (the tokens between two `;`); `None` for `none` or garbage.
fn parse_result(tokens: &[Token]) -> Option<MethodResult> {
    let equals = tokens.iter().position(|t| *t == Token::Equals)?;
    // `dkim/1` or `dkim / 1`: the words before `=` make the method and its version.
    let method: String = tokens[..equals].iter().filter_map(Token::text).collect();
    let method = method.split('/').next().unwrap_or_default().to_ascii_lowercase();
    let result = tokens.get(equals + 1)?.text()?.to_ascii_lowercase();
    if method.is_empty() || result.is_empty() {
        return None;
    }
    let props = parse_props(tokens.get(equals + 2..).unwrap_or_default());
    Some(MethodResult { method, result, props })
}

/// `ptype.property=value` pairs, tolerating spaces around `.` and `=`, keywords without a
/// `ptype` (`action=none`, `reason=…`) and stray `=` (the padding of a base64 `header.b`).
fn parse_props(tokens: &[Token]) -> Vec<(String, String)> {
    let mut props = Vec::new();
    let mut key = String::new();
    let mut expect_value = false;
    for token in tokens {
        match token {
            Token::Equals => expect_value = !key.is_empty(),
            Token::Word(w) | Token::Quoted(w) if expect_value => {
                props.push((std::mem::take(&mut key).to_ascii_lowercase(), w.clone()));
                expect_value = false;
            }
            Token::Word(w) if key.ends_with('.') || w.starts_with('.') => key.push_str(w),
            Token::Word(w) => key.clone_from(w),
            Token::Quoted(_) | Token::Semi => key.clear(),
        }
    }
    props
}

/// The lowercase domain of an address or domain (`<x@Example.org>`, `@example.org.`).
fn normalize_domain(value: &str) -> Option<String> {
    let value = value.trim().trim_start_matches('<').trim_end_matches('>');
    let domain = value.rsplit_once('@').map_or(value, |(_, d)| d);
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && !domain.split('.').any(str::is_empty)
        && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    valid.then_some(domain)
}

/// Whether `child` is a strict subdomain of `parent`; a bare top-level domain is nobody's parent.
fn is_subdomain(child: &str, parent: &str) -> bool {
    parent.contains('.')
        && child.len() > parent.len()
        && child.ends_with(parent)
        && child[..child.len() - parent.len()].ends_with('.')
}

/// Relaxed alignment, the organisational domain approximated: the same domain, or one a
/// subdomain of the other. Both are normalized.
fn aligned(a: &str, b: &str) -> bool {
    a == b || is_subdomain(a, b) || is_subdomain(b, a)
}

/// The DMARC verdict about `from`, if the MTA gave a conclusive one: `Some(true)` for `pass`
/// with `header.from` equal to `from`, `Some(false)` for `fail`. DMARC results about another
/// `header.from` are not about this mail's `From`; `none`, `temperror`… are inconclusive.
fn dmarc(results: &[MethodResult], from: &str) -> Option<bool> {
    let about_from: Vec<(&MethodResult, Option<String>)> = results
        .iter()
        .filter(|r| r.method == "dmarc")
        .map(|r| (r, r.prop_domain("header.from")))
        .filter(|(_, domain)| domain.as_deref().is_none_or(|d| d == from))
        .collect();
    if about_from.iter().any(|(r, _)| matches!(r.result.as_str(), "fail" | "quarantine" | "reject")) {
        return Some(false);
    }
    about_from.iter().any(|(r, domain)| r.result == "pass" && domain.is_some()).then_some(true)
}

/// Why nothing vouches for `from`, in a few words.
fn failure_reason(results: &[MethodResult], from: &str) -> String {
    let any = |method: &str, outcomes: &[&str]| {
        results.iter().any(|r| r.method == method && outcomes.contains(&r.result.as_str()))
    };
    let foreign_dkim = results.iter().filter(|r| r.is("dkim", "pass")).find_map(MethodResult::dkim_domain);
    let foreign_spf =
        results.iter().filter(|r| r.is("spf", "pass")).find_map(|r| r.prop_domain("smtp.mailfrom"));
    if let Some(domain) = foreign_dkim {
        format!("DKIM signature of another domain ({domain}) than {from}")
    } else if let Some(domain) = foreign_spf {
        format!("SPF passed for another domain ({domain}) than {from}")
    } else if any("dkim", &["fail", "permerror", "policy"]) {
        "DKIM signature did not verify".into()
    } else if any("spf", &["fail", "softfail", "hardfail"]) {
        "SPF failed".into()
    } else if any("dkim", &["temperror"]) || any("spf", &["temperror"]) || any("dmarc", &["temperror"]) {
        "temporary error while authenticating".into()
    } else {
        format!("no aligned DMARC, DKIM or SPF pass for {from}")
    }
}

/// The verdict from the results of the trusted header.
fn judge(results: &[MethodResult], from: &str) -> Verdict {
    if results.is_empty() {
        return Verdict::Fail { reason: "no authentication performed".into() };
    }
    match dmarc(results, from) {
        Some(true) => return Verdict::Pass { method: "dmarc" },
        Some(false) => return Verdict::Fail { reason: format!("DMARC failed for {from}") },
        None => {}
    }
    let dkim = results
        .iter()
        .filter(|r| r.is("dkim", "pass"))
        .any(|r| r.dkim_domain().is_some_and(|d| aligned(&d, from)));
    if dkim {
        return Verdict::Pass { method: "dkim" };
    }
    let spf = results
        .iter()
        .filter(|r| r.is("spf", "pass"))
        .any(|r| r.prop_domain("smtp.mailfrom").is_some_and(|d| aligned(&d, from)));
    if spf {
        return Verdict::Pass { method: "spf" };
    }
    Verdict::Fail { reason: failure_reason(results, from) }
}

/// The results of our MTA's headers: each method's from the topmost header reporting it.
fn merge(ours: Vec<AuthResults>) -> Vec<MethodResult> {
    let mut merged: Vec<MethodResult> = Vec::new();
    for header in ours {
        let reported: Vec<String> = merged.iter().map(|r| r.method.clone()).collect();
        merged.extend(header.results.into_iter().filter(|r| !reported.contains(&r.method)));
    }
    merged
}

/// The verdict on who sent a message, from its `Authentication-Results` headers.
///
/// `headers` are the raw values of every `Authentication-Results` header, topmost first;
/// `authserv_id` is the trusted MTA's (compared case-insensitively); `from_domain` is the domain
/// (or address) of the `From`. The topmost run of headers with that authserv-id counts (see the
/// module's documentation), each method read from the topmost of them that reports it.
///
/// - `Pass { method: "dmarc" }`: `dmarc=pass` with `header.from` equal to `from_domain`;
/// - otherwise, unless DMARC failed for that domain: `Pass { method: "dkim" }` for a `dkim=pass`
///   whose `header.d` (or `header.i`) is aligned with `from_domain`, then `Pass { method: "spf" }`
///   for an `spf=pass` whose `smtp.mailfrom` is aligned. Alignment is relaxed: the same domain,
///   or one a subdomain of the other;
/// - `Fail` for anything else from the trusted MTA (including `none` and unknown versions);
/// - `None` without a trusted header.
pub fn evaluate(headers: &[&str], authserv_id: &str, from_domain: &str) -> Verdict {
    let wanted = authserv_id.trim();
    if wanted.is_empty() {
        return Verdict::None;
    }
    let is_ours =
        |h: &Option<AuthResults>| h.as_ref().is_some_and(|h| h.authserv_id.eq_ignore_ascii_case(wanted));
    let ours: Vec<AuthResults> = headers
        .iter()
        .map(|h| parse_header(h))
        .skip_while(|h| !is_ours(h))
        .take_while(is_ours)
        .flatten()
        .collect();
    if ours.is_empty() {
        return Verdict::None;
    }
    if ours.iter().any(|h| h.version.as_deref().is_some_and(|v| v.trim_start_matches('0') != "1")) {
        return Verdict::Fail { reason: "unsupported Authentication-Results version".into() };
    }
    let Some(from) = normalize_domain(from_domain) else {
        return Verdict::Fail { reason: "no valid From domain".into() };
    };
    judge(&merge(ours), &from)
}

/// Whether an `Auto-Submitted` header value (RFC 3834) marks automatic mail: anything but an
/// absent (or empty) header or `no`, ignoring case, comments and parameters after `;`.
pub fn is_auto_submitted(auto_submitted: Option<&str>) -> bool {
    let Some(value) = auto_submitted else {
        return false;
    };
    let keyword = tokenize(value).into_iter().take_while(|t| *t != Token::Semi).find_map(|t| match t {
        Token::Word(w) | Token::Quoted(w) => Some(w),
        Token::Semi | Token::Equals => None,
    });
    keyword.is_some_and(|k| !k.eq_ignore_ascii_case("no"))
}

// ---------------------------------------------------------------------------------------------
// Bounces
// ---------------------------------------------------------------------------------------------

/// Severity of an RFC 3463 enhanced status code (`5.1.1`). `X.2.2` (mailbox full) is "a
/// persistent transient failure" per RFC 3463, so soft even in class 5.
fn enhanced_code_kind(token: &str) -> Option<BounceKind> {
    let token = token.trim_matches(|c: char| !c.is_ascii_digit());
    let mut parts = token.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |p: &str| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !number(subject) || !number(detail) {
        return None;
    }
    let mailbox_full = subject.trim_start_matches('0') == "2" && detail.trim_start_matches('0') == "2";
    match class {
        "5" if mailbox_full => Some(BounceKind::Soft),
        "5" => Some(BounceKind::Hard),
        "4" => Some(BounceKind::Soft),
        _ => None,
    }
}

/// Severity of an SMTP reply code (`550`); 552 (storage exceeded) is in practice a full mailbox.
fn reply_code_kind(token: &str) -> Option<BounceKind> {
    if token.len() != 3 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match token.as_bytes() {
        b"552" => Some(BounceKind::Soft),
        [b'5', b'0'..=b'5', _] => Some(BounceKind::Hard),
        [b'4', b'2'..=b'5', _] => Some(BounceKind::Soft),
        _ => None,
    }
}

/// Severity from a `Diagnostic-Code` (`smtp; 550 5.1.1 <x@y>: user unknown`): the enhanced code
/// if the reply has one, else the reply code.
fn diagnostic_kind(value: &str) -> Option<BounceKind> {
    let text = value.split_once(';').map_or(value, |(_, text)| text);
    let mut words = text.split(|c: char| c.is_whitespace() || c == '-').filter(|w| !w.is_empty()).take(2);
    let (first, second) = (words.next()?, words.next());
    second
        .and_then(enhanced_code_kind)
        .or_else(|| enhanced_code_kind(first))
        .or_else(|| reply_code_kind(first))
}

/// The field groups of a `message/delivery-status` body: the per-message one, then one per
/// recipient. Names are lowercase, continuation lines unfolded, comments kept.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let Some(fields) = groups.last_mut() else { continue };
        if line.trim().is_empty() {
            if !fields.is_empty() {
                groups.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    groups
}

/// The severity one recipient's fields report.
fn recipient_kind(fields: &[(String, String)]) -> Option<BounceKind> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first_word = |value: &str| {
        tokenize(value).into_iter().find_map(|t| match t {
            Token::Word(w) => Some(w),
            _ => None,
        })
    };
    let action = field("action").and_then(first_word).map(|a| a.to_ascii_lowercase());
    let status = field("status").and_then(first_word);
    let kind = status
        .as_deref()
        .and_then(enhanced_code_kind)
        .or_else(|| field("diagnostic-code").and_then(diagnostic_kind));
    match action.as_deref() {
        Some("delayed") => Some(BounceKind::Soft),
        Some("failed") | None => kind,
        Some(_) => None,
    }
}

/// Classifies a bounce from the text of its `message/delivery-status` part (RFC 3464).
///
/// `Action: delayed` or a `4.x.x` status is soft; `Action: failed` with a `5.x.x` status is hard
/// (but `5.2.2`, mailbox full, is soft). Without a usable `Status`, the `Diagnostic-Code`'s SMTP
/// reply decides. `None` when no recipient failed or nothing is readable. With several
/// recipients, the most severe wins.
pub fn classify_dsn(delivery_status: &str) -> Option<BounceKind> {
    let kinds: Vec<BounceKind> =
        field_groups(delivery_status).iter().filter_map(|fields| recipient_kind(fields)).collect();
    if kinds.contains(&BounceKind::Hard) { Some(BounceKind::Hard) } else { kinds.first().copied() }
}

/// Phrases of a full mailbox (soft, and checked first: such bounces often say 550 or 552 too).
const FULL_MAILBOX: &[&str] = &[
    "mailbox full",
    "mailbox is full",
    "quota",
    "exceeded storage",
    "insufficient storage",
    "boîte pleine",
    "boite pleine",
    "boîte aux lettres pleine",
    "boite aux lettres pleine",
    "est pleine",
    "espace de stockage",
];

/// Phrases of an address that does not exist (hard).
const UNKNOWN_ADDRESS: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "no such recipient",
    "unknown recipient",
    "recipient unknown",
    "recipient not found",
    "mailbox not found",
    "invalid recipient",
    "invalid mailbox",
    "does not exist",
    "doesn't exist",
    "account has been disabled",
    "account disabled",
    "host or domain name not found",
    "domain not found",
    "adresse inconnue",
    "adresse invalide",
    "adresse introuvable",
    "destinataire inconnu",
    "utilisateur inconnu",
    "n'existe pas",
    "compte désactivé",
];

/// Phrases of a temporary problem (soft).
const TEMPORARY: &[&str] = &[
    "temporar",
    "will retry",
    "will be retried",
    "try again later",
    "delayed",
    "greylist",
    "not yet been delivered",
    "n'a pas encore été",
    "nouvelle tentative",
    "réessaiera",
    "retardé",
];

/// Phrases of a permanent failure (hard).
const PERMANENT: &[&str] = &["permanent", "définitivement", "definitivement", "failed permanently"];

/// The SMTP reply codes a bounce's text may quote.
const REPLY_CODES: [&str; 9] = ["421", "450", "451", "452", "550", "551", "552", "553", "554"];

/// A heuristic guess from the text of a non-standard bounce (one without a delivery-status
/// part), in French or English: phrases first (full mailbox, unknown address, temporary,
/// permanent), then the first enhanced status code (`5.1.1`), then SMTP reply codes (`550`).
pub fn classify_text_bounce(text: &str) -> Option<BounceKind> {
    let text = text.to_lowercase().replace('\u{2019}', "'");
    let has = |phrases: &[&str]| phrases.iter().any(|p| text.contains(p));
    if has(FULL_MAILBOX) {
        return Some(BounceKind::Soft);
    }
    if has(UNKNOWN_ADDRESS) {
        return Some(BounceKind::Hard);
    }
    if has(TEMPORARY) {
        return Some(BounceKind::Soft);
    }
    if has(PERMANENT) {
        return Some(BounceKind::Hard);
    }
    let words = || text.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter(|w| !w.is_empty());
    words()
        .find_map(|w| enhanced_code_kind(w).filter(|_| w.trim_matches('.').matches('.').count() == 2))
        .or_else(|| words().find(|w| REPLY_CODES.contains(w)).and_then(reply_code_kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "mx.pcf.fr";

    fn pass(method: &'static str) -> Verdict {
        Verdict::Pass { method }
    }

    fn is_fail(verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Fail { .. })
    }

    fn reason(verdict: Verdict) -> String {
        match verdict {
            Verdict::Fail { reason } => reason,
            other => format!("not a failure: {other:?}"),
        }
    }

    #[test]
    fn tokenizer_drops_nested_comments_and_keeps_quoted_strings() {
        let tokens = tokenize("a (x (y) \\) z) b=\"c;(d)\"\r\n\t; e");
        assert_eq!(
            tokens,
            vec![
                Token::Word("a".into()),
                Token::Word("b".into()),
                Token::Equals,
                Token::Quoted("c;(d)".into()),
                Token::Semi,
                Token::Word("e".into()),
            ]
        );
        assert_eq!(tokenize("x (unterminated"), vec![Token::Word("x".into())]);
        assert_eq!(
            tokenize("x \"unterminated"),
            vec![Token::Word("x".into()), Token::Quoted("unterminated".into())]
        );
    }

    #[test]
    fn parser_reads_methods_versions_and_properties() {
        let header = parse_header(
            "mx.pcf.fr 1; DKIM/1 = Pass (good) header . d = Example.org header.b=ab/c+d==; \
             dmarc=pass policy.dmarc=reject header.from=\"example.org\"; none",
        );
        let Some(header) = header else { panic!("unparsed") };
        assert_eq!(header.authserv_id, "mx.pcf.fr");
        assert_eq!(header.version.as_deref(), Some("1"));
        assert_eq!(header.results.len(), 2);
        assert_eq!(header.results[0].method, "dkim");
        assert_eq!(header.results[0].result, "pass");
        assert_eq!(header.results[0].prop("header.d"), Some("Example.org"));
        assert_eq!(header.results[0].prop("header.b"), Some("ab/c+d"));
        assert_eq!(header.results[1].prop("policy.dmarc"), Some("reject"));
        assert_eq!(header.results[1].prop("header.from"), Some("example.org"));
        assert_eq!(parse_header(""), None);
        assert_eq!(parse_header("  (only a comment) ; dkim=pass"), None);
    }

    #[test]
    fn domains_and_alignment() {
        assert_eq!(normalize_domain("<X@Example.ORG.>").as_deref(), Some("example.org"));
        assert_eq!(normalize_domain("@example.org").as_deref(), Some("example.org"));
        assert_eq!(normalize_domain("x@"), None);
        assert_eq!(normalize_domain("a..b"), None);
        assert!(aligned("example.org", "example.org"));
        assert!(aligned("mail.example.org", "example.org"));
        assert!(aligned("example.org", "news.example.org"));
        assert!(!aligned("badexample.org", "example.org"));
        assert!(!aligned("example.org", "org"), "a top-level domain aligns with nothing");
        assert!(!aligned("example.org", "example.com"));
    }

    #[test]
    fn gmail_style() {
        let gmail = "mx.pcf.fr; dkim=pass (2048-bit key) header.d=example.org header.i=@example.org \
                     header.b=abcd; spf=pass (domain of x@example.org designates 1.2.3.4) \
                     smtp.mailfrom=x@example.org; dmarc=pass (p=NONE) header.from=example.org";
        assert_eq!(evaluate(&[gmail], ID, "example.org"), pass("dmarc"));
        assert_eq!(evaluate(&[gmail], "MX.PCF.FR", "Example.Org"), pass("dmarc"));
        let folded = "mx.pcf.fr;\r\n       dkim=pass header.i=@gmail.com header.s=20230601 \
                      header.b=Xy1+/z;\r\n       \
                      spf=pass (google.com: domain of alice@gmail.com designates 209.85.1.2 as permitted \
                      sender) smtp.mailfrom=alice@gmail.com;\r\n       dmarc=pass (p=NONE sp=QUARANTINE \
                      dis=NONE) header.from=gmail.com";
        assert_eq!(evaluate(&[folded], ID, "gmail.com"), pass("dmarc"));
        assert_eq!(evaluate(&[folded], ID, "alice@gmail.com"), pass("dmarc"), "an address works too");
    }

    #[test]
    fn microsoft_style() {
        let outlook = "mx.pcf.fr 1; spf=pass (sender IP is 40.92.1.2) smtp.mailfrom=outlook.fr;\r\n \
                       dkim=pass \
                       (signature was verified) header.d=outlook.fr;dmarc=pass action=none \
                       header.from=outlook.fr;compauth=pass reason=100";
        assert_eq!(evaluate(&[outlook], ID, "outlook.fr"), pass("dmarc"));
        let best_guess = "mx.pcf.fr; spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=asso.fr; dkim=none \
                          (message not signed) header.d=none;dmarc=bestguesspass action=none \
                          header.from=asso.fr;compauth=pass reason=109";
        assert_eq!(evaluate(&[best_guess], ID, "asso.fr"), pass("spf"), "bestguesspass is no DMARC pass");
    }

    #[test]
    fn rspamd_style() {
        let rspamd = "mx.pcf.fr;\n\tdkim=pass header.d=example.org header.s=dkim header.b=\"Abc/1+2\";\n\t\
                      dmarc=pass (policy=reject) header.from=example.org;\n\tspf=pass (mx.pcf.fr: domain of \
                      \"bounce@example.org\" designates 1.2.3.4 as permitted sender) \
                      smtp.mailfrom=bounce@example.org";
        assert_eq!(evaluate(&[rspamd], ID, "example.org"), pass("dmarc"));
        let rejected = "mx.pcf.fr;\n\tdkim=none;\n\tdmarc=fail reason=\"No valid SPF, No valid DKIM\" \
                        header.from=example.org (policy=reject);\n\tspf=softfail \
                        (mx.pcf.fr: 6.6.6.6 is neither \
                        permitted nor denied) smtp.mailfrom=x@example.org";
        assert_eq!(reason(evaluate(&[rejected], ID, "example.org")), "DMARC failed for example.org");
    }

    #[test]
    fn dkim_and_spf_without_dmarc() {
        let several = "MX.PCF.FR; dkim=fail (bad signature) header.d=example.org; \
                       dkim=pass header.d=example.org \
                       header.i=@news.example.org; dkim=fail header.d=other.example";
        assert_eq!(evaluate(&[several], ID, "example.org"), pass("dkim"), "one pass among fails");
        let by_i = "mx.pcf.fr; dkim=pass header.i=@mail.example.org";
        assert_eq!(evaluate(&[by_i], ID, "example.org"), pass("dkim"));
        let subdomain = "mx.pcf.fr; dkim=pass header.d=example.org; dmarc=none header.from=lists.example.org";
        assert_eq!(evaluate(&[subdomain], ID, "lists.example.org"), pass("dkim"));
        let spf = "mx.pcf.fr; dkim=none; spf=pass smtp.mailfrom=<bounce@mail.example.org>; dmarc=temperror";
        assert_eq!(evaluate(&[spf], ID, "example.org"), pass("spf"));
        let dkim_fail = "mx.pcf.fr; dkim=fail header.d=example.org; dkim=permerror header.d=example.org";
        assert_eq!(reason(evaluate(&[dkim_fail], ID, "example.org")), "DKIM signature did not verify");
        let spf_fail = "mx.pcf.fr; spf=fail smtp.mailfrom=x@example.org";
        assert_eq!(reason(evaluate(&[spf_fail], ID, "example.org")), "SPF failed");
        let dmarc_wins = "mx.pcf.fr; dkim=pass header.d=example.org; dmarc=fail header.from=example.org";
        assert!(is_fail(&evaluate(&[dmarc_wins], ID, "example.org")), "DMARC fail is final");
    }

    #[test]
    fn unaligned_passes_fail() {
        let mailing = "mx.pcf.fr; dkim=pass header.d=mcsv.net header.i=@mcsv.net; spf=pass \
                       smtp.mailfrom=bounce-mc.us1_123@mail123.mcsv.net; dmarc=none header.from=example.org";
        let verdict = evaluate(&[mailing], ID, "example.org");
        assert!(reason(verdict).contains("DKIM signature of another domain (mcsv.net)"));
        let spf_only = "mx.pcf.fr; spf=pass smtp.mailfrom=x@sendgrid.net";
        assert!(reason(evaluate(&[spf_only], ID, "example.org")).contains("SPF passed for another domain"));
        let lookalike =
            "mx.pcf.fr; dkim=pass header.d=evil-example.org; spf=pass smtp.mailfrom=notexample.org";
        assert!(is_fail(&evaluate(&[lookalike], ID, "example.org")));
        let tld = "mx.pcf.fr; dkim=pass header.d=org";
        assert!(is_fail(&evaluate(&[tld], ID, "example.org")));
        let no_domain = "mx.pcf.fr; dkim=pass header.b=abc; spf=pass smtp.helo=mx.example.org";
        assert!(is_fail(&evaluate(&[no_domain], ID, "example.org")));
    }

    #[test]
    fn dmarc_must_be_about_the_from_domain() {
        let other = "mx.pcf.fr; dmarc=pass header.from=attacker.example";
        assert!(is_fail(&evaluate(&[other], ID, "example.org")));
        let sub = "mx.pcf.fr; dmarc=pass header.from=sub.example.org";
        assert!(is_fail(&evaluate(&[sub], ID, "example.org")), "DMARC needs the exact From domain");
        let anonymous = "mx.pcf.fr; dmarc=pass";
        assert!(is_fail(&evaluate(&[anonymous], ID, "example.org")), "no header.from, no DMARC pass");
        let fail_anonymous = "mx.pcf.fr; dkim=pass header.d=example.org; dmarc=fail";
        assert!(is_fail(&evaluate(&[fail_anonymous], ID, "example.org")));
        let policy =
            "mx.pcf.fr; dmarc=none policy.dmarc=none header.from=example.org; dkim=pass header.d=x.example";
        assert!(is_fail(&evaluate(&[policy], ID, "example.org")));
    }

    /// OpenDKIM and OpenDMARC (docs/deploy.md) each write their own header under our
    /// authserv-id: every one of them counts.
    #[test]
    fn every_header_of_our_mta_counts() {
        let dmarc_none = "mx.pcf.fr; dmarc=none header.from=example.org";
        let dkim = "mx.pcf.fr; dkim=pass header.d=example.org header.s=sel";
        assert_eq!(evaluate(&[dmarc_none, dkim], ID, "example.org"), pass("dkim"), "DKIM below DMARC");
        assert_eq!(evaluate(&[dkim, dmarc_none], ID, "example.org"), pass("dkim"), "DKIM above DMARC");
        let spf = "mx.pcf.fr; spf=pass smtp.mailfrom=jeanne@example.org";
        let dkim_none = "mx.pcf.fr; dkim=none";
        assert_eq!(evaluate(&[dmarc_none, dkim_none, spf], ID, "example.org"), pass("spf"), "three headers");
        let dmarc_pass = "MX.PCF.FR; dmarc=pass header.from=example.org";
        let dkim_fail = "mx.pcf.fr; dkim=fail header.d=example.org";
        assert_eq!(evaluate(&[dkim_fail, dmarc_pass], ID, "example.org"), pass("dmarc"));
        let dmarc_fail = "mx.pcf.fr; dmarc=fail header.from=example.org";
        assert!(is_fail(&evaluate(&[dkim, dmarc_fail], ID, "example.org")), "a DMARC fail in any of ours");
        let later_hop = "relay.pcf.fr; dkim=pass header.d=example.org";
        assert_eq!(
            evaluate(&[later_hop, dmarc_none, dkim], ID, "example.org"),
            pass("dkim"),
            "a header of another id above ours is skipped"
        );
        let v2 = "mx.pcf.fr 2; dmarc=pass header.from=example.org";
        assert!(is_fail(&evaluate(&[dkim, v2], ID, "example.org")), "an unknown version in any of ours");
    }

    /// Our MTA prepends its headers above whatever the message carried, so a header the sender
    /// wrote with our authserv-id is below ours. It cannot change what ours say about a method,
    /// nor count at all once a header of another MTA separates it from ours.
    #[test]
    fn a_forged_header_below_ours_cannot_turn_a_fail_into_a_pass() {
        let forged = "mx.pcf.fr; dmarc=pass header.from=example.org; dkim=pass header.d=example.org; \
                      spf=pass smtp.mailfrom=example.org";
        let ours = "mx.pcf.fr; dkim=fail header.d=example.org; spf=fail smtp.mailfrom=example.org; \
                    dmarc=none header.from=example.org";
        assert!(is_fail(&evaluate(&[ours, forged], ID, "example.org")), "one header of ours");
        let (dmarc_none, dkim_none) =
            ("mx.pcf.fr; dmarc=none header.from=example.org", "mx.pcf.fr; dkim=none; spf=none");
        let verdict = evaluate(&[dmarc_none, dkim_none, forged], ID, "example.org");
        assert!(is_fail(&verdict), "two headers of ours: {verdict:?}");
        let dmarc_fail = "mx.pcf.fr; dmarc=fail header.from=example.org";
        assert!(is_fail(&evaluate(&[dmarc_fail, forged], ID, "example.org")), "DMARC failed");
        // The sender's own provider (another authserv-id) stands between ours and the forgery.
        let provider = "mx.example.org; dkim=pass header.d=example.org";
        let verdict = evaluate(&[dkim_none, provider, forged], ID, "example.org");
        assert!(is_fail(&verdict), "ours report no DMARC, the forgery below another id does not count");
        let other_id = "mx.pcf.fr.evil.example; dmarc=pass header.from=example.org";
        assert!(is_fail(&evaluate(&[dkim_none, other_id], ID, "example.org")), "another id is ignored");
    }

    #[test]
    fn the_topmost_trusted_header_wins() {
        let ours = "mx.pcf.fr; dmarc=fail header.from=example.org";
        let forged = "mx.pcf.fr; dmarc=pass header.from=example.org";
        assert!(is_fail(&evaluate(&[ours, forged], ID, "example.org")), "a forged header below");
        let other_above = "evil.example; dmarc=pass header.from=example.org";
        assert!(is_fail(&evaluate(&[other_above, ours], ID, "example.org")), "another id above");
        assert_eq!(evaluate(&[other_above], ID, "example.org"), Verdict::None, "another id is ignored");
        let prefix = "mx.pcf.fr.evil.example; dmarc=pass header.from=example.org";
        assert_eq!(evaluate(&[prefix], ID, "example.org"), Verdict::None);
        let good = "mx.pcf.fr; dmarc=pass header.from=example.org";
        assert_eq!(evaluate(&[other_above, good, ours], ID, "example.org"), pass("dmarc"));
        assert_eq!(evaluate(&[good], "", "example.org"), Verdict::None, "no configured id, no trust");
    }

    #[test]
    fn none_missing_and_odd_headers() {
        assert_eq!(reason(evaluate(&["mx.pcf.fr; none"], ID, "example.org")), "no authentication performed");
        assert!(is_fail(&evaluate(&["mx.pcf.fr 1; none"], ID, "example.org")));
        assert!(is_fail(&evaluate(&["mx.pcf.fr"], ID, "example.org")));
        assert_eq!(evaluate(&[], ID, "example.org"), Verdict::None);
        let v2 = "mx.pcf.fr 2; dmarc=pass header.from=example.org";
        assert!(reason(evaluate(&[v2], ID, "example.org")).contains("version"));
        let quoted_id = "\"mx.pcf.fr\"; dmarc=pass header.from=example.org";
        assert_eq!(evaluate(&[quoted_id], ID, "example.org"), pass("dmarc"));
        let semicolon =
            "mx.pcf.fr; dkim=pass reason=\"ok; dmarc=pass header.from=example.org\" header.d=x.example";
        assert!(is_fail(&evaluate(&[semicolon], ID, "example.org")), "no clause inside quotes");
        let comment = "mx.pcf.fr; dkim=pass (header.d=example.org) header.d=x.example";
        assert!(is_fail(&evaluate(&[comment], ID, "example.org")), "no property inside comments");
        assert!(is_fail(&evaluate(&[good_header()], ID, "")), "no From domain");
    }

    fn good_header() -> &'static str {
        "mx.pcf.fr; dmarc=pass header.from=example.org"
    }

    #[test]
    fn dsn_hard_soft_and_delayed() {
        let hard = "Reporting-MTA: dns; mx.pcf.fr\r\nArrival-Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n\r\n\
                    Final-Recipient: rfc822; a@example.org\r\nOriginal-Recipient: rfc822;a@example.org\r\n\
                    Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.org\r\n\
                    Diagnostic-Code: smtp; 550 5.1.1 <a@example.org>: Recipient address rejected:\r\n    \
                    User unknown in virtual mailbox table\r\n";
        assert_eq!(classify_dsn(hard), Some(BounceKind::Hard));
        let delayed =
            "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b\nAction: delayed\nStatus: 4.4.1\n";
        assert_eq!(classify_dsn(delayed), Some(BounceKind::Soft));
        let expired = "Final-Recipient: rfc822; a@b\nAction: failed\nStatus: 4.4.7 (delivery time expired)\n";
        assert_eq!(classify_dsn(expired), Some(BounceKind::Soft));
        let full = "Action: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n";
        assert_eq!(classify_dsn(full), Some(BounceKind::Soft), "RFC 3463: X.2.2 is transient");
        let upper = "ACTION: Failed (permanent)\nSTATUS: 5.7.1\n";
        assert_eq!(classify_dsn(upper), Some(BounceKind::Hard));
        let diagnostic_only = "Action: failed\nStatus: unknown\nDiagnostic-Code: smtp; 550-5.1.1 \
                               The email account \
                               that you tried to reach does not exist.\n";
        assert_eq!(classify_dsn(diagnostic_only), Some(BounceKind::Hard));
        let reply_only = "Action: failed\nDiagnostic-Code: smtp; 451 Try later\n";
        assert_eq!(classify_dsn(reply_only), Some(BounceKind::Soft));
        let several = "Action: delayed\nStatus: 4.0.0\n\nAction: failed\nStatus: 5.0.0\n";
        assert_eq!(classify_dsn(several), Some(BounceKind::Hard));
    }

    #[test]
    fn dsn_without_a_failure() {
        assert_eq!(classify_dsn("Reporting-MTA: dns; mx"), None);
        assert_eq!(classify_dsn(""), None);
        assert_eq!(classify_dsn("Action: delivered\nStatus: 2.0.0\n"), None);
        assert_eq!(classify_dsn("Action: relayed\nStatus: 5.0.0\n"), None);
        assert_eq!(classify_dsn("Action: failed\nStatus: garbage\n"), None);
        assert_eq!(classify_dsn("Action: failed\n"), None);
        assert_eq!(classify_dsn("Status: 5.1.10\n"), Some(BounceKind::Hard), "without Action");
        assert_eq!(classify_dsn("Status: 6.1.1\nAction: failed"), None);
        assert_eq!(classify_dsn("not a dsn at all\n\n\n"), None);
    }

    #[test]
    fn text_bounce_heuristics() {
        let hard = |t: &str| assert_eq!(classify_text_bounce(t), Some(BounceKind::Hard), "{t}");
        let soft = |t: &str| assert_eq!(classify_text_bounce(t), Some(BounceKind::Soft), "{t}");
        hard("550 5.1.1 User unknown");
        hard("Adresse inconnue : votre message n'a pas pu être remis.");
        hard("L'adresse alice@example.org n\u{2019}existe pas.");
        hard("The email account that you tried to reach does not exist.");
        hard("Delivery has failed permanently to these recipients");
        hard("Remote Server returned '554 5.4.14 Hop count exceeded'");
        hard("host mx.example.org said: 550 Rejected");
        hard("Échec définitivement.");
        soft("Boîte pleine, réessayez plus tard");
        soft("Sa BOITE PLEINE ne peut plus recevoir de messages");
        soft("552-5.2.2 The email account that you tried to reach is over quota");
        soft("550 5.2.2 Mailbox full");
        soft("Delivery to the following recipient has been delayed.");
        soft("There was a temporary problem delivering your message. Gmail will retry for 46 more hours.");
        soft("Le serveur a répondu 451 4.7.1 please come back");
        soft("Remote said 452");
        assert_eq!(classify_text_bounce("Merci pour votre message"), None);
        assert_eq!(classify_text_bounce("Rendez-vous le 15.50 à 1550 ou à 12:55, IP 5.1.1.1"), None);
        assert_eq!(classify_text_bounce("Version 2.1.0 delivered"), None);
        assert_eq!(classify_text_bounce(""), None);
    }

    #[test]
    fn auto_submitted_values() {
        assert!(is_auto_submitted(Some("auto-replied")));
        assert!(is_auto_submitted(Some("auto-generated; owner-email=x@example.org")));
        assert!(is_auto_submitted(Some(" Auto-Notified ")));
        assert!(is_auto_submitted(Some("(comment) auto-replied")));
        assert!(!is_auto_submitted(Some("no")));
        assert!(!is_auto_submitted(Some("No")));
        assert!(!is_auto_submitted(Some(" NO ; x=y")));
        assert!(!is_auto_submitted(Some("no (a human wrote this)")));
        assert!(!is_auto_submitted(Some("")));
        assert!(!is_auto_submitted(None));
    }
}
