//! A list's web archive (`/relais/archives/{token}`): the room's messages as the mail bridge
//! copied them (within `[mail] retention_days`), by thread, newest first, with dates, authors by
//! display name and attachments through the signed media page; and a search of them. Readable
//! by the list's members only: the token, in every mail of the list (`List-Archive`), names the
//! list and the member, signed with the mail key, and the member must still be active and
//! receive the list or be let into its room by the membership file. A member on the chat signs
//! in at `/relais/archives` with their Matrix account and gets the same links for every list of
//! their rooms.

use crate::form::Form;
use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{ConnectInfo, Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use maud::{Markup, html};

use relais_bridge::{
    keys::Keys,
    outbound::render::threads,
    store::{MailList, MailMessage, search_words},
};
use relais_core::time::format_paris;

use crate::{
    WebState,
    page::{alert, message, page},
};

pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/relais/archives", get(sign_in_page).post(sign_in))
        .route("/relais/archives/{token}", get(show))
}

/// Messages read for one page of threads, and search results shown at most.
const PAGE: i64 = 100;
const RESULTS: i64 = 50;

fn invalid() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Lien non valable",
        "Ce lien d'archives n'est pas valable : il est incomplet, a été modifié, ou vous ne recevez plus cette \
         liste. Utilisez le lien d'un courriel récent de la liste, ou connectez-vous avec votre compte de \
         messagerie sur la page des archives (/relais/archives).",
    )
}

fn unavailable() -> Response {
    message(StatusCode::SERVICE_UNAVAILABLE, "Archives indisponibles", "Réessayez dans quelques minutes.")
}

/// The list the token opens, if its member may read it.
async fn readable(
    state: &WebState,
    keys: &Keys,
    token: &str,
) -> Result<Option<MailList>, relais_core::StoreError> {
    let Ok((localpart, member_id)) = keys.check_archive_token(token) else { return Ok(None) };
    let active = state.directory.member(&member_id).await?.is_some_and(|m| m.active);
    if !active {
        return Ok(None);
    }
    Ok(member_archives(state, &member_id).await?.into_iter().find(|l| l.localpart == localpart))
}

/// The lists whose archives a member may read: those they receive (or could, with their
/// mode), and the other lists of the rooms the membership file lets them into.
async fn member_archives(
    state: &WebState,
    member_id: &str,
) -> Result<Vec<MailList>, relais_core::StoreError> {
    let mut lists: Vec<MailList> = state
        .mail
        .member_lists(member_id, state.config.mail.default_mode)
        .await?
        .into_iter()
        .map(|l| l.list)
        .collect();
    lists.extend(crate::courriel::offered_lists(state, member_id).await?);
    lists.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(lists)
}

fn sign_in_form(error: Option<&str>) -> Markup {
    let body = html! {
        p {
            "Les archives des listes de discussion de vos salons. Vous les recevez par courriel ? Le lien « Archives » "
            "de chaque courriel de la liste y mène directement. Vous utilisez la messagerie ? Connectez-vous avec votre compte."
        }
        @if let Some(error) = error { (alert(error)) }
        (crate::signin::password_form("/relais/archives", "Voir mes archives"))
    };
    page("Archives des listes", body)
}

async fn sign_in_page() -> Response {
    sign_in_form(None).into_response()
}

/// A member on the chat proves their account and gets a link to each list's archive, the same
/// personal link the list's mail carries (nothing kept: no session to steal).
async fn sign_in(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<crate::signin::PasswordForm>,
) -> Response {
    let user_id =
        match crate::signin::password(&state, peer, &headers, &form.identifiant, &form.mot_de_passe).await {
            Ok(user_id) => user_id,
            Err(crate::signin::Refusal::TooMany) => return crate::too_many_requests(),
            Err(refusal) => return (refusal.status(), sign_in_form(Some(refusal.text()))).into_response(),
        };
    let lists = match state.directory.member_id_of(&user_id).await {
        Ok(Some(member_id)) => member_archives(&state, &member_id).await.map(|lists| (member_id, lists)),
        Ok(None) => {
            let text = "Les archives sont réservées aux adhérents inscrits dans le fichier des adhérents.";
            return (StatusCode::FORBIDDEN, sign_in_form(Some(text))).into_response();
        }
        Err(error) => Err(error),
    };
    let (member_id, lists) = match lists {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "cannot list a member's archives");
            return unavailable();
        }
    };
    let keys = relais_bridge::keys::from_config(&state.config);
    let body = html! {
        @if lists.is_empty() {
            p { "Aucun de vos salons n'a de liste de discussion par courriel pour l'instant." }
        } @else {
            ul {
                @for list in &lists {
                    li { a href={ "/relais/archives/" (keys.archive_token(&list.localpart, &member_id)) } { (list.name) } }
                }
            }
            p.hint { "Ces liens sont personnels : ne les transférez pas." }
        }
    };
    let page = page("Mes archives", body);
    ([(header::CACHE_CONTROL, "private, no-store"), (header::REFERRER_POLICY, "no-referrer")], page)
        .into_response()
}

async fn show(
    State(state): State<Arc<WebState>>,
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let keys = relais_bridge::keys::from_config(&state.config);
    let list = match readable(&state, &keys, &token).await {
        Ok(Some(list)) => list,
        Ok(None) => return invalid(),
        Err(error) => {
            tracing::warn!(%error, "cannot open a list's archive");
            return unavailable();
        }
    };
    let typed = query.get("q").map(|q| q.chars().take(200).collect::<String>()).unwrap_or_default();
    let before = query.get("avant").and_then(|b| b.parse::<i64>().ok());
    let words = search_words(&typed);
    let found = if words.is_empty() {
        state.mail.archive_page(&list.room_id, before, PAGE).await
    } else {
        state.mail.archive_search(&list.room_id, &words, RESULTS).await
    };
    let messages = match found {
        Ok(messages) => messages,
        Err(error) => {
            tracing::warn!(%error, "cannot read a list's archive");
            return unavailable();
        }
    };
    let body = html! {
        form method="get" {
            label for="q" { "Rechercher dans les archives" }
            input #q name="q" type="search" value=(typed) placeholder="réunion, tractage…";
            button type="submit" { "Rechercher" }
        }
        @if words.is_empty() {
            (thread_list(&keys, &state, &messages))
            @if messages.len() as i64 == PAGE && let Some(oldest) = messages.last() {
                p { a href={ "?avant=" (oldest.seq) } { "Messages plus anciens" } }
            }
        } @else {
            h2 { (messages.len()) " message(s) trouvé(s)" }
            @for m in &messages { (item(&keys, &state, m)) }
            p { a href="?" { "Toutes les discussions" } }
        }
        p.hint { "Archives des " (state.config.mail.retention_days) " derniers jours. Ce lien est personnel : ne le transférez pas." }
    };
    let page = page(&format!("Archives — {}", list.name), body);
    ([(header::CACHE_CONTROL, "private, no-store"), (header::REFERRER_POLICY, "no-referrer")], page)
        .into_response()
}

/// The messages, newest first, grouped by thread (each thread oldest first).
fn thread_list(keys: &Keys, state: &WebState, newest_first: &[MailMessage]) -> Markup {
    let oldest_first: Vec<&MailMessage> = newest_first.iter().rev().collect();
    let mut groups = threads(&oldest_first);
    groups.reverse();
    html! {
        @if groups.is_empty() { p { "Aucun message pour l'instant." } }
        @for thread in &groups {
            article style="border-left:3px solid #ddd;padding-left:.8em;margin:1.2em 0" {
                @for (i, m) in thread.iter().enumerate() {
                    div style=(if i == 0 { "" } else { "margin-left:1.2em" }) { (item(keys, state, m)) }
                }
            }
        }
    }
}

fn item(keys: &Keys, state: &WebState, m: &MailMessage) -> Markup {
    let site = state.config.web.public_url.as_str().trim_end_matches('/');
    html! {
        p.hint { strong { (m.sender_name) } " — " (format_paris(m.origin_ts)) }
        @if m.media_url.is_some() {
            p { a href={ (site) "/relais/courriel/media/" (keys.media_token(m.seq)) } { "Pièce jointe : " (m.body) } }
        } @else {
            p style="white-space:pre-wrap" { (m.body) }
        }
    }
}
