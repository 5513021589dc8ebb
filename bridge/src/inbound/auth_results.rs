//! Who sent a mail, as the site's MTA verified it (`Authentication-Results`, RFC 8601), and
//! what a bounce says (delivery status notifications, RFC 3464). Pure functions.
//!
//! Only the topmost header carrying the configured authserv-id counts: the MTA adds its own on
//! top, and anything below may come from the sender.

/// The verdict on the sender's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass {
        method: &'static str,
    },
    Fail {
        reason: String,
    },
    /// No header from the trusted MTA.
    None,
}

/// A bounce's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    Hard,
    Soft,
}

/// Removes RFC 5322 comments `( … )` (nested) and unfolds lines.
fn uncomment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            '\r' | '\n' => out.push(' '),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// One `method=result prop=value …` clause.
#[derive(Debug, Default)]
struct Clause {
    method: String,
    result: String,
    props: Vec<(String, String)>,
}

impl Clause {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// (authserv-id, clauses) of one header value.
fn parse(value: &str) -> (String, Vec<Clause>) {
    let clean = uncomment(value);
    let mut parts = clean.split(';');
    let authserv = parts.next().unwrap_or("").split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    let clauses = parts
        .filter_map(|part| {
            let mut words = part.split_whitespace();
            let (method, result) = words.next()?.split_once('=')?;
            let props = words
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_ascii_lowercase()))
                .collect();
            Some(Clause { method: method.to_ascii_lowercase(), result: result.to_ascii_lowercase(), props })
        })
        .collect();
    (authserv, clauses)
}

/// Relaxed alignment: the same domain, or one a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches('@').to_ascii_lowercase(), b.to_ascii_lowercase());
    let a = a.rsplit_once('@').map_or(a.as_str(), |(_, d)| d).to_owned();
    !a.is_empty() && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
}

/// The verdict of the trusted MTA on mail whose `From` is in `from_domain`.
pub fn evaluate(headers: &[&str], authserv_id: &str, from_domain: &str) -> Verdict {
    let trusted =
        headers.iter().map(|h| parse(h)).find(|(id, _)| id.eq_ignore_ascii_case(authserv_id.trim()));
    let Some((_, clauses)) = trusted else { return Verdict::None };
    if clauses.is_empty() {
        return Verdict::Fail { reason: "no authentication result".into() };
    }
    if let Some(dmarc) = clauses.iter().find(|c| c.method == "dmarc") {
        let from_ok = dmarc.prop("header.from").is_none_or(|d| aligned(d, from_domain));
        return if dmarc.result == "pass" && from_ok {
            Verdict::Pass { method: "dmarc" }
        } else {
            Verdict::Fail { reason: format!("dmarc={}", dmarc.result) }
        };
    }
    let dkim = clauses
        .iter()
        .filter(|c| c.method == "dkim" && c.result == "pass")
        .any(|c| c.prop("header.d").or_else(|| c.prop("header.i")).is_some_and(|d| aligned(d, from_domain)));
    if dkim {
        return Verdict::Pass { method: "dkim" };
    }
    let spf = clauses
        .iter()
        .filter(|c| c.method == "spf" && c.result == "pass")
        .any(|c| c.prop("smtp.mailfrom").is_some_and(|d| aligned(d, from_domain)));
    if spf {
        return Verdict::Pass { method: "spf" };
    }
    Verdict::Fail { reason: "neither DMARC, an aligned DKIM signature nor aligned SPF passed".into() }
}

/// Whether `Auto-Submitted` marks automatic mail (anything but absent or `no`).
pub fn is_auto_submitted(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let token = v.split(';').next().unwrap_or("").trim();
        !token.is_empty() && !token.eq_ignore_ascii_case("no")
    })
}

/// The severity a `message/delivery-status` part reports.
pub fn classify_dsn(delivery_status: &str) -> Option<BounceKind> {
    let mut action = None;
    let mut status = None;
    for line in delivery_status.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        match name.trim().to_ascii_lowercase().as_str() {
            "action" => action = Some(value.trim().to_ascii_lowercase()),
            "status" => status = value.trim().chars().next(),
            _ => {}
        }
    }
    match (action.as_deref(), status) {
        (Some("delayed"), _) | (_, Some('4')) => Some(BounceKind::Soft),
        (Some("failed"), Some('5')) | (None, Some('5')) => Some(BounceKind::Hard),
        (Some("failed"), _) => Some(BounceKind::Hard),
        _ => None,
    }
}

/// A guess from the text of a non-standard bounce.
pub fn classify_text_bounce(text: &str) -> Option<BounceKind> {
    let text = text.to_lowercase();
    const SOFT: [&str; 6] =
        ["mailbox full", "boîte pleine", "boite pleine", "quota", "over quota", "temporar"];
    const HARD: [&str; 8] = [
        "user unknown",
        "no such user",
        "adresse inconnue",
        "utilisateur inconnu",
        "does not exist",
        "n'existe pas",
        "550",
        "recipient address rejected",
    ];
    if SOFT.iter().any(|w| text.contains(w)) {
        Some(BounceKind::Soft)
    } else if HARD.iter().any(|w| text.contains(w)) {
        Some(BounceKind::Hard)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "mx.pcf.fr";

    #[test]
    fn trusted_dmarc_dkim_and_spf_results() {
        let gmail = "mx.pcf.fr; dkim=pass (2048-bit key) header.d=example.org header.i=@example.org \
                     header.b=abcd; spf=pass (domain of x@example.org designates 1.2.3.4) \
                     smtp.mailfrom=x@example.org; dmarc=pass (p=NONE) header.from=example.org";
        assert_eq!(evaluate(&[gmail], ID, "example.org"), Verdict::Pass { method: "dmarc" });
        let outlook = "mx.pcf.fr 1; spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=outlook.fr;\r\n dkim=pass \
                       (signature was verified) header.d=outlook.fr;dmarc=pass action=none header.from=outlook.fr;\
                       compauth=pass reason=100";
        assert_eq!(evaluate(&[outlook], ID, "outlook.fr"), Verdict::Pass { method: "dmarc" });
        let dkim_only = "MX.PCF.FR; dkim=fail header.d=example.org; dkim=pass header.d=mail.example.org";
        assert_eq!(evaluate(&[dkim_only], ID, "example.org"), Verdict::Pass { method: "dkim" });
        let unaligned = "mx.pcf.fr; dkim=pass header.d=mailer-service.example; spf=pass smtp.mailfrom=bounce@mailer-service.example";
        assert!(matches!(evaluate(&[unaligned], ID, "example.org"), Verdict::Fail { .. }));
        assert!(matches!(evaluate(&["mx.pcf.fr; none"], ID, "example.org"), Verdict::Fail { .. }));
        assert_eq!(evaluate(&[], ID, "example.org"), Verdict::None);
    }

    #[test]
    fn only_the_topmost_trusted_header_counts() {
        let ours = "mx.pcf.fr; dmarc=fail header.from=example.org";
        let forged = "mx.pcf.fr; dmarc=pass header.from=example.org";
        assert!(matches!(evaluate(&[ours, forged], ID, "example.org"), Verdict::Fail { .. }));
        let other = "evil.example; dmarc=pass header.from=example.org";
        assert_eq!(evaluate(&[other], ID, "example.org"), Verdict::None, "another authserv-id is ignored");
    }

    #[test]
    fn bounces_and_automatic_mail() {
        assert_eq!(
            classify_dsn("Final-Recipient: rfc822; a@b\nAction: failed\nStatus: 5.1.1\n"),
            Some(BounceKind::Hard)
        );
        assert_eq!(classify_dsn("Action: delayed\nStatus: 4.4.1\n"), Some(BounceKind::Soft));
        assert_eq!(classify_dsn("Reporting-MTA: dns; mx"), None);
        assert_eq!(classify_text_bounce("Boîte pleine, réessayez"), Some(BounceKind::Soft));
        assert_eq!(classify_text_bounce("550 5.1.1 User unknown"), Some(BounceKind::Hard));
        assert_eq!(classify_text_bounce("Merci pour votre message"), None);
        assert!(is_auto_submitted(Some("auto-replied")));
        assert!(is_auto_submitted(Some("auto-generated; owner-email=x")));
        assert!(!is_auto_submitted(Some("No")));
        assert!(!is_auto_submitted(None));
    }
}
