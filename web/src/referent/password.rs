//! A forgotten password, without "contact an admin": the referent gives a member of their own
//! federation a provisional password (Synapse's admin API, with `[homeserver] admin_token`),
//! which signs the member out everywhere; the referent hands it over, the member changes it in
//! Element. Only for an account Relais itself made for that member (the Matrix id in a record
//! comes from the membership file, which a referent's import writes: it proves nothing); never
//! for an office holder of the federation (their accounts open this page: the national team
//! resets those), a homeserver administrator, the national team, Relais's own users, someone
//! outside the referent's federation or an account of another homeserver. Each reset is in the
//! audit log.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use relais_provisioning::{
    desired::federation_key,
    model::{MemberRow, Role},
    onboarding::provisional_password,
    store::AuditEntry,
};

use crate::{
    WebState,
    form::Form,
    page::{alert, message, notice, page},
};

pub(super) const RESET_PATH: &str = "/relais/referent/mot-de-passe";

/// The section of the dashboard.
pub(super) fn section(configured: bool) -> Markup {
    html! {
        h2 { "Mot de passe oublié" }
        @if configured {
            p.hint {
                "Pour un adhérent de votre fédération, à côté de vous ou au téléphone : un mot de passe provisoire \
                 remplace l'ancien et ferme toutes ses sessions. Remettez-le-lui ; il le change ensuite dans \
                 Element (Paramètres, Sécurité)."
            }
            form method="post" action=(RESET_PATH) {
                label for="reset-member" { "Identifiant Matrix ou numéro d'adhérent" }
                input #reset-member name="membre" required placeholder="@prenom.nom:pcf.fr";
                button type="submit" { "Donner un mot de passe provisoire" }
            }
        } @else {
            p { "La réinitialisation par les référents n'est pas activée sur ce serveur : écrivez à l'équipe technique." }
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ResetForm {
    membre: String,
}

/// Refuses any account Relais did not make for this member itself: the Matrix id of a member's
/// record comes from the membership file, which a referent's own import writes, so it proves
/// nothing; an account made through an invitation, a letter or a referent's help does. Never a
/// homeserver administrator, a deactivated or special account, the national team or Relais's
/// own users either.
async fn made_by_relais(
    state: &WebState,
    admin_token: &relais_core::Secret,
    row: &MemberRow,
    user: &ruma::UserId,
) -> Result<(), Response> {
    let national = state.config.provisioning.national_team.iter().any(|u| u == user);
    let made = match state.records.onboarded_account(&row.member_id).await {
        Ok(made) => made,
        Err(error) => {
            tracing::error!(%error, "cannot read how a member's account was made");
            return Err(refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible : réessayez dans quelques minutes.",
            ));
        }
    };
    if national || state.config.is_own_user(user) || made.as_deref() != Some(user.as_str()) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "Ce compte n'a pas été créé par la messagerie pour cet adhérent : son mot de passe se réinitialise par \
             l'équipe technique.",
        ));
    }
    match state.client.admin_account(admin_token, user).await {
        Ok(Some((account, _))) => {
            let special = account["admin"].as_bool().unwrap_or(true)
                || account["deactivated"].as_bool().unwrap_or(true)
                || !account["user_type"].is_null();
            if special {
                return Err(refused(
                    StatusCode::FORBIDDEN,
                    "Ce compte ne se réinitialise pas ici : écrivez à l'équipe technique.",
                ));
            }
            Ok(())
        }
        Ok(None) => {
            Err(refused(StatusCode::NOT_FOUND, "Ce compte n'existe pas sur le serveur de messagerie."))
        }
        Err(error) => {
            tracing::error!(%error, "cannot read an account before a password reset");
            Err(refused(
                StatusCode::BAD_GATEWAY,
                "Le serveur de messagerie ne répond pas : réessayez plus tard.",
            ))
        }
    }
}

fn answer(status: StatusCode, body: Markup) -> Response {
    let body = html! { (body) p { a href="/relais/referent" { "Retour à l'espace de la fédération" } } };
    // The page may show a password: kept by no cache.
    (status, [(header::CACHE_CONTROL, "no-store")], page("Mot de passe provisoire", body)).into_response()
}

fn refused(status: StatusCode, text: &str) -> Response {
    answer(status, alert(text))
}

/// The member `typed` names (a Matrix id or a member number) and their account, if the
/// referent of `session` may give them a new password.
async fn target(
    state: &WebState,
    session: &crate::store::WebSession,
    admin_token: &relais_core::Secret,
    typed: &str,
) -> Result<(MemberRow, ruma::OwnedUserId), Response> {
    let record = if typed.starts_with('@') {
        state.records.member_by_matrix_id(typed).await
    } else {
        state.records.member_record(typed).await
    };
    let row = match record {
        Ok(record) => record.and_then(|json| serde_json::from_str::<MemberRow>(&json).ok()),
        Err(error) => {
            tracing::error!(%error, "cannot read a member for a password reset");
            return Err(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            ));
        }
    };
    let Some(row) = row.filter(|r| r.active && federation_key(&r.federation) == session.federation) else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            "Aucun adhérent actif de votre fédération ne porte cet identifiant ou ce numéro.",
        ));
    };
    let Some(user) = row.matrix_id.clone().filter(|u| u.server_name() == state.config.homeserver.server_name)
    else {
        return Err(refused(
            StatusCode::CONFLICT,
            "Cet adhérent n'a pas encore de compte sur la messagerie de ce serveur : son invitation lui permet d'en créer un.",
        ));
    };
    let office = row.roles.iter().any(|r| matches!(r, Role::DigitalReferent | Role::FederationSecretary));
    if office || user.as_str() == session.user_id {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "Le mot de passe d'un·e secrétaire ou référent·e de fédération se réinitialise par l'équipe nationale.",
        ));
    }
    made_by_relais(state, admin_token, &row, &user).await?;
    Ok((row, user))
}

/// Gives a member of the referent's federation a provisional password.
pub async fn reset(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Response {
    let session = match super::confirm::acting(&state, &headers).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let Some(admin_token) = &state.config.homeserver.admin_token else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "La réinitialisation n'est pas activée sur ce serveur.",
        );
    };
    if !state.limits.resets_by_referent.allow(&session.user_id) {
        return crate::too_many_requests();
    }
    let (row, user) = match target(&state, &session, admin_token, form.membre.trim()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // Audited before it is done: no reset leaves no trace.
    let entry = AuditEntry {
        at: relais_core::time::now_ms(),
        actor: session.user_id.clone(),
        action: "reset_password".into(),
        target: format!("member {}", row.member_id),
        detail: String::new(),
    };
    if let Err(error) = state.records.audit_append(&entry).await {
        tracing::error!(%error, "a password reset could not be written to the audit log: not done");
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service indisponible",
            "Réessayez dans quelques minutes.",
        );
    }
    let password = provisional_password();
    if let Err(error) = state.client.admin_reset_password(admin_token, &user, &password).await {
        tracing::error!(%error, "the homeserver refused a password reset");
        let failed = AuditEntry { action: "reset_password_failed".into(), ..entry };
        if let Err(error) = state.records.audit_append(&failed).await {
            tracing::error!(%error, "a failed password reset is not in the audit log");
        }
        return refused(
            StatusCode::BAD_GATEWAY,
            "Le serveur de messagerie a refusé la réinitialisation. Réessayez, ou écrivez à l'équipe technique.",
        );
    }
    answer(
        StatusCode::OK,
        html! {
            (notice(&format!("Nouveau mot de passe provisoire de {} {} ({user}) :", row.first_name, row.last_name)))
            p style="font-size:1.6em;font-family:monospace;letter-spacing:.05em" { strong #provisoire { (password) } }
            p {
                "Toutes ses sessions sont fermées. Remettez-lui ce mot de passe (il ne sera plus affiché) ; qu'il se \
                 connecte avec, puis le change dans Element : Paramètres, Sécurité et confidentialité."
            }
        },
    )
}
