//! How a referent confirms applying an import.
//!
//! Signed in with their password, nothing more is asked. Signed in with an OpenID token — not
//! bound to Relais: any widget the referent approved could replay it — they prove once more
//! that they hold the account itself:
//! - an account on the party's homeserver gives its password, checked there;
//! - an account on a federation's own homeserver, whose password Relais cannot check, types a
//!   code the bot sends it in a direct message: reading it takes the account, not a token. The
//!   code is bound to the upload, lives as long as it, and allows [`CONFIRM_TRIES`] tries.

use std::net::SocketAddr;

use axum::{http::HeaderMap, http::StatusCode, response::Response};
use ruma::{TransactionId, UserId, events::room::message::RoomMessageEventContent};

use relais_provisioning::{
    onboarding::{display_code, letter_code, normalize_code, token_hash},
    plan::Action,
};

use super::WebState;
use crate::store::{CONFIRM_TRIES, SignInMethod, WebSession};

/// What applying an upload asks of the referent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Confirmation {
    /// Signed in with the password: nothing more.
    None,
    /// The password of their account on the party's homeserver.
    Password,
    /// The code the bot sent them (their account is on another homeserver).
    Code,
}

impl Confirmation {
    pub(super) fn of(state: &WebState, session: &WebSession) -> Self {
        if session.method == SignInMethod::Password {
            return Self::None;
        }
        let ours = &state.config.homeserver.server_name;
        match <&UserId>::try_from(session.user_id.as_str()) {
            Ok(user) if user.server_name() != ours => Self::Code,
            _ => Self::Password,
        }
    }
}

impl Confirmation {
    /// The hash of the code to keep with an upload of `actions`, sent to the referent when this
    /// confirmation is by code and there is something to apply; or the page to answer.
    pub(super) async fn code_for(
        self,
        state: &WebState,
        session: &WebSession,
        actions: &[Action],
    ) -> Result<Option<String>, Response> {
        if self != Self::Code || actions.is_empty() {
            return Ok(None);
        }
        send_code(state, session).await.map(Some)
    }
}

/// Makes the code that confirms the referent's upload and sends it to them in the bot's direct
/// room with them; returns the hash to keep with the upload, or the page to answer.
async fn send_code(state: &WebState, session: &WebSession) -> Result<String, Response> {
    let Ok(user) = <&UserId>::try_from(session.user_id.as_str()) else {
        return Err(unavailable());
    };
    // Each code is a message to the referent: a replayed token cannot flood them.
    if !state.limits.sign_in_by_account.allow(&format!("code:{}", session.user_id.to_lowercase())) {
        return Err(crate::too_many_requests());
    }
    let code = letter_code();
    let room = match relais_bots::service::direct_room(&state.bots, &state.client, user).await {
        Ok(room) => room,
        Err(error) => {
            tracing::error!(%error, "cannot open the direct room for a confirmation code");
            return Err(unavailable());
        }
    };
    let content = RoomMessageEventContent::notice_plain(code_message(&display_code(&code)));
    if let Err(error) = state.client.send_message(&room, &TransactionId::new(), &content, None).await {
        tracing::error!(%error, "cannot send a confirmation code");
        return Err(unavailable());
    }
    Ok(token_hash(&code))
}

/// The direct message that carries a code, in French. Nothing in it comes from the upload (a
/// file name chosen by whoever replays a token could ask the referent to pass the code on).
fn code_message(code: &str) -> String {
    format!(
        "Code pour appliquer l'import que vous venez de vérifier sur la page des référents : {code}\n\
         Il est valable une heure. Si vous n'avez pas demandé d'import, ne le communiquez à personne \
         et prévenez l'équipe nationale : quelqu'un utilise votre session."
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
        Confirmation::Code => check_code(state, session, upload_id, typed.unwrap_or_default()).await,
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
        Ok(_) | Err(relais_appservice::ClientError::Matrix { status: 400..=403, .. }) => Err(refused(
            "Mot de passe incorrect : pour appliquer un import, confirmez avec le mot de passe de votre \
             compte Matrix.",
        )),
        Err(e) => {
            tracing::error!(error = %e, "cannot check a referent's password");
            Err(unavailable())
        }
    }
}

async fn check_code(
    state: &WebState,
    session: &WebSession,
    upload_id: &str,
    typed: &str,
) -> Result<(), Response> {
    let expected = match state.web.upload_confirm_try(upload_id, &session.user_id).await {
        Ok(Some(hash)) => hash,
        Ok(None) => {
            return Err(refused(
                "Ce code n'est plus valable (import expiré, déjà appliqué, ou trop d'essais) : recommencez \
                 l'import, un nouveau code vous sera envoyé.",
            ));
        }
        Err(error) => {
            tracing::error!(%error, "cannot read an upload's confirmation code");
            return Err(unavailable());
        }
    };
    // Both sides are hashes of codes: comparing them tells nothing about the code.
    if normalize_code(typed).is_some_and(|code| token_hash(&code) == expected) {
        return Ok(());
    }
    Err(refused(&format!(
        "Code incorrect : saisissez le code que le robot Relais vous a envoyé en message privé dans la \
         messagerie ({CONFIRM_TRIES} essais par import)."
    )))
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
        let text = super::code_message("ABCD-EFGH-JKMN");
        assert!(text.contains(" : ABCD-EFGH-JKMN\n"), "{text}");
        assert!(text.contains("ne le communiquez à personne"), "{text}");
    }
}
