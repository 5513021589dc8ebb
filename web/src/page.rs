//! The one layout of every page — French, readable on a phone, accessible, no external
//! resources — and the pieces pages share. Templates are `maud::html!`: every interpolated
//! value is escaped; `PreEscaped` wraps only constants (the style sheet, the widget script).

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34em;margin:1.5em auto;padding:0 1em;\
line-height:1.5;color:#1a1a1a}h1{color:#b00000;font-size:1.5em}label{display:block;margin-top:1em;font-weight:600}\
input{width:100%;padding:.6em;font-size:1em;box-sizing:border-box;border:1px solid #666;border-radius:4px}\
button{margin-top:1.2em;background:#b00000;color:#fff;border:0;padding:.8em 1.4em;font-size:1em;border-radius:4px}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em;text-align:left}\
.error{background:#fde8e8;border-left:4px solid #b00000;padding:.6em 1em}.hint{color:#555;font-size:.9em}\
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.6em 1em}fieldset{border:1px solid #ccc;\
border-radius:4px;margin-top:1em}legend{font-weight:600}.choice{display:flex;align-items:center;gap:.6em;\
margin:.4em 0}.choice input{width:1.3em;height:1.3em;flex-shrink:0}.charter{max-height:16em;overflow:auto;border:1px solid #ccc;padding:0 1em;border-radius:4px}.choice label{display:inline;margin:0;font-weight:400}";

/// A whole page.
pub fn page(title: &str, body: Markup) -> Markup {
    page_with_head(title, html! {}, body)
}

/// A whole page with extra `<head>` content.
pub fn page_with_head(title: &str, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                (head)
                title { (title) " — Relais" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { h1 { (title) } (body) } }
        }
    }
}

/// A page of one paragraph, answered with `status`.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    (status, page(title, html! { p { (text) } })).into_response()
}

/// An error the reader must see first (announced by screen readers).
pub fn alert(text: &str) -> Markup {
    html! { p.error role="alert" { (text) } }
}

/// The outcome of what the reader just did (announced by screen readers).
pub fn notice(text: &str) -> Markup {
    html! { p.ok role="status" { (text) } }
}

/// `YYYY-MM-DD HH:MM UTC` for milliseconds since the epoch (civil calendar, no time zone data).
pub fn date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = relais_core::time::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_795_488_015_383), "2026-11-24 02:40 UTC");
        assert_eq!(date(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn what_a_page_shows_is_escaped() {
        let hostile = "<script>alert(1)</script>\"'&";
        let html = page(hostile, alert(hostile)).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"), "{html}");
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"fr\">"), "{html}");
    }
}
