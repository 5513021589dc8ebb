//! An account made for a member who is beside the referent: the page creates it (Synapse's
//! shared-secret registration, as the invitation page does), links it to the member through a
//! one-off invitation, lets them into their rooms, and shows a provisional password to hand over
//! — the member changes it in Element (Synapse cannot force it; the page says so). Only for an
//! active member of the referent's own federation with no account yet; in the audit log.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::html;
use ruma::api::error::ErrorCode;

use relais_core::time::now_ms;
use relais_provisioning::{
    desired::federation_key,
    model::{MemberRow, Role},
    onboarding::{new_token, provisional_password, suggested_username, token_hash},
    store::AuditEntry,
};

use super::letters::needs_letter;
use crate::{
    WebState,
    form::Form,
    page::{alert, notice, page},
};

pub(super) const ACCOUNT_PATH: &str = "/relais/referent/compte";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AccountForm {
    membre: String,
    nom_utilisateur: String,
}

fn answer(status: StatusCode, body: maud::Markup) -> Response {
    let body = html! { (body) p { a href="/relais/referent" { "Retour à l'espace de la fédération" } } };
    (status, [(header::CACHE_CONTROL, "no-store")], page("Compte créé pour un adhérent", body))
        .into_response()
}

fn refused(status: StatusCode, text: &str) -> Response {
    answer(status, alert(text))
}

/// The member of the referent's federation the form names, if they may get an account here.
async fn member_of(
    state: &WebState,
    federation: &str,
    member_id: &str,
) -> Result<Option<MemberRow>, Response> {
    match state.records.member_record(member_id.trim()).await {
        Ok(record) => Ok(record
            .and_then(|json| serde_json::from_str::<MemberRow>(&json).ok())
            .filter(|m| federation_key(&m.federation) == federation && needs_letter(m))
            // An office holder's account opens the referents' page: the national team makes it.
            .filter(|m| {
                !m.roles.iter().any(|r| matches!(r, Role::DigitalReferent | Role::FederationSecretary))
            })),
        Err(error) => {
            tracing::error!(%error, "cannot read a member for an account");
            Err(refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible : réessayez dans quelques minutes.",
            ))
        }
    }
}

/// A one-off invitation of `member_id`, issued under the provisioning lease and claimed at once:
/// it links the account to the member, as the invitation page does. Its token's hash.
async fn one_off_invitation(state: &WebState, member_id: &str) -> Result<String, Response> {
    let hash = token_hash(&new_token());
    let issued = match state.applier.try_lock().await {
        Ok(Some(lease)) => {
            let expires = now_ms() + 3_600_000;
            let issued = state.records.issue_invitation(lease.fence(), member_id, &hash, expires).await;
            lease.release_or_expire().await;
            matches!(issued, Ok(true))
        }
        _ => false,
    };
    if !issued
        || !matches!(state.records.claim_invitation(&hash, crate::onboarding::CLAIM_MS).await, Ok(true))
    {
        return Err(refused(
            StatusCode::CONFLICT,
            "Une mise à jour des adhérents est en cours : réessayez dans une minute.",
        ));
    }
    Ok(hash)
}

/// The account made with the shared secret; the invitation `hash` released when it fails.
async fn register(
    state: &WebState,
    secret: &relais_core::Secret,
    username: &str,
    password: &str,
    display: &str,
    hash: &str,
) -> Result<ruma::OwnedUserId, Response> {
    match state.client.register_user(secret, username, password, display).await {
        Ok(registered) => {
            crate::onboarding::close_session(state, registered.session.as_ref()).await;
            Ok(registered.user_id)
        }
        Err(error) => {
            let _ = state.records.release_invitation(hash).await;
            if matches!(error.errcode(), Some(ErrorCode::UserInUse)) {
                return Err(refused(
                    StatusCode::CONFLICT,
                    "Ce nom d'utilisateur est déjà pris : choisissez-en un autre.",
                ));
            }
            tracing::error!(%error, "an account on a member's behalf could not be created");
            Err(refused(
                StatusCode::BAD_GATEWAY,
                "Le serveur de messagerie a refusé la création. Réessayez plus tard.",
            ))
        }
    }
}

/// The name asked of the homeserver before the member's invitation is replaced: a name already
/// taken then voids nothing.
async fn name_is_free(state: &WebState, username: &str) -> Result<(), Response> {
    let server = &state.config.homeserver.server_name;
    let Ok(user) = ruma::UserId::parse(format!("@{username}:{server}")) else {
        return Err(refused(StatusCode::UNPROCESSABLE_ENTITY, "Ce nom d'utilisateur n'est pas valable."));
    };
    match state.client.account_absent(&user).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            Err(refused(StatusCode::CONFLICT, "Ce nom d'utilisateur est déjà pris : choisissez-en un autre."))
        }
        Err(error) => {
            tracing::error!(%error, "cannot ask the homeserver whether a user name is free");
            Err(refused(
                StatusCode::BAD_GATEWAY,
                "Le serveur de messagerie ne répond pas : réessayez plus tard.",
            ))
        }
    }
}

/// The audit line of an account `referent` made for `member_id`.
async fn audit(state: &WebState, referent: &str, member_id: &str) {
    let entry = AuditEntry {
        at: now_ms(),
        actor: referent.to_owned(),
        action: "account_on_behalf".into(),
        target: format!("member {member_id}"),
        detail: String::new(),
    };
    if let Err(error) = state.records.audit_append(&entry).await {
        tracing::error!(%error, "an account made on a member's behalf is not in the audit log");
    }
}

/// Creates the account of a member beside the referent.
pub async fn create(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Response {
    let session = match super::confirm::acting(&state, &headers).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let Some(secret) = state.config.homeserver.registration_shared_secret.clone() else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "La création de comptes n'est pas activée sur ce serveur.",
        );
    };
    if !state.limits.resets_by_referent.allow(&session.user_id) {
        return crate::too_many_requests();
    }
    let member = match member_of(&state, &session.federation, &form.membre).await {
        Ok(Some(member)) => member,
        Ok(None) => {
            return refused(
                StatusCode::NOT_FOUND,
                "Aucun adhérent actif de votre fédération sans compte ne porte ce numéro.",
            );
        }
        Err(response) => return response,
    };
    let typed = form.nom_utilisateur.trim();
    let wanted = if typed.is_empty() {
        suggested_username(&member.first_name, &member.last_name)
    } else {
        typed.to_owned()
    };
    let password = provisional_password();
    let username = match crate::onboarding::check_account(&state, &wanted, &password, &password) {
        Ok(name) => name,
        Err(error) => return refused(StatusCode::UNPROCESSABLE_ENTITY, &error),
    };
    if let Err(response) = name_is_free(&state, &username).await {
        return response;
    }
    let hash = match one_off_invitation(&state, &member.member_id).await {
        Ok(hash) => hash,
        Err(response) => return response,
    };
    let display = format!("{} {}", member.first_name, member.last_name);
    let user_id = match register(&state, &secret, &username, &password, display.trim(), &hash).await {
        Ok(user_id) => user_id,
        Err(response) => return response,
    };
    if !matches!(state.records.redeem_invitation(&hash, user_id.as_str()).await, Ok(true)) {
        tracing::error!("an account made on a member's behalf could not be linked to them");
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "Le compte {user_id} a été créé mais n'a pas pu être rattaché à l'adhérent : écrivez à l'équipe \
                 technique avec cet identifiant."
            ),
        );
    }
    audit(&state, &session.user_id, &member.member_id).await;
    crate::onboarding::welcome(&state, &member.member_id).await;
    answer(
        StatusCode::OK,
        html! {
            (notice(&format!("Le compte de {display} est créé : {user_id}")))
            p { "Mot de passe provisoire :" }
            p style="font-size:1.6em;font-family:monospace" { strong #provisoire { (password) } }
            p {
                "Remettez-le-lui (il ne sera plus affiché). Qu'il se connecte avec, puis le change aussitôt dans \
                 Element : Paramètres, Sécurité et confidentialité. Il trouvera les salons de sa fédération et de sa \
                 section."
            }
        },
    )
}
