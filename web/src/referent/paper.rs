//! A room's last week on paper, for a member who reads on paper: the referent prints the
//! messages the mail bridge copied from one of their federation's lists (announcements,
//! sections), by thread, with authors and dates, on a print-ready page.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{Markup, PreEscaped, html};

use relais_bridge::{
    outbound::render::threads,
    store::{MailList, MailMessage},
};
use relais_core::time::{format_paris, now_ms};

use super::{login_page, session};
use crate::{WebState, page::message};

pub(super) const PAPER_PATH: &str = "/relais/referent/papier";

/// Days a printed digest covers, and the messages it holds at most.
const DAYS: i64 = 7;
const MAX_MESSAGES: i64 = 400;

/// The federation's lists a referent may print (by key under the federation's).
async fn federation_lists(
    state: &WebState,
    federation: &str,
) -> Result<Vec<MailList>, relais_core::StoreError> {
    let prefix = format!("{federation}.");
    let lists = state.mail.lists().await?;
    Ok(lists.into_iter().filter(|l| l.room_key.as_deref().is_some_and(|k| k.starts_with(&prefix))).collect())
}

/// The dashboard's section: a printed week for each list of the federation.
pub(super) async fn section(state: &WebState, federation: &str) -> Result<Markup, relais_core::StoreError> {
    let lists = federation_lists(state, federation).await?;
    Ok(html! {
        h2 { "Résumés à imprimer" }
        @if lists.is_empty() {
            p { "Aucun salon de la fédération n'est encore suivi par courriel." }
        } @else {
            p.hint { "La semaine écoulée d'un salon, pour un adhérent qui lit sur papier." }
            ul {
                @for list in &lists {
                    li { a href={ (PAPER_PATH) "?salon=" (list.localpart) } { (list.name) } }
                }
            }
        }
    })
}

/// The printed week of one of the referent's federation's lists.
pub async fn show(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return (StatusCode::UNAUTHORIZED, login_page(None)).into_response();
    };
    let wanted = query.get("salon").map(String::as_str).unwrap_or_default();
    let since = now_ms() - DAYS * 86_400_000;
    let found = match federation_lists(&state, &session.federation).await {
        Ok(lists) => lists.into_iter().find(|l| l.localpart == wanted),
        Err(error) => {
            tracing::error!(%error, "cannot read the federation's lists");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            );
        }
    };
    let Some(list) = found else {
        return message(
            StatusCode::NOT_FOUND,
            "Salon inconnu",
            "Ce salon n'est pas un salon de votre fédération suivi par courriel.",
        );
    };
    let messages = match state.mail.archive_page(&list.room_id, None, MAX_MESSAGES).await {
        Ok(messages) => messages.into_iter().filter(|m| m.origin_ts >= since).collect::<Vec<_>>(),
        Err(error) => {
            tracing::error!(%error, "cannot read a list's messages for paper");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            );
        }
    };
    ([(header::CACHE_CONTROL, "private, no-store")], paper(&list, &messages, since)).into_response()
}

/// The print-ready page: oldest thread first, as a newsletter reads.
fn paper(list: &MailList, newest_first: &[MailMessage], since: i64) -> Markup {
    const STYLE: &str = "body{font-family:Georgia,serif;max-width:40em;margin:1.5em auto;padding:0 1em;font-size:13pt;\
        line-height:1.45;color:#111}h1{font-size:1.4em}.meta{font-family:system-ui,sans-serif;font-size:.85em;color:#444;\
        margin-bottom:.2em}.reply{margin-left:1.5em}.thread{border-top:1px solid #999;padding-top:.6em;margin-top:1em;\
        break-inside:avoid}.noprint{font-family:system-ui,sans-serif}@media print{.noprint{display:none}@page{size:A4;margin:18mm}}";
    let oldest_first: Vec<&MailMessage> = newest_first.iter().rev().collect();
    let groups = threads(&oldest_first);
    html! {
        (maud::DOCTYPE)
        html lang="fr" {
            head { meta charset="utf-8"; title { "Résumé — " (list.name) } style { (PreEscaped(STYLE)) } }
            body {
                p.noprint { a href="/relais/referent" { "Retour" } " · " button onclick="window.print()" { "Imprimer" } }
                h1 { (list.name) " — la semaine depuis le " (format_paris(since)) }
                @if groups.is_empty() { p { "Aucun message cette semaine." } }
                @for thread in &groups {
                    div.thread {
                        @for (i, m) in thread.iter().enumerate() {
                            div class=(if i == 0 { "" } else { "reply" }) {
                                p.meta { (m.sender_name) " — " (format_paris(m.origin_ts)) }
                                @if m.media_url.is_some() {
                                    p { "[Pièce jointe : " (m.body) " — à voir dans le salon]" }
                                } @else {
                                    p style="white-space:pre-wrap" { (m.body) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
