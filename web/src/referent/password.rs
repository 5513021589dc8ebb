//! A forgotten password, without "contact an admin": the referent gives a member of their own
//! federation a provisional password (Synapse's admin API, with `[homeserver] admin_token`),
//! which signs the member out everywhere; the referent hands it over, the member changes it in
//! Element. Never for an office holder of the federation (their accounts open this page: the
//! national team resets those), never for someone outside the referent's federation or an
//! account of another homeserver. Each reset is in the audit log.

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

use super::{login_page, session};
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

fn answer(status: StatusCode, body: Markup) -> Response {
    let body = html! { (body) p { a href="/relais/referent" { "Retour à l'espace de la fédération" } } };
    // The page may show a password: kept by no cache.
    (status, [(header::CACHE_CONTROL, "no-store")], page("Mot de passe provisoire", body)).into_response()
}

fn refused(status: StatusCode, text: &str) -> Response {
    answer(status, alert(text))
}

/// Gives a member of the referent's federation a provisional password.
pub async fn reset(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return (StatusCode::UNAUTHORIZED, login_page(None)).into_response();
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
    let typed = form.membre.trim();
    let record = if typed.starts_with('@') {
        state.records.member_by_matrix_id(typed).await
    } else {
        state.records.member_record(typed).await
    };
    let row = match record {
        Ok(record) => record.and_then(|json| serde_json::from_str::<MemberRow>(&json).ok()),
        Err(error) => {
            tracing::error!(%error, "cannot read a member for a password reset");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            );
        }
    };
    let Some(row) = row.filter(|r| r.active && federation_key(&r.federation) == session.federation) else {
        return refused(
            StatusCode::NOT_FOUND,
            "Aucun adhérent actif de votre fédération ne porte cet identifiant ou ce numéro.",
        );
    };
    let Some(user) = row.matrix_id.clone().filter(|u| u.server_name() == state.config.homeserver.server_name)
    else {
        return refused(
            StatusCode::CONFLICT,
            "Cet adhérent n'a pas encore de compte sur la messagerie de ce serveur : son invitation lui permet d'en créer un.",
        );
    };
    let office = row.roles.iter().any(|r| matches!(r, Role::DigitalReferent | Role::FederationSecretary));
    if office || user.as_str() == session.user_id {
        return refused(
            StatusCode::FORBIDDEN,
            "Le mot de passe d'un·e secrétaire ou référent·e de fédération se réinitialise par l'équipe nationale.",
        );
    }
    let password = provisional_password();
    if let Err(error) = state.client.admin_reset_password(admin_token, &user, &password).await {
        tracing::error!(%error, "the homeserver refused a password reset");
        return refused(
            StatusCode::BAD_GATEWAY,
            "Le serveur de messagerie a refusé la réinitialisation. Réessayez, ou écrivez à l'équipe technique.",
        );
    }
    let entry = AuditEntry {
        at: relais_core::time::now_ms(),
        actor: session.user_id.clone(),
        action: "reset_password".into(),
        target: format!("member {}", row.member_id),
        detail: String::new(),
    };
    if let Err(error) = state.records.audit_append(&entry).await {
        tracing::error!(%error, "a password reset could not be written to the audit log");
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
