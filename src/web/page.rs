//! The HTML frame of every page: French, readable on a phone, accessible, no external resources.

use relais_provisioning::onboarding::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34em;margin:1.5em auto;padding:0 1em;\
line-height:1.5;color:#1a1a1a}h1{color:#b00000;font-size:1.5em}label{display:block;margin-top:1em;font-weight:600}\
input{width:100%;padding:.6em;font-size:1em;box-sizing:border-box;border:1px solid #666;border-radius:4px}\
button{margin-top:1.2em;background:#b00000;color:#fff;border:0;padding:.8em 1.4em;font-size:1em;border-radius:4px}\
.error{background:#fde8e8;border-left:4px solid #b00000;padding:.6em 1em}.hint{color:#555;font-size:.9em}";

/// A whole page; `body` is already-escaped HTML.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — Relais</title><style>{STYLE}</style></head>\
         <body><main><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title)
    )
}
