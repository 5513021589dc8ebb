//! Links of a broadcast rewritten through Relais's own redirect (`/relais/lien/TOKEN`), so that
//! clicks are counted without any third-party tracker and without knowing who clicked. Pure.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Characters that end a URL in text or in an HTML attribute.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'')
}

/// Byte spans of the http(s) URLs in `text`, without trailing punctuation.
fn url_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = ["https://", "http://"].iter().filter_map(|p| text[from..].find(p)).min() {
        let start = from + found;
        let mut end = text[start..].find(ends_url).map_or(text.len(), |n| start + n);
        while end > start {
            let last = text[start..end].chars().next_back().unwrap_or(' ');
            let span = &text[start..end];
            let unbalanced = last == ')' && span.matches(')').count() > span.matches('(').count();
            if matches!(last, '.' | ',' | ';' | ':' | '!' | '?') || unbalanced {
                end -= last.len_utf8();
            } else {
                break;
            }
        }
        // A bare scheme is not a link.
        if text[start..end].split_once("://").is_some_and(|(_, rest)| !rest.is_empty()) {
            spans.push((start, end));
        }
        from = end.max(start + 1);
    }
    spans
}

/// A stable token for `url` in the broadcast `seed`: a retried command makes the same links.
pub fn token(seed: &str, url: &str) -> String {
    let digest = Sha256::digest(format!("{seed}\n{url}").as_bytes());
    digest.iter().take(9).map(|b| format!("{b:02x}")).collect()
}

/// Rewrites the URLs of `text` (HTML when `html`, whose `&amp;` are decoded), recording each.
fn rewrite_text(
    text: &str,
    html: bool,
    redirect: &str,
    seed: &str,
    links: &mut Vec<(String, String)>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in url_spans(text) {
        let raw = &text[start..end];
        let url = if html { raw.replace("&amp;", "&") } else { raw.to_owned() };
        out.push_str(&text[last..start]);
        if url.starts_with(redirect) {
            out.push_str(raw);
        } else {
            let token = token(seed, &url);
            out.push_str(redirect);
            out.push_str(&token);
            if !links.iter().any(|(t, _)| *t == token) {
                links.push((token, url));
            }
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Rewrites the links of a message's `body` and `formatted_body` to `redirect` + token (for
/// instance `https://relais.pcf.fr/relais/lien/`); returns (token, address) of each link.
pub fn rewrite_links(content: &mut Value, redirect: &str, seed: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    let Some(obj) = content.as_object_mut() else { return links };
    for (key, html) in [("body", false), ("formatted_body", true)] {
        if let Some(Value::String(text)) = obj.get(key) {
            let rewritten = rewrite_text(text, html, redirect, seed, &mut links);
            obj.insert(key.to_owned(), Value::String(rewritten));
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const R: &str = "https://relais.test/relais/lien/";

    #[test]
    fn finds_links_in_prose() {
        let text = "Voir https://pcf.fr/tract.pdf, et (https://pcf.fr/a_(b)) puis http://x.fr/?q=1&r=2. Fin https://";
        let found: Vec<&str> = url_spans(text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(found, ["https://pcf.fr/tract.pdf", "https://pcf.fr/a_(b)", "http://x.fr/?q=1&r=2"]);
    }

    #[test]
    fn rewrites_body_and_html_with_the_same_token() {
        let mut content = json!({
            "msgtype": "m.text",
            "body": "Pétition : https://pcf.fr/p?a=1&b=2 !",
            "formatted_body": "Pétition : <a href=\"https://pcf.fr/p?a=1&amp;b=2\">signer</a> !"
        });
        let links = rewrite_links(&mut content, R, "$cmd");
        assert_eq!(links.len(), 1);
        let (token, url) = &links[0];
        assert_eq!(url, "https://pcf.fr/p?a=1&b=2");
        assert_eq!(content["body"], format!("Pétition : {R}{token} !"));
        assert_eq!(content["formatted_body"], format!("Pétition : <a href=\"{R}{token}\">signer</a> !"));
    }

    #[test]
    fn tokens_are_stable_per_broadcast_and_own_links_are_kept() {
        assert_eq!(token("$a", "https://x.fr"), token("$a", "https://x.fr"));
        assert_ne!(token("$a", "https://x.fr"), token("$b", "https://x.fr"));
        let mut content = json!({"body": format!("déjà {R}abc")});
        assert!(rewrite_links(&mut content, R, "$cmd").is_empty());
        assert_eq!(content["body"], format!("déjà {R}abc"));
        let mut image = json!({"msgtype": "m.image", "body": "affiche.png", "url": "mxc://pcf.test/x"});
        assert!(rewrite_links(&mut image, R, "$cmd").is_empty());
        assert_eq!(image["url"], "mxc://pcf.test/x");
    }
}
