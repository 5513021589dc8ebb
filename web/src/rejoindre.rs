//! The sympathisers' sign-up (`/relais/rejoindre`): name, address, postcode, wishes, consent and
//! the charter; a confirmation link by mail; at the link, an account whose registration joins
//! the public spaces — the federation's the postcode leads to, and the national one — and
//! nothing members-only. The referent of that federation sees them on their page.

use crate::form::Form;
use std::sync::Arc;

use axum::{
    Router,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use maud::{Markup, html};
use serde::Deserialize;

use relais_core::time::now_ms;
use relais_provisioning::{
    desired::{NATIONAL_PUBLIC, RoomKind},
    directory::DirectoryRoom,
    onboarding::{new_token, suggested_username, token_hash},
    store::sympathiser::{SignUpOutcome, Sympathiser},
    sympathiser::{CONFIRM_HOURS, SignUpInput, check, federation_of},
};
use ruma::api::error::ErrorCode;

use crate::{
    WebState,
    onboarding::{account_fields, check_account, close_session},
    page::{alert, message, page},
};

const PATH: &str = "/relais/rejoindre";

/// The routes opened by a token (rate-limited with the other token pages).
pub fn token_routes() -> Router<Arc<WebState>> {
    Router::new().route("/relais/rejoindre/{token}", get(show_account).post(create_account))
}

/// The sign-up form itself.
pub fn routes() -> Router<Arc<WebState>> {
    Router::new().route(PATH, get(show).post(sign_up)).route(CHARTER_PATH, get(show_charter))
}

/// The charter alone, where `!charte` points when it is too long for a message.
pub const CHARTER_PATH: &str = "/relais/charte";

async fn show_charter(State(state): State<Arc<WebState>>) -> Response {
    match charter(&state) {
        Some(charter) => page("Charte", charter).into_response(),
        None => {
            message(StatusCode::NOT_FOUND, "Charte", "Aucune charte n'est en vigueur sur cette messagerie.")
        }
    }
}

/// What the sign-up form posts; every field optional, so that a missing one is said in French
/// on the form rather than refused by the framework.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignUpForm {
    prenom: String,
    nom: String,
    courriel: String,
    code_postal: String,
    aider: Option<String>,
    adherer: Option<String>,
    accord: Option<String>,
    charte: Option<String>,
}

fn open(state: &WebState) -> bool {
    let public = &state.config.public;
    public.signup && public.any() && state.config.invitations_enabled() && state.applier.inviter.is_some()
}

fn closed() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Inscription fermée",
        "Les inscriptions de sympathisants ne sont pas ouvertes.",
    )
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service indisponible",
        "Le service est momentanément indisponible. Réessayez dans quelques minutes.",
    )
}

/// The charter's paragraphs, if one is asked.
pub(crate) fn charter(state: &WebState) -> Option<Markup> {
    let text = state.config.public.charter.as_deref()?;
    let version = &state.config.public.charter_version;
    Some(html! {
        section #charte-texte aria-labelledby="charte-titre" {
            h2 #charte-titre { "Charte des espaces de discussion (version " (version) ")" }
            div .charter tabindex="0" {
                @for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
                    p { (paragraph) }
                }
            }
        }
    })
}

fn checkbox(name: &str, id: &str, checked: bool, label: Markup) -> Markup {
    html! {
        div .choice {
            input #(id) type="checkbox" name=(name) value="oui" checked[checked];
            label for=(id) { (label) }
        }
    }
}

fn form(state: &WebState, input: &SignUpForm, error: Option<&str>) -> Markup {
    let charter = charter(state);
    let body = html! {
        p {
            "Vous voulez suivre les campagnes du Parti près de chez vous, y aider ou y adhérer ? Inscrivez-vous : \
             vous recevrez un lien pour créer votre compte sur la messagerie, où vous attendent les salons publics \
             de votre fédération."
        }
        @if let Some(error) = error { (alert(error)) }
        form method="post" action=(PATH) {
            label for="prenom" { "Prénom" }
            input #prenom name="prenom" value=(input.prenom) autocomplete="given-name" required maxlength="60";
            label for="nom" { "Nom" }
            input #nom name="nom" value=(input.nom) autocomplete="family-name" required maxlength="60";
            label for="courriel" { "Adresse électronique" }
            input #courriel name="courriel" type="email" value=(input.courriel) autocomplete="email" required
                maxlength="254";
            label for="cp" { "Code postal" }
            input #cp name="code_postal" value=(input.code_postal) autocomplete="postal-code" required
                inputmode="numeric" maxlength="5" aria-describedby="cp-aide";
            p #cp-aide .hint { "Il nous dit votre fédération ; il n'est pas conservé." }
            fieldset {
                legend { "Vous souhaitez (facultatif)" }
                (checkbox("aider", "aider", input.aider.is_some(), html! { "aider aux campagnes" }))
                (checkbox("adherer", "adherer", input.adherer.is_some(), html! { "adhérer au Parti" }))
            }
            @if let Some(charter) = &charter {
                (charter)
                (checkbox("charte", "charte", input.charte.is_some(), html! { "J'accepte la charte." }))
            }
            (checkbox("accord", "accord", input.accord.is_some(), html! {
                "J'accepte que le Parti conserve mes nom, prénom, adresse et fédération pour me recontacter. \
                 Je peux demander leur effacement à tout moment au référent de ma fédération."
            }))
            button type="submit" { "M'inscrire" }
        }
    };
    page("Rejoindre les espaces publics", body)
}

pub async fn show(State(state): State<Arc<WebState>>) -> Response {
    if !open(&state) {
        return closed();
    }
    form(&state, &SignUpForm::default(), None).into_response()
}

/// The federation a département leads to (its key), among those Relais provisions; empty
/// when none.
async fn federation_key_of(state: &WebState, departement: &str) -> Result<String, Response> {
    let spaces = state.directory.rooms_of_kinds(&[RoomKind::FederationSpace]).await.map_err(|error| {
        tracing::error!(%error, "cannot read the federations");
        unavailable()
    })?;
    Ok(federation_of(departement, spaces.iter().map(|s| s.key.as_str())).unwrap_or_default())
}

pub async fn sign_up(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(input): Form<SignUpForm>,
) -> Response {
    if !open(&state) {
        return closed();
    }
    let ip = state.limits.client_ip(peer, &headers);
    if !state.limits.sign_ups_by_address.allow(&crate::limit::address_key(ip)) {
        return crate::too_many_requests();
    }
    let checked = check(&SignUpInput {
        first_name: &input.prenom,
        last_name: &input.nom,
        email: &input.courriel,
        postcode: &input.code_postal,
        wants_help: input.aider.is_some(),
        wants_join: input.adherer.is_some(),
        consent: input.accord.is_some(),
        charter_asked: state.config.public.charter.is_some(),
        charter: input.charte.is_some(),
    });
    let signed = match checked {
        Ok(signed) => signed,
        Err(error) => {
            return (StatusCode::UNPROCESSABLE_ENTITY, form(&state, &input, Some(&error))).into_response();
        }
    };
    let domain = signed.email.rsplit_once('@').map_or("", |(_, domain)| domain).to_ascii_lowercase();
    if !state.limits.sign_ups_by_domain.allow(&domain) || !state.limits.sign_ups_everywhere.allow("") {
        return crate::too_many_requests();
    }
    let federation = match federation_key_of(&state, signed.departement.1).await {
        Ok(key) => key,
        Err(response) => return response,
    };
    let charter =
        if state.config.public.charter.is_some() { &state.config.public.charter_version } else { "" };
    let token = new_token();
    let hash = token_hash(&token);
    let expires = now_ms() + CONFIRM_HOURS * 3_600_000;
    let outcome = state.records.sign_up(&signed, &federation, charter, &hash, expires).await;
    match outcome {
        // The same answer whether the address is new, known or confirmed already: the page
        // tells no one who signed up.
        Ok(SignUpOutcome::Quiet) => {}
        Ok(SignUpOutcome::Mail) => {
            // Sent apart, so that the answer takes as long whether a mail leaves or not.
            let Some(inviter) = state.applier.inviter.clone() else { return closed() };
            let (records, email) = (state.records.clone(), signed.email.clone());
            tokio::spawn(async move {
                if let Err(error) = inviter.send_sympathiser_link(&email, &token).await {
                    // The mail error may name the address: only its kind is logged.
                    tracing::warn!(
                        permanent = error.is_permanent(),
                        "a sympathiser's confirmation mail was not sent"
                    );
                    if let Err(error) = records.sympathiser_mail_failed(&hash).await {
                        tracing::warn!(%error, "cannot note a confirmation mail as unsent");
                    }
                }
            });
            tracing::info!("a sympathiser signed up");
        }
        Err(error) => {
            tracing::error!(%error, "cannot record a sign-up");
            return unavailable();
        }
    }
    let body = html! {
        p role="status" {
            "Merci ! Si l'adresse " strong { (signed.email) } " est la vôtre, vous allez y recevoir un lien \
             pour confirmer votre inscription et créer votre compte (valable " (CONFIRM_HOURS) " heures)."
        }
        p .hint { "Rien reçu d'ici quelques minutes ? Regardez dans les indésirables." }
    };
    page("Vérifiez votre boîte", body).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountForm {
    nom_utilisateur: String,
    mot_de_passe: String,
    confirmation: String,
}

fn gone() -> Response {
    let body = html! {
        p { "Ce lien de confirmation n'est plus valable : il a déjà servi, ou il a expiré." }
        p { a href=(PATH) { "Recommencer l'inscription" } }
    };
    (StatusCode::GONE, page("Lien expiré", body)).into_response()
}

async fn pending(state: &WebState, token: &str) -> Result<Sympathiser, Response> {
    match state.records.sympathiser_by_token(&token_hash(token)).await {
        Ok(Some(sympathiser)) => Ok(sympathiser),
        Ok(None) => Err(gone()),
        Err(error) => {
            tracing::error!(%error, "cannot read sign-ups");
            Err(unavailable())
        }
    }
}

fn account_form(state: &WebState, token: &str, username: &str, error: Option<&str>) -> Markup {
    let body = html! {
        p { "Votre adresse est confirmée. Choisissez votre nom d'utilisateur et votre mot de passe." }
        @if let Some(error) = error { (alert(error)) }
        form method="post" action={ (PATH) "/" (token) } {
            (account_fields(state, username))
            button type="submit" { "Créer mon compte" }
        }
    };
    page("Créer votre compte", body)
}

pub async fn show_account(State(state): State<Arc<WebState>>, Path(token): Path<String>) -> Response {
    if !open(&state) {
        return closed();
    }
    match pending(&state, &token).await {
        Ok(s) => account_form(&state, &token, &suggested_username(&s.first_name, &s.last_name), None)
            .into_response(),
        Err(response) => response,
    }
}

/// How long a link stays claimed while its account is made (see the onboarding page).
const CLAIM_MS: i64 = 5 * 60_000;

pub async fn create_account(
    State(state): State<Arc<WebState>>,
    Path(token): Path<String>,
    Form(input): Form<AccountForm>,
) -> Response {
    if !open(&state) {
        return closed();
    }
    let sympathiser = match pending(&state, &token).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let checked = check_account(&state, &input.nom_utilisateur, &input.mot_de_passe, &input.confirmation);
    let username = match checked {
        Ok(name) => name,
        Err(error) => {
            let page = account_form(&state, &token, &input.nom_utilisateur, Some(&error));
            return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
        }
    };
    // A name the membership file gives a member (who has not made their account yet) is theirs.
    let wanted = format!("@{username}:{}", state.config.homeserver.server_name);
    if let Ok(wanted) = ruma::UserId::parse(&wanted) {
        match state.directory.member_by_matrix_id(&wanted).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                let error = "Ce nom d'utilisateur est réservé : choisissez-en un autre.";
                let page = account_form(&state, &token, &username, Some(error));
                return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
            }
            Err(_) => return unavailable(),
        }
    }
    let Some(secret) = &state.config.homeserver.registration_shared_secret else { return closed() };
    let hash = token_hash(&token);
    match state.records.claim_sympathiser(&hash, CLAIM_MS).await {
        Ok(true) => {}
        Ok(false) => return gone(),
        Err(_) => return unavailable(),
    }
    let display = format!("{} {}", sympathiser.first_name, sympathiser.last_name);
    let registered = match state.client.register_user(secret, &username, &input.mot_de_passe, &display).await
    {
        Ok(registered) => registered,
        Err(e) => {
            let _ = state.records.release_sympathiser(&hash).await;
            if matches!(e.errcode(), Some(ErrorCode::UserInUse)) {
                let error = "Ce nom d'utilisateur est déjà pris : choisissez-en un autre.";
                let page = account_form(&state, &token, &username, Some(error));
                return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
            }
            tracing::error!(error = %e, "a sympathiser's account could not be created");
            return unavailable();
        }
    };
    match state.records.confirm_sympathiser(&hash, registered.user_id.as_str()).await {
        Ok(true) => {}
        confirmed => {
            close_session(&state, registered.session.as_ref()).await;
            return if confirmed.is_ok() { gone() } else { unavailable() };
        }
    }
    tracing::info!("a sympathiser confirmed their sign-up");
    let joined = match &registered.session {
        Some(session) => land(&state, session, &sympathiser.federation).await,
        None => Vec::new(),
    };
    close_session(&state, registered.session.as_ref()).await;
    let body = html! {
        p { "Votre compte " strong { (registered.user_id) } " est créé." }
        @if !joined.is_empty() {
            p { "Vous avez rejoint :" }
            ul { @for name in &joined { li { (name) } } }
        }
        p {
            "Installez l'application " strong { "Element" } " (téléphone ou ordinateur), choisissez « Se \
             connecter », indiquez le serveur " strong { (state.config.homeserver_public_url()) } ", puis votre \
             nom d'utilisateur et votre mot de passe."
        }
    };
    page("Compte créé", body).into_response()
}

/// The public spaces a new sympathiser lands in: their federation's (if it has one) and the
/// national one, with each one's rooms anyone may join (knock rooms are asked from Element).
fn landing(rooms: Vec<DirectoryRoom>, federation: &str) -> Vec<DirectoryRoom> {
    let spaces: Vec<String> = [format!("{federation}.public"), NATIONAL_PUBLIC.to_owned()]
        .into_iter()
        .filter(|space| !space.starts_with('.'))
        .collect();
    rooms
        .into_iter()
        .filter(|room| {
            spaces.iter().any(|space| {
                room.key == *space
                    || (room.kind == RoomKind::Public
                        && room.key.strip_prefix(space.as_str()).is_some_and(|rest| rest.starts_with('.')))
            })
        })
        .collect()
}

/// Joins the landing rooms with the registration's session; returns the names of those joined.
async fn land(state: &WebState, session: &relais_core::Secret, federation: &str) -> Vec<String> {
    let rooms = match state.directory.rooms_of_kinds(&[RoomKind::PublicSpace, RoomKind::Public]).await {
        Ok(rooms) => rooms,
        Err(error) => {
            tracing::warn!(%error, "cannot read the public rooms: the new sympathiser joins them from Element");
            return Vec::new();
        }
    };
    let mut joined = Vec::new();
    for room in landing(rooms, federation) {
        // A knock room refuses a plain join: it stays in the space's list, to be asked.
        match state.client.join_as(session, &room.room_id).await {
            Ok(()) => joined.push(room.name),
            Err(error) => tracing::debug!(%error, "a public room was not joined"),
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use ruma::owned_room_id;

    use super::*;

    fn room(key: &str, kind: RoomKind) -> DirectoryRoom {
        DirectoryRoom { key: key.into(), kind, name: key.into(), room_id: owned_room_id!("!r:pcf.test") }
    }

    #[test]
    fn a_sympathiser_lands_in_public_spaces_only() {
        let rooms = vec![
            room("national.public", RoomKind::PublicSpace),
            room("national.public.accueil", RoomKind::Public),
            room("nord.public", RoomKind::PublicSpace),
            room("nord.public.accueil", RoomKind::Public),
            room("nord.publicite", RoomKind::Public),
            room("isere.public", RoomKind::PublicSpace),
            room("isere.public.accueil", RoomKind::Public),
            // Not public, even under a public-looking key.
            room("nord.public.x", RoomKind::Discussion),
        ];
        let keys = |federation: &str| -> Vec<String> {
            landing(rooms.clone(), federation).into_iter().map(|r| r.key).collect()
        };
        assert_eq!(
            keys("nord"),
            ["national.public", "national.public.accueil", "nord.public", "nord.public.accueil"]
        );
        assert_eq!(keys(""), ["national.public", "national.public.accueil"]);
    }
}
