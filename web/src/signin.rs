//! Proving a Matrix account to Relais's pages, shared by the referents' page and the lists'
//! archives: a password checked by the homeserver, or an OpenID token of the member's Element
//! session checked with our homeserver. Both rate-limited per client address (and a password
//! per account from that address), the address passed on to Synapse.

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, html};
use ruma::{OwnedUserId, api::error::ErrorCode};

use crate::WebState;

/// Why an account was not proven, each with what the person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooMany,
    WrongPassword,
    OtherServer,
    BadToken,
    Unavailable,
}

impl Refusal {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Self::TooMany => "Trop de tentatives depuis votre connexion : réessayez dans une minute.",
            Self::WrongPassword => "Identifiant ou mot de passe incorrect.",
            Self::OtherServer => "Ce jeton vient d'un autre serveur Matrix que celui du Parti.",
            Self::BadToken => "Jeton de connexion invalide ou expiré : reconnectez-vous depuis Element.",
            Self::Unavailable => "Le serveur de messagerie ne répond pas : réessayez dans quelques minutes.",
        }
    }

    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Self::WrongPassword | Self::BadToken => StatusCode::UNAUTHORIZED,
            Self::OtherServer => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The account whose password this is. Per address, then per account from that address:
/// guesses are bounded, yet an attacker elsewhere cannot lock a member out of their own account
/// (Synapse's own per-account limit on failures still applies, and sees the real address).
pub(crate) async fn password(
    state: &WebState,
    peer: SocketAddr,
    headers: &HeaderMap,
    account: &str,
    password: &str,
) -> Result<OwnedUserId, Refusal> {
    let ip = state.limits.client_ip(peer, headers);
    let account = account.trim();
    if !state.limits.sign_in_by_address.allow(&crate::limit::address_key(ip))
        || !state.limits.sign_in_by_account.allow(&format!("{} {ip}", account.to_lowercase()))
    {
        return Err(Refusal::TooMany);
    }
    match state.client.verify_password(account, password, Some(ip)).await {
        Ok(user_id) => Ok(user_id),
        Err(e) if matches!(e.errcode(), Some(ErrorCode::Forbidden | ErrorCode::InvalidParam)) => {
            Err(Refusal::WrongPassword)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a member's password");
            Err(Refusal::Unavailable)
        }
    }
}

/// The account of an OpenID token (what Element hands a widget, or what
/// `POST /_matrix/client/v3/user/{userId}/openid/request_token` returns): no password typed
/// into Relais.
pub(crate) async fn openid(
    state: &WebState,
    peer: SocketAddr,
    headers: &HeaderMap,
    access_token: &str,
    server_name: &str,
) -> Result<OwnedUserId, Refusal> {
    let ip = state.limits.client_ip(peer, headers);
    if !state.limits.sign_in_by_address.allow(&crate::limit::address_key(ip)) {
        return Err(Refusal::TooMany);
    }
    if server_name != state.config.homeserver.server_name.as_str() {
        return other_server(state, server_name, access_token).await;
    }
    match state.client.openid_userinfo(access_token).await {
        Ok(user_id) => Ok(user_id),
        Err(relais_appservice::ClientError::Matrix { status: 401 | 403 | 404, .. }) => Err(Refusal::BadToken),
        Err(e) => {
            tracing::error!(error = %e, "cannot check an OpenID token");
            Err(Refusal::Unavailable)
        }
    }
}

/// A token from one of the party's other homeservers (`[other_homeservers]`), checked there;
/// any other server is refused without being asked.
async fn other_server(
    state: &WebState,
    server_name: &str,
    access_token: &str,
) -> Result<OwnedUserId, Refusal> {
    use relais_appservice::client::openid::RemoteOpenIdError;
    let Ok(server) = <&ruma::ServerName>::try_from(server_name) else {
        return Err(Refusal::OtherServer);
    };
    if !state.other_homeservers.knows(server) {
        return Err(Refusal::OtherServer);
    }
    match state.other_homeservers.userinfo(server, access_token).await {
        Ok(user_id) => Ok(user_id),
        Err(RemoteOpenIdError::UnknownServer) => Err(Refusal::OtherServer),
        Err(RemoteOpenIdError::BadToken) => Err(Refusal::BadToken),
        Err(error @ RemoteOpenIdError::WrongServer) => {
            tracing::warn!(%server, %error, "an OpenID answer refused");
            Err(Refusal::BadToken)
        }
        Err(RemoteOpenIdError::Unavailable(error)) => {
            tracing::error!(%server, %error, "cannot check an OpenID token with another homeserver");
            Err(Refusal::Unavailable)
        }
    }
}

/// What [`password_form`] posts.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct PasswordForm {
    pub(crate) identifiant: String,
    pub(crate) mot_de_passe: String,
}

/// The form that asks for a Matrix id and its password, posted to `action`.
pub(crate) fn password_form(action: &str, button: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            label for="id" { "Identifiant Matrix" }
            input #id name="identifiant" autocomplete="username" required placeholder="@prenom.nom:pcf.fr";
            label for="mdp" { "Mot de passe" }
            input #mdp name="mot_de_passe" type="password" autocomplete="current-password" required;
            button type="submit" { (button) }
        }
    }
}
