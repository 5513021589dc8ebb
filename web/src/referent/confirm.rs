//! How a referent confirms before changing anything.
//!
//! Signed in with their password, nothing more is asked. Signed in with an OpenID token — not
//! bound to Relais: any widget the referent approved could replay it — the session reads and
//! dry-runs only, until its holder proves once more that they hold the account itself:
//! - an account on the party's homeserver gives its password, checked there;
//! - an account on a federation's own homeserver, whose password Relais cannot check, types a
//!   code the bot sends it in a direct message: reading it takes the account, not a token.
//!
//! Confirming the session lets it act for [`CONFIRMED_MS`]. An import can also be confirmed
//! alone, on its dry-run page, with a code bound to its upload, sent when the referent asks
//! for it (a referent trying imports spends no code). A code allows
//! [`CONFIRM_TRIES`] tries; a session's lives [`SESSION_CODE_MS`], an upload's as long as the
//! upload. An account is sent [`CODES_AT_ONCE`] codes at most at once, then one every
//! [`CODE_INTERVAL_MS`] (five an hour).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use ruma::{TransactionId, UserId, events::room::message::RoomMessageEventContent};
use serde::Deserialize;

use relais_provisioning::onboarding::{display_code, letter_code, new_token, normalize_code, token_hash};

use super::{WebState, login_page, session, session_token};
use crate::{
    form::Form,
    page::{alert, page},
    store::{CONFIRM_TRIES, WebSession},
};

pub(super) const CONFIRM_PATH: &str = "/relais/referent/confirmer";
pub(super) const CODE_PATH: &str = "/relais/referent/code";

/// How long a confirmed session may act.
const CONFIRMED_MS: i64 = 15 * 60 * 1000;

/// Codes sent to one account at once at most, across every node…
const CODES_AT_ONCE: i64 = 5;

/// … then one every twelve minutes.
const CODE_INTERVAL_MS: i64 = 12 * 60 * 1000;

/// How long a session's code may be typed.
const SESSION_CODE_MS: i64 = 10 * 60 * 1000;

/// What acting asks of the referent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Confirmation {
    /// Signed in with the password, or confirmed since: nothing more.
    None,
    /// The password of their account on the party's homeserver.
    Password,
    /// A code the bot sends them (their account is on another homeserver).
    Code,
}

impl Confirmation {
    pub(super) fn of(state: &WebState, session: &WebSession) -> Self {
        if session.may_act() {
            return Self::None;
        }
        let ours = &state.config.homeserver.server_name;
        match <&UserId>::try_from(session.user_id.as_str()) {
            Ok(user) if user.server_name() != ours => Self::Code,
            _ => Self::Password,
        }
    }
}

/// Why no code went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeNotSent {
    TooMany,
    Unavailable,
}

impl CodeNotSent {
    fn page(self) -> Response {
        match self {
            Self::TooMany => refused(TOO_MANY_CODES),
            Self::Unavailable => unavailable(),
        }
    }
}

const TOO_MANY_CODES: &str = "Trop de codes envoyés à votre compte ces dernières minutes : réessayez dans un quart \
     d'heure. Pour plusieurs imports, confirmez plutôt votre session depuis l'accueil de l'espace : un seul code \
     vaut alors 15 minutes pour tout.";

/// The signed-in referent when their session may act; otherwise the page that asks them to
/// confirm (or to sign in).
pub(super) async fn acting(state: &WebState, headers: &HeaderMap) -> Result<WebSession, Response> {
    let Some(session) = session(state, headers).await else {
        return Err((StatusCode::UNAUTHORIZED, login_page(None)).into_response());
    };
    match Confirmation::of(state, &session) {
        Confirmation::None => Ok(session),
        asked => Err((StatusCode::FORBIDDEN, confirm_page(asked, None)).into_response()),
    }
}

fn confirm_page(confirmation: Confirmation, error: Option<&str>) -> Markup {
    let body = html! {
        p {
            "Vous êtes connecté·e depuis la messagerie. Avant de modifier quoi que ce soit, confirmez que c'est \
             bien vous ; l'espace vous laisse ensuite agir pendant 15 minutes."
        }
        @if let Some(error) = error { (alert(error)) }
        (confirm_form(confirmation))
        p { a href="/relais/referent" { "Retour" } }
    };
    page("Confirmez votre identité", body)
}

/// The dashboard's word to a session that must confirm before acting, with the way to do it.
pub(super) fn dashboard_notice(confirmation: Confirmation) -> Markup {
    html! {
        @if confirmation != Confirmation::None {
            section.confirmer aria-labelledby="confirmer" {
                h2 #confirmer { "Confirmer que c'est vous" }
                p {
                    "Connecté·e depuis la messagerie, vous pouvez tout consulter et essayer un import. Pour agir \
                     (appliquer un import, lettres, comptes, mots de passe, procurations, salons), confirmez \
                     d'abord que c'est bien vous : l'espace vous laisse ensuite agir pendant 15 minutes."
                }
                (confirm_form(confirmation))
            }
        }
    }
}

/// The password field, or the button that has the bot send a code.
fn confirm_form(confirmation: Confirmation) -> Markup {
    html! {
        @match confirmation {
            Confirmation::Code => {
                form method="post" action=(CODE_PATH) {
                    p { "Votre compte est sur le serveur de votre fédération : le robot Relais vous envoie un code en message privé." }
                    button type="submit" { "Recevoir un code" }
                }
            }
            _ => {
                form method="post" action=(CONFIRM_PATH) {
                    label for="mdp" { "Mot de passe de votre compte Matrix" }
                    input #mdp name="mot_de_passe" type="password" autocomplete="current-password" required;
                    button type="submit" { "Confirmer" }
                }
            }
        }
    }
}

fn code_form() -> Markup {
    let body = html! {
        p { "Le robot Relais vient de vous envoyer un code en message privé dans la messagerie." }
        form method="post" action=(CONFIRM_PATH) {
            label for="code" { "Code reçu" }
            input #code name="code" type="text" autocomplete="one-time-code" autocapitalize="characters"
                spellcheck="false" required;
            button type="submit" { "Confirmer" }
        }
        p { a href="/relais/referent" { "Retour" } }
    };
    page("Confirmez votre identité", body)
}

/// What asks for a code: nothing (the session's), or an upload's apply form (its fields come
/// back on the page that asks for the code).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeRequest {
    upload: Option<String>,
    confirmer: Option<String>,
}

/// Sends a code to the session's holder (accounts of another homeserver): one that confirms
/// the session, or, asked from a dry run's page, one that applies that upload. Never sent
/// without being asked: a referent trying imports spends no code.
pub async fn send_session_code(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(request): Form<CodeRequest>,
) -> Response {
    let (Some(session), Some(token)) = (session(&state, &headers).await, session_token(&headers)) else {
        return (StatusCode::UNAUTHORIZED, login_page(None)).into_response();
    };
    let confirmation = Confirmation::of(&state, &session);
    match (confirmation, request.upload.as_deref()) {
        (Confirmation::Code, Some(upload)) => {
            return send_upload_code(&state, &session, upload, request.confirmer.is_some()).await;
        }
        (Confirmation::Code, None) => {}
        // Confirmed meanwhile (another tab): the upload applies without a code.
        (Confirmation::None, Some(upload)) => {
            return apply_form(upload, request.confirmer.is_some(), false).into_response();
        }
        _ => return Redirect::to("/relais/referent").into_response(),
    }
    let hash = match send_code(&state, &session, "confirmer votre session de l'espace des référents").await
    {
        Ok(hash) => hash,
        Err(not_sent) => return not_sent.page(),
    };
    let until = relais_core::time::now_ms() + SESSION_CODE_MS;
    if let Err(error) = state.web.session_code_save(&token_hash(&token), &hash, until).await {
        tracing::error!(%error, "cannot keep a session's confirmation code");
        return unavailable();
    }
    code_form().into_response()
}

/// Sends the code that applies `upload` (the session's own, still waiting), and answers the
/// apply form with the code to type; `confirmer`: the removals were confirmed on the dry run.
async fn send_upload_code(state: &WebState, session: &WebSession, upload: &str, confirmer: bool) -> Response {
    match state.web.upload_pending(upload, &session.user_id).await {
        Ok(true) => {}
        Ok(false) => {
            return super::import::error_page(
                StatusCode::GONE,
                "Ce fichier a expiré ou a déjà été appliqué : recommencez l'import.",
            );
        }
        Err(error) => {
            tracing::error!(%error, "cannot read an upload");
            return unavailable();
        }
    }
    let hash = match send_code(state, session, "appliquer l'import que vous venez de vérifier").await {
        Ok(hash) => hash,
        Err(not_sent) => return not_sent.page(),
    };
    match state.web.upload_code_save(upload, &session.user_id, &hash).await {
        Ok(true) => apply_form(upload, confirmer, true).into_response(),
        Ok(false) => super::import::error_page(
            StatusCode::GONE,
            "Ce fichier a expiré ou a déjà été appliqué : recommencez l'import.",
        ),
        Err(error) => {
            tracing::error!(%error, "cannot keep an upload's confirmation code");
            unavailable()
        }
    }
}

/// The apply form of `upload`, with the code to type when `code` (and a way to ask for a new
/// one); `confirmer`: the removals were confirmed on the dry run.
fn apply_form(upload: &str, confirmer: bool, code: bool) -> Markup {
    let carried = html! {
        input type="hidden" name="upload" value=(upload);
        @if confirmer { input type="hidden" name="confirmer" value="oui"; }
    };
    let body = html! {
        @if code { p { "Le robot Relais vient de vous envoyer un code en message privé dans la messagerie." } }
        form method="post" action="/relais/referent/appliquer" {
            (carried)
            @if code {
                label for="code" { "Code reçu" }
                input #code name="code" type="text" autocomplete="one-time-code" autocapitalize="characters"
                    spellcheck="false" required;
            }
            button type="submit" { "Appliquer" }
        }
        @if code {
            form method="post" action=(CODE_PATH) {
                (carried)
                button type="submit" { "Recevoir un nouveau code" }
            }
        }
        p { a href="/relais/referent" { "Annuler" } }
    };
    page("Confirmez l'import", body)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConfirmForm {
    mot_de_passe: Option<String>,
    code: Option<String>,
}

/// Confirms the session with the password or the code; it may then act for a while.
pub async fn confirm_session(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let (Some(session), Some(token)) = (session(&state, &headers).await, session_token(&headers)) else {
        return (StatusCode::UNAUTHORIZED, login_page(None)).into_response();
    };
    let token_hash = token_hash(&token);
    let confirmation = Confirmation::of(&state, &session);
    let checked = match confirmation {
        // Confirmed already: nothing to renew without a new proof.
        Confirmation::None => return Redirect::to("/relais/referent").into_response(),
        Confirmation::Password => {
            check_password(&state, peer, &headers, &session, form.mot_de_passe.as_deref().unwrap_or_default())
                .await
        }
        Confirmation::Code => {
            let expected = state.web.session_code_try(&token_hash).await;
            compare_code(expected, form.code.as_deref().unwrap_or_default()).map_err(CodeRefusal::page)
        }
    };
    if let Err(refusal) = checked {
        return refusal;
    }
    let fresh = new_token();
    let until = relais_core::time::now_ms() + CONFIRMED_MS;
    match state
        .web
        .session_confirm(&token_hash, &relais_provisioning::onboarding::token_hash(&fresh), until)
        .await
    {
        Ok(true) => {
            let cookie = super::session_cookie(&state, &fresh);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/relais/referent")).into_response()
        }
        Ok(false) => (StatusCode::UNAUTHORIZED, login_page(None)).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot mark a session confirmed");
            unavailable()
        }
    }
}

/// Makes a code and sends it to the referent in the bot's direct room with them, saying it is
/// to `what`; returns its hash to keep.
async fn send_code(state: &WebState, session: &WebSession, what: &str) -> Result<String, CodeNotSent> {
    let Ok(user) = <&UserId>::try_from(session.user_id.as_str()) else {
        return Err(CodeNotSent::Unavailable);
    };
    // Each code is a message to the referent: a replayed token cannot flood them.
    match state.web.code_may_be_sent(user.as_str(), CODES_AT_ONCE, CODE_INTERVAL_MS).await {
        Ok(true) => {}
        Ok(false) => return Err(CodeNotSent::TooMany),
        Err(error) => {
            tracing::error!(%error, "cannot count the confirmation codes sent");
            return Err(CodeNotSent::Unavailable);
        }
    }
    let code = letter_code();
    let bot = state.config.bot_user_id();
    let room = match relais_bots::service::private_direct_room(&state.bots, &state.client, &bot, user).await {
        Ok(room) => room,
        Err(error) => {
            tracing::error!(%error, "cannot open the direct room for a confirmation code");
            return Err(CodeNotSent::Unavailable);
        }
    };
    let content = RoomMessageEventContent::notice_plain(code_message(what, &display_code(&code)));
    if let Err(error) = state.client.send_message(&room, &TransactionId::new(), &content, None).await {
        tracing::error!(%error, "cannot send a confirmation code");
        return Err(CodeNotSent::Unavailable);
    }
    Ok(token_hash(&code))
}

/// The direct message that carries a code, in French. Nothing in it comes from what the
/// referent uploaded (a file name chosen by whoever replays a token could ask them to pass the
/// code on).
fn code_message(what: &str, code: &str) -> String {
    format!(
        "Code pour {what} : {code}\n\
         Si vous n'avez rien demandé, ne le communiquez à personne et prévenez l'équipe nationale : \
         quelqu'un utilise votre session."
    )
}

/// Checks what the apply form carries against what `confirmation` asks; the page to answer
/// when it does not hold.
pub(super) async fn check(
    state: &WebState,
    peer: SocketAddr,
    headers: &HeaderMap,
    session: &WebSession,
    confirmation: Confirmation,
    upload_id: &str,
    typed: Option<&str>,
) -> Result<(), Response> {
    match confirmation {
        Confirmation::None => Ok(()),
        Confirmation::Password => {
            check_password(state, peer, headers, session, typed.unwrap_or_default()).await
        }
        Confirmation::Code => {
            let expected = state.web.upload_confirm_try(upload_id, &session.user_id).await;
            compare_code(expected, typed.unwrap_or_default()).map_err(CodeRefusal::page)
        }
    }
}

async fn check_password(
    state: &WebState,
    peer: SocketAddr,
    headers: &HeaderMap,
    session: &WebSession,
    password: &str,
) -> Result<(), Response> {
    let ip = state.limits.client_ip(peer, headers);
    // Its own bucket: failed sign-ins on the account cannot block the confirmation.
    if !state.limits.sign_in_by_account.allow(&format!("confirm:{}", session.user_id.to_lowercase())) {
        return Err(crate::too_many_requests());
    }
    match state.client.verify_password(&session.user_id, password, Some(ip)).await {
        Ok(user) if user.as_str() == session.user_id => Ok(()),
        Ok(_) | Err(relais_appservice::ClientError::Matrix { status: 400..=403, .. }) => {
            Err(refused("Mot de passe incorrect : confirmez avec le mot de passe de votre compte Matrix."))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a referent's password");
            Err(unavailable())
        }
    }
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeRefusal {
    /// No code pending: none asked, already used, expired, or its tries used up.
    Spent,
    Wrong,
    Unavailable,
}

impl CodeRefusal {
    fn page(self) -> Response {
        match self {
            Self::Spent => refused(
                "Ce code n'est plus valable (expiré, déjà utilisé, ou trop d'essais) : demandez-en un nouveau.",
            ),
            Self::Wrong => refused(&format!(
                "Code incorrect : saisissez le code que le robot Relais vous a envoyé en message privé dans la \
                 messagerie ({CONFIRM_TRIES} essais par code)."
            )),
            Self::Unavailable => unavailable(),
        }
    }
}

/// `typed` against the code whose hash the store gave back after counting the try.
fn compare_code(
    expected: Result<Option<String>, relais_core::StoreError>,
    typed: &str,
) -> Result<(), CodeRefusal> {
    let expected = match expected {
        Ok(Some(hash)) => hash,
        Ok(None) => return Err(CodeRefusal::Spent),
        Err(error) => {
            tracing::error!(%error, "cannot read a confirmation code");
            return Err(CodeRefusal::Unavailable);
        }
    };
    // Both sides are hashes of codes: comparing them tells nothing about the code.
    match normalize_code(typed) {
        Some(code) if token_hash(&code) == expected => Ok(()),
        _ => Err(CodeRefusal::Wrong),
    }
}

fn refused(message: &str) -> Response {
    super::import::error_page(StatusCode::UNAUTHORIZED, message)
}

fn unavailable() -> Response {
    super::import::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service indisponible : réessayez dans quelques minutes.",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_code_message_gives_the_code_and_says_what_to_do_when_unasked() {
        let text = super::code_message("confirmer votre session", "ABCD-EFGH-JKMN");
        assert!(text.starts_with("Code pour confirmer votre session : ABCD-EFGH-JKMN\n"), "{text}");
        assert!(text.contains("ne le communiquez à personne"), "{text}");
    }

    #[test]
    fn a_code_is_refused_unless_it_hashes_to_the_kept_one() {
        let kept = relais_provisioning::onboarding::token_hash("ABCDEFGHJKMN");
        assert!(super::compare_code(Ok(Some(kept.clone())), "abcd efgh-jkmn").is_ok());
        let wrong = Err(super::CodeRefusal::Wrong);
        assert_eq!(super::compare_code(Ok(Some(kept.clone())), "ABCDEFGHJKMP"), wrong);
        assert_eq!(super::compare_code(Ok(Some(kept)), ""), wrong);
        let spent = super::compare_code(Ok(None), "ABCDEFGHJKMN");
        assert_eq!(spent, Err(super::CodeRefusal::Spent), "no code pending, or tries used up");
    }
}
