//! The invitation page: a member without a Matrix account chooses a user name and a password;
//! Relais creates the account, links it to the member and lets them into their rooms.

use crate::form::Form;
use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use maud::{Markup, html};
use relais_core::{store::lease::Lease, time::now_ms};
use relais_provisioning::{
    apply::Applier,
    onboarding::{check_password, check_username, suggested_username, token_hash},
};
use relais_provisioning::{directory::DirectoryMember, store::onboarding::Invitation};
use ruma::api::error::ErrorCode;

use crate::{
    WebState,
    page::{alert, message, page},
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountForm {
    nom_utilisateur: String,
    mot_de_passe: String,
    confirmation: String,
    charte: Option<String>,
}

fn gone() -> Response {
    let body = html! {
        p { "Ce lien d'invitation n'est plus valable : il a déjà servi, ou il a expiré." }
        p {
            "Si vous n'avez pas encore de compte, demandez une nouvelle invitation au référent numérique de \
             votre fédération."
        }
    };
    (StatusCode::GONE, page("Lien expiré", body)).into_response()
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service indisponible",
        "Le service est momentanément indisponible. Réessayez dans quelques minutes : votre lien reste valable.",
    )
}

/// The invitation behind `token`, if it can still be used, and the member as the directory has
/// them (`None`: unknown, or their record unreadable).
async fn valid(
    state: &WebState,
    token: &str,
) -> Result<Option<(Invitation, Option<DirectoryMember>)>, Response> {
    let invitation = state.records.invitation_by_token(&token_hash(token)).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read invitations");
        unavailable()
    })?;
    let Some(invitation) = invitation.filter(|i| i.used_at.is_none() && i.expires_at > now_ms()) else {
        return Ok(None);
    };
    // The names only suggest a username and a display name: an unreadable record is said, and
    // the member still creates their account.
    let member = match state.directory.member(&invitation.member_id).await {
        Ok(member) => member,
        Err(relais_core::StoreError::Corrupt(why)) => {
            tracing::error!(%why, "an invited member's record is unreadable: no names suggested");
            None
        }
        Err(error) => {
            tracing::error!(%error, "cannot read an invited member's record");
            return Err(unavailable());
        }
    };
    Ok(Some((invitation, member)))
}

fn form(state: &WebState, token: &str, username: &str, error: Option<&str>) -> Markup {
    let body = html! {
        p { "Bienvenue ! Choisissez votre nom d'utilisateur et votre mot de passe pour la messagerie du Parti." }
        @if let Some(error) = error { (alert(error)) }
        form method="post" action={ "/inscription/" (token) } {
            (account_fields(state, username))
            @if let Some(charter) = crate::rejoindre::charter(state) {
                (charter)
                div .choice {
                    input #charte type="checkbox" name="charte" value="oui" required;
                    label for="charte" { "J'accepte la charte." }
                }
            }
            button type="submit" { "Créer mon compte" }
        }
    };
    page("Créer votre compte", body)
}

/// The fields of an account form: user name (`username` suggested or as typed), password twice.
pub(crate) fn account_fields(state: &WebState, username: &str) -> Markup {
    let server = state.config.homeserver.server_name.as_str();
    html! {
        label for="nom" { "Nom d'utilisateur" }
        input #nom name="nom_utilisateur" value=(username) autocomplete="username" required
            aria-describedby="nom-aide";
        p #nom-aide .hint {
            "Votre identifiant sera @nom:" (server) ". Lettres sans accent, chiffres, « . », « _ » ou « - »."
        }
        label for="mdp" { "Mot de passe" }
        input #mdp name="mot_de_passe" type="password" autocomplete="new-password" required minlength="10"
            aria-describedby="mdp-aide";
        p #mdp-aide .hint { "Au moins 10 caractères." }
        label for="conf" { "Confirmez le mot de passe" }
        input #conf name="confirmation" type="password" autocomplete="new-password" required;
    }
}

/// The user name chosen on an account form, checked with its password; the error is French.
pub(crate) fn check_account(
    state: &WebState,
    username: &str,
    password: &str,
    confirmation: &str,
) -> Result<String, String> {
    let app = &state.config.appservice;
    let reserved =
        [app.sender_localpart.as_str(), app.user_prefix.as_str(), state.config.mail.ghost_prefix.as_str()];
    check_username(username, &reserved).and_then(|name| check_password(password, confirmation).map(|()| name))
}

/// Closes the session a registration opened: the person signs in on their own devices.
pub(crate) async fn close_session(state: &WebState, session: Option<&relais_core::Secret>) {
    if let Some(session) = session
        && let Err(error) = state.client.logout_session(session).await
    {
        tracing::warn!(%error, "could not close the session a registration opened");
    }
}

/// How long a link stays claimed while its account is created: Synapse answers in seconds, but a
/// registration with retries may take two minutes, and a claim must outlive it.
pub(crate) const CLAIM_MS: i64 = 5 * 60_000;

/// A link another request is redeeming right now, or one no longer valid.
async fn busy_or_gone(state: &WebState, hash: &str) -> Response {
    match state.records.invitation_by_token(hash).await {
        Ok(Some(invitation)) if invitation.used_at.is_none() => {
            let body = alert(
                "Un compte est déjà en cours de création avec ce lien : patientez une minute, puis rechargez la page.",
            );
            (StatusCode::CONFLICT, page("Création en cours", body)).into_response()
        }
        Ok(_) => gone(),
        Err(_) => unavailable(),
    }
}

/// The token of `/inscription/{token}`: a mailed link's as it is, a printed code (typed in any
/// case, with or without its dashes) in its canonical form.
fn token_of(typed: String) -> String {
    relais_provisioning::onboarding::normalize_code(&typed).unwrap_or(typed)
}

pub async fn show(State(state): State<Arc<WebState>>, Path(token): Path<String>) -> Response {
    let token = token_of(token);
    match valid(&state, &token).await {
        Err(response) => response,
        Ok(None) => gone(),
        Ok(Some((_, row))) => {
            let suggestion = row.map(|r| suggested_username(&r.first_name, &r.last_name)).unwrap_or_default();
            form(&state, &token, &suggestion, None).into_response()
        }
    }
}

pub async fn create(
    State(state): State<Arc<WebState>>,
    Path(token): Path<String>,
    Form(input): Form<AccountForm>,
) -> Response {
    let token = token_of(token);
    let (invitation, row) = match valid(&state, &token).await {
        Err(response) => return response,
        Ok(None) => return gone(),
        Ok(Some(found)) => found,
    };
    let charter_missing = state.config.public.charter.is_some() && input.charte.is_none();
    let checked = check_account(&state, &input.nom_utilisateur, &input.mot_de_passe, &input.confirmation)
        .and_then(|name| {
            if charter_missing {
                Err("Pour créer votre compte, acceptez la charte.".to_owned())
            } else {
                Ok(name)
            }
        });
    let username = match checked {
        Ok(name) => name,
        Err(error) => {
            let page = form(&state, &token, &input.nom_utilisateur, Some(&error));
            return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
        }
    };
    let Some(secret) = &state.config.homeserver.registration_shared_secret else { return unavailable() };
    // One account per link: the token is claimed before the account is made, so posts of the
    // same link in parallel cannot each create one.
    let hash = token_hash(&token);
    match state.records.claim_invitation(&hash, CLAIM_MS).await {
        Ok(true) => {}
        Ok(false) => return busy_or_gone(&state, &hash).await,
        Err(_) => return unavailable(),
    }
    let display = row.as_ref().map(DirectoryMember::full_name).unwrap_or_default();
    let created = state.client.register_user(secret, &username, &input.mot_de_passe, display.trim()).await;
    if created.is_err() {
        let _ = state.records.release_invitation(&hash).await;
    }
    let user_id = match created {
        Ok(registered) => {
            close_session(&state, registered.session.as_ref()).await;
            registered.user_id
        }
        Err(e) if matches!(e.errcode(), Some(ErrorCode::UserInUse)) => {
            let page = form(
                &state,
                &token,
                &username,
                Some("Ce nom d'utilisateur est déjà pris : choisissez-en un autre."),
            );
            return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "account creation failed");
            return unavailable();
        }
    };
    match state.records.redeem_invitation(&hash, user_id.as_str()).await {
        Ok(true) => {}
        Ok(false) => return gone(),
        Err(_) => return unavailable(),
    }
    tracing::info!("an invitation was redeemed");
    if state.config.public.charter.is_some()
        && let Err(error) =
            state.records.accept_charter(user_id.as_str(), &state.config.public.charter_version).await
    {
        tracing::warn!(%error, "cannot record a new member's acceptance of the charter");
    }
    welcome(&state, &invitation.member_id).await;
    let body = html! {
        p { "Votre compte " strong { (user_id) } " est créé." }
        p {
            "Installez l'application " strong { "Element" } " (téléphone ou ordinateur), choisissez « Se \
             connecter », indiquez le serveur " strong { (state.config.homeserver_public_url()) } ", puis votre \
             nom d'utilisateur et votre mot de passe."
        }
        p { "Vous y trouverez les invitations de votre fédération et de votre section." }
    };
    page("Compte créé", body).into_response()
}

/// How long a new member's welcome waits in the background for another provisioning run.
const WELCOME_PATIENCE: Duration = Duration::from_secs(30 * 60);

/// Lets a new member into their spaces and rooms, under the provisioning lease: at once when it
/// is free, else in the background once the run holding it has finished. Their account is
/// linked either way, so the next import would let them in too.
pub(crate) async fn welcome(state: &WebState, member_id: &str) {
    match state.applier.try_lock().await {
        Ok(Some(lease)) => welcome_under(&state.applier, member_id, &state.config, lease).await,
        Ok(None) => {
            let Ok(waiting) = state.waiting_welcomes.clone().try_acquire_owned() else {
                tracing::warn!(
                    "too many new members wait for a provisioning run: this one's access waits for the next \
                     import"
                );
                return;
            };
            let (applier, member_id, config) =
                (state.applier.clone(), member_id.to_owned(), state.config.clone());
            tokio::spawn(async move {
                let _waiting = waiting;
                match applier.lock(Some(WELCOME_PATIENCE), |_| {}).await {
                    Ok(Some(lease)) => welcome_under(&applier, &member_id, &config, lease).await,
                    Ok(None) => tracing::warn!(
                        "another provisioning run held the lease too long: a new member's access waits \
                         for the next import"
                    ),
                    Err(error) => {
                        tracing::warn!(%error, "cannot take the provisioning lease to let a new member in")
                    }
                }
            });
        }
        Err(error) => tracing::warn!(%error, "cannot take the provisioning lease to let a new member in"),
    }
}

async fn welcome_under(applier: &Applier, member_id: &str, config: &relais_core::Config, lease: Lease) {
    let outcome = relais_provisioning::run::welcome(applier, member_id, &config.provisioning, &lease).await;
    lease.release_or_expire().await;
    if let Err(e) = outcome {
        // The account is linked: the next provisioning run lets them in.
        tracing::warn!(error = %e, "could not grant access right away");
    }
}

/// `/inscription`: where a printed letter sends its reader, to type their code.
pub async fn code_form() -> Markup {
    code_page(None)
}

fn code_page(error: Option<&str>) -> Markup {
    page(
        "Créer votre compte",
        html! {
            p { "Tapez le code imprimé sur votre lettre d'invitation (les tirets sont facultatifs)." }
            @if let Some(error) = error { (alert(error)) }
            form method="post" action="/inscription" {
                label for="code" { "Votre code" }
                input #code name="code" required autocomplete="off" autocapitalize="characters"
                    placeholder="ABCD-EFGH-JKMN" style="font-size:1.4em;letter-spacing:.1em";
                button type="submit" { "Continuer" }
            }
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

/// A typed code: on to its invitation page, or said again in French.
pub async fn redeem_code(Form(input): Form<CodeForm>) -> Response {
    match relais_provisioning::onboarding::normalize_code(&input.code) {
        Some(code) => axum::response::Redirect::to(&format!("/inscription/{code}")).into_response(),
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            code_page(Some(
                "Ce code n'a pas la bonne forme : 12 lettres et chiffres, comme sur votre lettre.",
            )),
        )
            .into_response(),
    }
}
