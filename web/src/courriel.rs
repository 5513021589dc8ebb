//! The mail preferences page (`/relais/courriel/{token}`, linked from every mail) and the
//! one-click unsubscribe endpoint (`/relais/courriel/desabonner/{token}`, RFC 8058).
//!
//! The signed token in the address is the only credential: it names one member and cannot be
//! forged without `[mail] secret`. Plain HTML forms, no JavaScript.

use crate::form::Form;
use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::StreamExt;
use maud::{Markup, html};

use relais_bridge::store::{MailList, MemberList};
use relais_bridge::{keys::Keys, messages::mode_label};
use relais_core::config::DeliveryMode;

use crate::{
    WebState,
    page::{message, notice, page},
};

pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/relais/courriel/{token}", get(show).post(save))
        .route("/relais/courriel/desabonner/{token}", get(confirm_unsubscribe).post(unsubscribe))
        .route("/relais/courriel/media/{token}", get(media))
}

/// Largest file served to mail readers through this page.
const MEDIA_LIMIT: u64 = 100 * 1024 * 1024;

/// An image or file too large to attach, for whoever received the mail (the link is signed per
/// message; a redacted message's media is gone).
async fn media(State(state): State<Arc<WebState>>, Path(token): Path<String>) -> Response {
    let Ok(seq) = keys(&state).check_media_token(&token) else { return invalid() };
    let message = match state.mail.message_by_seq(seq).await {
        Ok(message) => message,
        Err(_) => return unavailable(),
    };
    let Some((mxc, name)) = message.filter(|m| !m.redacted).and_then(|m| Some((m.media_url?, m.body))) else {
        return invalid();
    };
    match state.client.open_media(mxc.as_str().into(), MEDIA_LIMIT).await {
        Ok(media) => {
            let safe: String =
                name.chars().filter(|c| c.is_ascii_alphanumeric() || ".-_ ".contains(*c)).collect();
            // Streamed: nothing of the file is held in memory beyond a chunk, and a file whose
            // size was not announced is cut at the limit.
            let mut sent = 0u64;
            let body = media.response.bytes_stream().map(move |chunk| {
                let chunk = chunk.map_err(|e| std::io::Error::other(e.without_url()))?;
                sent += chunk.len() as u64;
                if sent > MEDIA_LIMIT {
                    return Err(std::io::Error::other("media larger than the limit"));
                }
                Ok(chunk)
            });
            (
                [
                    (axum::http::header::CONTENT_TYPE, media.content_type),
                    (axum::http::header::CONTENT_DISPOSITION, format!("inline; filename=\"{safe}\"")),
                    (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                    (axum::http::header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
                ],
                axum::body::Body::from_stream(body),
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot fetch media for a mail reader");
            unavailable()
        }
    }
}

fn keys(state: &WebState) -> Keys {
    relais_bridge::keys::from_config(&state.config)
}

fn invalid() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Lien non valable",
        "Ce lien n'est pas valable : il est incomplet ou a été modifié. Utilisez le lien du dernier courriel \
         reçu, ou demandez de l'aide au référent numérique de votre fédération.",
    )
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service indisponible",
        "Le service est momentanément indisponible. Réessayez dans quelques minutes.",
    )
}

const MODES: [DeliveryMode; 4] =
    [DeliveryMode::Message, DeliveryMode::Daily, DeliveryMode::Weekly, DeliveryMode::None];

/// `prefix`: `l` for a list the member has, `o` for one offered: a choice acts only on a list
/// still in the group it was shown in.
fn list_fieldset(prefix: &str, list: &MailList, current: DeliveryMode) -> Markup {
    let field = format!("{prefix}-{}", list.localpart);
    html! {
        fieldset {
            legend { (list.name) }
            @for mode in MODES {
                @let id = format!("{field}-{}", mode.as_str());
                div.choice {
                    input type="radio" id=(id) name=(field) value=(mode.as_str()) checked[current == mode];
                    label for=(id) { (mode_label(mode)) }
                }
            }
        }
    }
}

/// What the page shows: the lists the member receives (or could, with their mode), and the other
/// lists of the rooms the membership file lets them into, which they may take.
struct Lists {
    taken: Vec<MemberList>,
    offered: Vec<MailList>,
}

fn preferences_page(lists: &Lists, token: &str, done: Option<&str>) -> Markup {
    let action = format!("/relais/courriel/{token}");
    let body = html! {
        @if let Some(done) = done { (notice(done)) }
        @if lists.taken.is_empty() && lists.offered.is_empty() {
            p { "Vous n'êtes abonné(e) à aucune liste de discussion par courriel." }
        } @else {
            form method="post" action=(action) {
                @if lists.taken.is_empty() {
                    p { "Vous n'êtes abonné(e) à aucune liste de discussion par courriel." }
                } @else {
                    p { "Choisissez, pour chaque salon, ce que vous recevez par courriel. Les résumés partent le matin." }
                    @for entry in &lists.taken { (list_fieldset("l", &entry.list, entry.mode)) }
                }
                @if !lists.offered.is_empty() {
                    h2 { "Autres salons auxquels vous avez accès" }
                    p.hint { "Vous pouvez aussi recevoir ces salons, auxquels votre adhésion vous donne accès." }
                    @for list in &lists.offered { (list_fieldset("o", list, DeliveryMode::None)) }
                }
                button type="submit" name="action" value="enregistrer" { "Enregistrer" }
            }
            @if !lists.taken.is_empty() {
                form method="post" action=(action) {
                    p.hint { "Vous pouvez aussi tout arrêter : vous ne recevrez plus aucun courriel des salons." }
                    button type="submit" name="action" value="tout" { "Ne plus rien recevoir" }
                }
            }
        }
    };
    page("Mes courriels", body)
}

async fn member_lists(state: &WebState, member: &str) -> Result<Vec<MemberList>, Response> {
    state.mail.member_lists(member, state.config.mail.default_mode).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read mail preferences");
        unavailable()
    })
}

async fn lists(state: &WebState, member: &str) -> Result<Lists, Response> {
    let taken = member_lists(state, member).await?;
    let offered = offered_lists(state, member).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the lists a member may take");
        unavailable()
    })?;
    Ok(Lists { taken, offered })
}

/// The other lists of the rooms the membership file lets `member` into, but for the rooms a
/// moderator banned one of their accounts from (the file's access stays recorded under a ban).
pub(crate) async fn offered_lists(
    state: &WebState,
    member: &str,
) -> Result<Vec<MailList>, relais_core::StoreError> {
    let lists = state.mail.entitled_lists(member).await?;
    let accounts: Vec<ruma::OwnedUserId> = state
        .records
        .member_accounts(member)
        .await?
        .iter()
        .filter_map(|account| ruma::UserId::parse(account).ok())
        .collect();
    if accounts.is_empty() {
        return Ok(lists);
    }
    let bans =
        relais_provisioning::store::moderation::ModerationStore::new(state.store.clone()).bans().await?;
    let banned = |list: &MailList| {
        list.room_key.as_deref().is_some_and(|key| {
            accounts.iter().any(|user| relais_provisioning::moderation::is_banned_in(&bans, user, key))
        })
    };
    Ok(lists.into_iter().filter(|list| !banned(list)).collect())
}

async fn show(State(state): State<Arc<WebState>>, Path(token): Path<String>) -> Response {
    let Ok(member) = keys(&state).check_preferences_token(&token) else { return invalid() };
    match lists(&state, &member).await {
        Ok(lists) => preferences_page(&lists, &token, None).into_response(),
        Err(response) => response,
    }
}

/// Each list's choice is named after its address and its group (`l-<local part>` for a list
/// the member has, `o-<local part>` for one offered), never its place on the page: a list that
/// appeared, went or changed group since the page was shown changes nothing.
async fn save(
    State(state): State<Arc<WebState>>,
    Path(token): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Ok(member) = keys(&state).check_preferences_token(&token) else { return invalid() };
    let before = match lists(&state, &member).await {
        Ok(lists) => lists,
        Err(response) => return response,
    };
    let everything = form.get("action").map(String::as_str) == Some("tout");
    let chosen = |prefix: &str, list: &MailList| {
        form.get(&format!("{prefix}-{}", list.localpart)).and_then(|m| DeliveryMode::parse(m))
    };
    for entry in &before.taken {
        let mode = if everything { Some(DeliveryMode::None) } else { chosen("l", &entry.list) };
        if let Some(mode) = mode.filter(|m| *m != entry.mode)
            && let Err(e) = state.mail.set_mode(&member, &entry.list.room_id, mode).await
        {
            tracing::error!(error = %e, "cannot save mail preferences");
            return unavailable();
        }
    }
    for list in before.offered.iter().filter(|_| !everything) {
        if let Some(mode) = chosen("o", list).filter(|m| *m != DeliveryMode::None)
            && let Err(e) = state.mail.opt_in(&list.room_id, &member, Some(mode)).await
        {
            tracing::error!(error = %e, "cannot subscribe a member to a list they may take");
            return unavailable();
        }
    }
    let notice = if everything {
        "C'est noté : vous ne recevrez plus aucun courriel des salons."
    } else {
        "Vos préférences sont enregistrées."
    };
    match lists(&state, &member).await {
        Ok(lists) => preferences_page(&lists, &token, Some(notice)).into_response(),
        Err(response) => response,
    }
}

/// A GET only shows a button: link checkers and mail scanners follow links, they must not
/// unsubscribe anyone.
async fn confirm_unsubscribe(State(state): State<Arc<WebState>>, Path(token): Path<String>) -> Response {
    if keys(&state).check_unsubscribe_token(&token).is_err() {
        return invalid();
    }
    let body = html! {
        p { "Voulez-vous ne plus recevoir cette liste par courriel ?" }
        form method="post" action={ "/relais/courriel/desabonner/" (token) } {
            input type="hidden" name="List-Unsubscribe" value="One-Click";
            button type="submit" { "Me désabonner" }
        }
    };
    page("Se désabonner", body).into_response()
}

/// RFC 8058 one-click unsubscribe, and the confirmation form's target.
async fn unsubscribe(State(state): State<Arc<WebState>>, Path(token): Path<String>) -> Response {
    let Ok((list, member)) = keys(&state).check_unsubscribe_token(&token) else { return invalid() };
    let lists = match member_lists(&state, &member).await {
        Ok(lists) => lists,
        Err(response) => return response,
    };
    for entry in lists.iter().filter(|l| list == "tout" || l.list.localpart == list) {
        if let Err(e) = state.mail.set_mode(&member, &entry.list.room_id, DeliveryMode::None).await {
            tracing::error!(error = %e, "cannot unsubscribe");
            return unavailable();
        }
    }
    let body = html! {
        p role="status" { "C'est noté : vous ne recevrez plus ces courriels." }
        p { a href={ "/relais/courriel/" (keys(&state).preferences_token(&member)) } { "Gérer mes autres abonnements" } }
    };
    page("Désabonnement confirmé", body).into_response()
}
