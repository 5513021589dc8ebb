//! The referents' page: a federation's digital referent (or secretary) signs in with their
//! Matrix account (password, or an OpenID token of their Element session — see `widget`) and
//! sees only their federation — imports and their errors, the dry run of a
//! new file and its application, members not yet on the chat, email subscribers.

mod account;
mod charts;
mod confirm;
mod dashboard;
mod import;
mod letters;
mod paper;
mod password;
mod proxies;
mod themes;
mod widget;

use crate::form::Form;
use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::store::{SignInMethod, WebSession};
use relais_provisioning::{
    desired::federation_key,
    model::{MemberRow, Role},
    onboarding::{new_token, token_hash},
};

use crate::{
    WebState,
    page::{alert, page},
};

const COOKIE: &str = "relais_referent";
const SESSION_MS: i64 = 8 * 3600 * 1000;

/// Where the membership file is uploaded (its body is streamed, not buffered up front).
pub(crate) const IMPORT_PATH: &str = "/relais/referent/import";

pub fn routes(state: Arc<WebState>) -> Router<Arc<WebState>> {
    Router::new()
        .route("/relais/referent", get(dashboard::show))
        .route("/relais/connexion", post(sign_in))
        .route("/relais/connexion/openid", post(sign_in_openid))
        .route("/relais/referent/widget", get(widget::show))
        .route("/relais/deconnexion", post(sign_out))
        .route(
            IMPORT_PATH,
            post(import::dry_run).layer(axum::extract::DefaultBodyLimit::max(crate::UPLOAD_LIMIT)),
        )
        .route("/relais/referent/appliquer", post(import::apply))
        .route(confirm::CONFIRM_PATH, post(confirm::confirm_session))
        .route(confirm::CODE_PATH, post(confirm::send_session_code))
        .route(dashboard::FORGET_PATH, post(dashboard::forget_sympathiser))
        .route(password::RESET_PATH, post(password::reset))
        .route(letters::LETTERS_PATH, post(letters::print))
        .route(account::ACCOUNT_PATH, post(account::create))
        .route(proxies::PROXY_PATH, post(proxies::record))
        .route(paper::PAPER_PATH, get(paper::show))
        .route(themes::CREATE_PATH, post(themes::create))
        .route(themes::MODERATORS_PATH, post(themes::moderators))
        .route_layer(axum::middleware::from_fn_with_state(state, same_origin))
}

/// A form posted from another site is refused, whatever its cookies: the session cookie is
/// `SameSite=Strict` already, and a browser's `Origin` says where the form came from (a request
/// without one, from no browser, carries no session of a referent's browser either).
async fn same_origin(
    State(state): State<Arc<WebState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == axum::http::Method::POST
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let ours = state.config.web.public_url.origin().ascii_serialization();
        if origin.to_str().ok() != Some(ours.as_str()) {
            let body = alert("Ce formulaire ne vient pas de l'espace des référents : rien n'a été fait.");
            return (StatusCode::FORBIDDEN, page("Formulaire refusé", body)).into_response();
        }
    }
    next.run(request).await
}

/// The session cookie's token. Two cookies of that name (one planted by a sibling site for a
/// wider domain or path) name no session: which one is the referent's cannot be told.
pub(super) fn session_token(headers: &HeaderMap) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned());
    let token = found.next()?;
    found.next().is_none().then_some(token)
}

/// The `Set-Cookie` value that carries a session's `token`.
pub(super) fn session_cookie(state: &WebState, token: &str) -> String {
    let secure = if state.config.web.public_url.scheme() == "https" { "; Secure" } else { "" };
    format!(
        "{COOKIE}={token}; Path=/relais; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_MS / 1000
    )
}

/// The signed-in referent, if any, and still a referent of the same federation in the
/// membership file: a referent who lost the role, lapsed or moved loses the session at once.
pub(super) async fn session(state: &WebState, headers: &HeaderMap) -> Option<WebSession> {
    let hash = token_hash(&session_token(headers)?);
    let session = state.web.session_get(&hash).await.ok().flatten()?;
    match federation_of(state, &session.user_id).await {
        Ok(Some((federation, _))) if federation == session.federation => Some(session),
        Ok(_) => {
            let _ = state.web.session_delete(&hash).await;
            None
        }
        // The database did not answer: no access now, but the session stays.
        Err(_) => None,
    }
}

pub(super) fn login_page(error: Option<&str>) -> Markup {
    let body = html! {
        p {
            "Espace des référents numériques et des secrétaires fédéraux : imports du fichier des adhérents de \
             votre fédération."
        }
        @if let Some(error) = error { (alert(error)) }
        (crate::signin::password_form("/relais/connexion", "Se connecter"))
    };
    page("Espace référents", body)
}

/// The federation a Matrix user may manage: an active member with a referent or secretary role.
async fn federation_of(
    state: &WebState,
    user_id: &str,
) -> Result<Option<(String, String)>, relais_core::StoreError> {
    let Some(record) = state.records.member_by_matrix_id(user_id).await? else { return Ok(None) };
    let row: MemberRow = serde_json::from_str(&record)
        .map_err(|e| relais_core::StoreError::unreadable_json("member record", &e))?;
    let manages = row.roles.iter().any(|r| matches!(r, Role::DigitalReferent | Role::FederationSecretary));
    Ok((row.active && manages).then(|| (federation_key(&row.federation), row.federation)))
}

async fn sign_in(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<crate::signin::PasswordForm>,
) -> Response {
    match crate::signin::password(&state, peer, &headers, &form.identifiant, &form.mot_de_passe).await {
        Ok(user_id) => start_session(&state, user_id.as_str(), SignInMethod::Password).await,
        Err(refusal) => refused(refusal),
    }
}

fn refused(refusal: crate::signin::Refusal) -> Response {
    if refusal == crate::signin::Refusal::TooMany {
        return crate::too_many_requests();
    }
    (refusal.status(), login_page(Some(refusal.text()))).into_response()
}

/// A session for `user_id` if they manage a federation: the cookie and the dashboard.
async fn start_session(state: &WebState, user_id: &str, method: SignInMethod) -> Response {
    let Ok(Some((federation, _))) = federation_of(state, user_id).await else {
        let page = login_page(Some(
            "Cet espace est réservé aux référents numériques et aux secrétaires fédéraux inscrits dans le fichier des adhérents.",
        ));
        return (StatusCode::FORBIDDEN, page).into_response();
    };
    let token = new_token();
    let session = WebSession { user_id: user_id.to_owned(), federation, method, confirmed_until: 0 };
    if state.web.session_create(&token_hash(&token), &session, SESSION_MS).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, login_page(Some("Service indisponible."))).into_response();
    }
    ([(header::SET_COOKIE, session_cookie(state, &token))], Redirect::to("/relais/referent")).into_response()
}

/// An OpenID token from the member's Matrix session (`crate::signin::openid`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OpenIdSignIn {
    access_token: String,
    matrix_server_name: String,
}

async fn sign_in_openid(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<OpenIdSignIn>,
) -> Response {
    match crate::signin::openid(&state, peer, &headers, &form.access_token, &form.matrix_server_name).await {
        Ok(user_id) => start_session(&state, user_id.as_str(), SignInMethod::OpenId).await,
        Err(refusal) => refused(refusal),
    }
}

async fn sign_out(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        let _ = state.web.session_delete(&token_hash(&token)).await;
    }
    let cookie = format!("{COOKIE}=; Path=/relais; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/relais/referent")).into_response()
}
