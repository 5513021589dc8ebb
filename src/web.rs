//! The public web listener (`[web] bind`). Pages for members and referents are added by the
//! mail bridge and referents' features; today it serves a landing page and `/health`.

use axum::{Router, response::Html, routing::get};

const INDEX: &str = r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Relais</title></head>
<body><main><h1>Relais</h1>
<p>La messagerie du Parti : vos fédérations, sections et cellules, par l'application de discussion ou par courriel.</p>
</main></body></html>
"#;

pub fn router() -> Router {
    Router::new().route("/", get(|| async { Html(INDEX) })).route("/health", get(|| async { "ok\n" }))
}
