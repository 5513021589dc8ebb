//! Who sent a mail, as the site's MTA verified it (`Authentication-Results`, RFC 8601). Pure
//! functions; what a bounce says is in [`crate::dsn`].
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

// ---------------------------------------------------------------------------------------------
// Authentication-Results
// ---------------------------------------------------------------------------------------------

/// A lexical token of a header value, comments and whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
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
pub(crate) fn tokenize(value: &str) -> Vec<Token> {
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

#[cfg(test)]
mod tests;
