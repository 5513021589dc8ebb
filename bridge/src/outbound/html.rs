//! The HTML side of outgoing mail: escaping, plain text to HTML, and the branded frame.

pub use relais_core::html::escape;

/// Plain text as HTML: escaped, paragraphs and line breaks kept, http(s) links clickable.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str("<br>\n");
        }
        for (j, word) in line.split(' ').enumerate() {
            if j > 0 {
                out.push(' ');
            }
            let trimmed = word.trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
            if (trimmed.starts_with("https://") || trimmed.starts_with("http://")) && trimmed.len() > 8 {
                let rest = &word[trimmed.len()..];
                out.push_str(&format!("<a href=\"{0}\">{0}</a>{1}", escape(trimmed), escape(rest)));
            } else {
                out.push_str(&escape(word));
            }
        }
    }
    out
}

/// The mail frame: party header, content, and the footer links every mail carries.
pub fn page(title: &str, body: &str, room_url: &str, prefs_url: &str, unsub_url: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
<style>body{{font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;margin:0;background:#f6f6f6}}\
.wrap{{max-width:640px;margin:0 auto;background:#fff}}.head{{background:#e30613;color:#fff;padding:12px 18px;\
font-weight:bold}}.content{{padding:12px 18px;line-height:1.45}}.meta{{color:#555;font-size:14px;margin:10px 0 2px}}\
.reply{{margin-left:22px;border-left:3px solid #eee;padding-left:8px}}.hint{{color:#555;font-size:14px}}\
.foot{{padding:12px 18px;font-size:13px;color:#555;border-top:1px solid #ddd}}a{{color:#b0000d}}</style></head>\
<body><div class=\"wrap\"><div class=\"head\">{title}</div><div class=\"content\">\n{body}\n</div>\
<div class=\"foot\"><a href=\"{room}\">Ouvrir dans la messagerie</a> · <a href=\"{prefs}\">Mes préférences \
de courriel</a> · <a href=\"{unsub}\">Se désabonner</a></div></div></body></html>\n",
        title = escape(title),
        room = escape(room_url),
        prefs = escape(prefs_url),
        unsub = escape(unsub_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_safe_html_with_links() {
        assert_eq!(
            text_to_html("<b>Réunion</b> & co\nVoir https://pcf.fr/agenda."),
            "&lt;b&gt;Réunion&lt;/b&gt; &amp; co<br>\nVoir <a href=\"https://pcf.fr/agenda\">https://pcf.fr/agenda</a>."
        );
        assert_eq!(text_to_html("javascript:alert(1)"), "javascript:alert(1)");
        assert!(page("A <b>", "x", "r\"", "p", "u").contains("A &lt;b&gt;"));
    }
}
