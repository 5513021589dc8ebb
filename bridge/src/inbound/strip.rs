//! The new text of an email reply: quoted history, attribution lines, forwarded-header blocks
//! and signatures removed, for the clients members use (Gmail, Outlook, Apple Mail, Thunderbird,
//! Orange and SFR webmails), in French and English. Pure.
//!
//! An all-quoted reply gives an empty string: the caller answers "nothing new to post".

/// Lines that start the quoted original in every client we know.
const SEPARATORS: &[&str] = &[
    "-----message d'origine-----",
    "-----original message-----",
    "----- mail original -----",
    "----- mail d'origine -----",
    "----- message d'origine -----",
    "----- original message -----",
    "-------- message original --------",
    "-------- original message --------",
    "-------- message transféré --------",
    "---------- forwarded message ---------",
    "________________________________",
];

/// Header names of the quoted block of Outlook/SFR/Orange ("De : …", "From: …").
const HEADER_NAMES: &[&str] =
    &["de", "from", "envoyé", "envoye", "sent", "date", "à", "a", "to", "objet", "subject", "cc"];

/// Mobile footers removed when they end the reply.
const FOOTERS: &[&str] = &[
    "envoyé de mon iphone",
    "envoyé de mon ipad",
    "envoyé depuis mon mobile",
    "envoyé depuis mon smartphone",
    "envoyé de mon appareil",
    "envoyé à partir de outlook",
    "envoyé depuis outlook",
    "obtenir outlook pour",
    "sent from my iphone",
    "sent from my ipad",
    "sent from my android",
    "get outlook for",
    "sent from outlook",
    "envoyé de mon smartphone samsung galaxy",
    "envoyé depuis l'application mail orange",
    "envoyé depuis mon appareil galaxy",
];

fn normalise(line: &str) -> String {
    line.trim().replace('\u{a0}', " ").to_lowercase()
}

/// "Le … a écrit :", "On … wrote:" (the line may end a wrapped attribution).
fn is_attribution_end(line: &str) -> bool {
    let l = normalise(line);
    l.ends_with("a écrit :") || l.ends_with("a écrit:") || l.ends_with("a ecrit :") || l.ends_with("wrote:")
}

fn starts_attribution(line: &str) -> bool {
    let l = normalise(line);
    l.starts_with("le ") || l.starts_with("on ") || l.starts_with("> message du")
}

/// "De : x", "From: x", "Envoyé : x"… (a header of a quoted block).
fn is_quoted_header(line: &str) -> bool {
    let l = normalise(line.trim_start_matches('>').trim_start_matches('*'));
    let Some((name, _)) = l.split_once(':') else { return false };
    let name = name.trim().trim_end_matches('*').trim();
    HEADER_NAMES.contains(&name)
}

/// Where the quoted history begins, if anywhere.
fn history_start(lines: &[&str]) -> Option<usize> {
    for (i, line) in lines.iter().enumerate() {
        let l = normalise(line);
        if SEPARATORS.iter().any(|s| l.starts_with(s)) || l.starts_with("> message du") {
            return Some(i);
        }
        if is_attribution_end(line) {
            // A wrapped attribution starts on the line above.
            let start = if i > 0 && starts_attribution(lines[i - 1]) && !starts_attribution(line) {
                i - 1
            } else {
                i
            };
            // An attribution must be followed by quoted text or nothing, else it is prose.
            let rest_quoted =
                lines[i + 1..].iter().all(|l| l.trim().is_empty() || l.trim_start().starts_with('>'));
            if starts_attribution(lines[start]) || rest_quoted {
                return Some(start);
            }
        }
        // An Outlook block without separator: "De : …" followed by "Envoyé : …"/"Sent: …".
        if is_quoted_header(line)
            && (l.starts_with("de ") || l.starts_with("de:") || l.starts_with("from:"))
            && lines.get(i + 1).is_some_and(|n| is_quoted_header(n))
        {
            return Some(i);
        }
    }
    None
}

/// The new text of a reply.
pub fn strip_reply(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let end = history_start(&lines).unwrap_or(lines.len());
    let mut kept: Vec<&str> = Vec::new();
    for line in &lines[..end] {
        if *line == "-- " || line.trim_end() == "--" {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    while kept
        .last()
        .is_some_and(|l| l.trim().is_empty() || FOOTERS.iter().any(|f| normalise(l).starts_with(f)))
    {
        kept.pop();
    }
    let first = kept.iter().position(|l| !l.trim().is_empty()).unwrap_or(kept.len());
    // Collapse runs of blank lines left where quotes were.
    let mut out: Vec<&str> = Vec::new();
    for line in &kept[first..] {
        if line.is_empty() && out.last().is_some_and(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n")
}

/// Elements whose content is never text, and quote containers whose content is history.
const SKIPPED: &[&str] = &["head", "style", "script", "title", "blockquote"];

/// Plain text of an HTML body, quote containers removed; feed the result to [`strip_reply`].
pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut skip: Vec<String> = Vec::new();
    while let Some(lt) = rest.find('<') {
        if skip.is_empty() {
            out.push_str(&decode_entities(&rest[..lt]));
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            if skip.is_empty() {
                out.push_str(&decode_entities(&rest[lt..]));
            }
            return finish(out);
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let lower = tag.to_ascii_lowercase();
        let closing = lower.starts_with('/');
        let name: String =
            lower.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        // Gmail, Outlook and Apple quote containers: everything from there on is history.
        if !closing
            && (lower.contains("gmail_quote")
                || lower.contains("divrplyfwdmsg")
                || lower.contains("appendonsend")
                || lower.contains("mail-editor-reference-message-container")
                || lower.contains("moz-cite-prefix"))
        {
            return finish(out);
        }
        if SKIPPED.contains(&name.as_str()) && !lower.ends_with('/') {
            if closing {
                if skip.last() == Some(&name) {
                    skip.pop();
                }
            } else {
                skip.push(name.clone());
            }
            continue;
        }
        if skip.is_empty() && matches!(name.as_str(), "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3") {
            out.push('\n');
        }
    }
    if skip.is_empty() {
        out.push_str(&decode_entities(rest));
    }
    finish(out)
}

fn finish(out: String) -> String {
    out.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_owned()
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let entity = &after[..e];
            let c = match entity {
                "nbsp" => ' ',
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" | "#39" => '\'',
                _ => {
                    let code = entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X"));
                    let n = match code {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => entity.strip_prefix('#').and_then(|d| d.parse().ok()),
                    };
                    char::from_u32(n?)?
                }
            };
            Some((c, e))
        });
        match decoded {
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
    // Source line breaks are not line breaks in HTML.
    out.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_cases() {
        assert_eq!(strip_reply(""), "");
        assert_eq!(strip_reply("> tout cité\n> encore"), "");
        assert_eq!(
            strip_reply("Oui.\r\n\r\nLe lun. 23 nov. 2026 à 18:02, Jeanne <j@x.org> a écrit :\r\n> Q ?\r\n"),
            "Oui."
        );
        assert_eq!(
            strip_reply("Paul a écrit un tract magnifique.\nBravo."),
            "Paul a écrit un tract magnifique.\nBravo."
        );
        assert_eq!(strip_reply("Merci\n-- \nJeanne\nSecrétaire"), "Merci");
        assert_eq!(strip_reply("D'accord\n\nEnvoyé de mon iPhone"), "D'accord");
        assert_eq!(
            html_to_text("<p>Bonjour&nbsp;à tous</p><p>Oui &amp; non <b>é</b></p>"),
            "Bonjour à tous\n\nOui & non é"
        );
        assert_eq!(html_to_text("a < b <i"), "a < b <i");
        assert_eq!(
            html_to_text("<div>Réponse</div><div class=\"gmail_quote\">Le … a écrit</div>"),
            "Réponse"
        );
        assert_eq!(html_to_text("<style>p{}</style>é&#233;&#xE9;"), "ééé");
    }
}
