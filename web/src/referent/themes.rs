//! The referents' page's thematic rooms: the federation's rooms by theme, a form to make one
//! (members only, open to all, or on request) and one per room to choose its moderators — the
//! same as `!salon` in the rooms ([`relais_bots::theme::Themes`]), for referents who prefer a
//! page to a command.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use relais_bots::theme::{Choice, Creation};
use relais_core::config::PublicJoin;
use relais_provisioning::theme::{MAX_CHOSEN_MODERATORS, MAX_NAME_CHARS, Theme, ThemeAccess};

use super::login_page;
use crate::{
    WebState,
    page::{alert, message, notice, page},
};

pub(super) const CREATE_PATH: &str = "/relais/referent/salons";
pub(super) const MODERATORS_PATH: &str = "/relais/referent/salons/moderateurs";

fn access_label(access: ThemeAccess) -> &'static str {
    match access {
        ThemeAccess::Members => "adhérents de la fédération",
        ThemeAccess::Open(PublicJoin::Public) => "ouvert à tous",
        ThemeAccess::Open(PublicJoin::Knock) => "sur demande",
    }
}

/// The section of the dashboard: the rooms, each with its moderators' form, then the form to
/// make one.
pub(super) fn section(themes: &[(Theme, String)]) -> Markup {
    html! {
        h2 { "Salons thématiques (" (themes.len()) ")" }
        p.hint {
            "Commissions, groupes de campagne : dans l'espace de la fédération. Les secrétaires et référents \
             de la fédération les modèrent toujours ; vous pouvez y ajouter jusqu'à " (MAX_CHOSEN_MODERATORS)
             " adhérents de la fédération."
        }
        @if !themes.is_empty() {
            table {
                tr { th { "Salon" } th { "Accès" } th { "Modérateurs choisis" } }
                @for (theme, alias) in themes {
                    tr {
                        td { (theme.name) br; a href={ "https://matrix.to/#/" (alias) } { (alias) } }
                        td { (access_label(theme.access)) }
                        td {
                            form method="post" action=(MODERATORS_PATH) {
                                input type="hidden" name="salon" value=(theme.key.rsplit('.').next().unwrap_or_default());
                                label.hint for={ "mod-" (theme.key) } { "Identifiants Matrix, séparés par des espaces" }
                                input id={ "mod-" (theme.key) } name="moderateurs"
                                    value=(theme.moderators.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(" "))
                                    placeholder="@prenom.nom:pcf.fr";
                                button type="submit" { "Enregistrer" }
                            }
                        }
                    }
                }
            }
        }
        h3 { "Créer un salon thématique" }
        form method="post" action=(CREATE_PATH) {
            label for="theme-name" { "Nom du salon" }
            input #theme-name name="nom" required maxlength=(MAX_NAME_CHARS) placeholder="Commission santé";
            fieldset {
                legend { "Qui peut y entrer ?" }
                @for (value, label, checked) in [
                    ("members", "Les adhérents de la fédération (par l'espace de la fédération)", true),
                    ("public", "Tout le monde (salon public, visible dans l'annuaire)", false),
                    ("knock", "Tout le monde, sur demande acceptée par un modérateur", false),
                ] {
                    div.choice {
                        input type="radio" name="acces" id={ "acces-" (value) } value=(value) checked[checked];
                        label for={ "acces-" (value) } { (label) }
                    }
                }
            }
            button type="submit" { "Créer le salon" }
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CreateForm {
    nom: String,
    acces: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ModeratorsForm {
    salon: String,
    moderateurs: String,
}

/// The outcome page: what happened, and the way back.
fn outcome(status: StatusCode, ok: bool, text: &str) -> Response {
    let body = html! {
        @if ok { (notice(text)) } @else { (alert(text)) }
        p { a href="/relais/referent" { "Retour à l'espace de la fédération" } }
    };
    (status, page("Salons thématiques", body)).into_response()
}

/// The signed-in referent whose session may act, and their Matrix id; or the page to answer.
async fn signed_in(
    state: &WebState,
    headers: &HeaderMap,
) -> Result<(crate::store::WebSession, ruma::OwnedUserId), Response> {
    let session = super::confirm::acting(state, headers).await?;
    let user = ruma::UserId::parse(&session.user_id)
        .map_err(|_| (StatusCode::UNAUTHORIZED, login_page(None)).into_response())?;
    Ok((session, user))
}

fn unavailable() -> Response {
    message(StatusCode::SERVICE_UNAVAILABLE, "Service indisponible", "Réessayez dans quelques minutes.")
}

/// Makes a thematic room of the referent's own federation.
pub async fn create(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    crate::form::Form(form): crate::form::Form<CreateForm>,
) -> Response {
    let (session, by) = match signed_in(&state, &headers).await {
        Ok(signed) => signed,
        Err(page) => return page,
    };
    let Some(access) = ThemeAccess::parse(&form.acces) else {
        return outcome(StatusCode::BAD_REQUEST, false, "Choisissez qui peut entrer dans le salon.");
    };
    let (name, creation) = match state.themes.create_theme(&session.federation, &form.nom, access, &by).await
    {
        Ok(done) => done,
        Err(error) => {
            tracing::error!(%error, "cannot record a thematic room");
            return unavailable();
        }
    };
    let (status, ok, text) = match creation {
        Creation::Created { alias } => (
            StatusCode::OK,
            true,
            format!("Salon « {name} » créé : {alias}. Il apparaît dans l'espace de la fédération."),
        ),
        Creation::Later => (
            StatusCode::ACCEPTED,
            true,
            format!("Salon « {name} » enregistré : un import est en cours, il sera créé juste après."),
        ),
        Creation::Failed => (
            StatusCode::ACCEPTED,
            false,
            format!(
                "Salon « {name} » enregistré, mais le serveur n'a pas pu le créer : Relais réessaiera au prochain import."
            ),
        ),
        Creation::Exists => {
            (StatusCode::CONFLICT, false, format!("La fédération a déjà un salon « {name} »."))
        }
        Creation::Full => (StatusCode::CONFLICT, false, relais_bots::messages::theme::full()),
        Creation::BadName(why) => (StatusCode::BAD_REQUEST, false, format!("Nom refusé : {why}.")),
    };
    outcome(status, ok, &text)
}

/// Chooses the moderators of a thematic room of the referent's own federation.
pub async fn moderators(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    crate::form::Form(form): crate::form::Form<ModeratorsForm>,
) -> Response {
    let (session, by) = match signed_in(&state, &headers).await {
        Ok(signed) => signed,
        Err(page) => return page,
    };
    let users: Vec<String> = form
        .moderateurs
        .split([' ', ',', ';', '\n'])
        .filter(|w| !w.trim().is_empty())
        .map(|w| w.trim().to_owned())
        .collect();
    let choice = state.themes.choose_moderators(&session.federation, &form.salon, &users, &by).await;
    let (status, ok, text) = match choice {
        Ok(Choice::Set { name, count, applied }) => {
            (StatusCode::OK, true, relais_bots::messages::theme::moderators_set(&name, count, applied))
        }
        Ok(Choice::Unknown) => (
            StatusCode::NOT_FOUND,
            false,
            "Ce salon thématique n'existe pas dans votre fédération.".to_owned(),
        ),
        Ok(Choice::TooMany) => {
            (StatusCode::BAD_REQUEST, false, relais_bots::messages::theme::too_many_moderators())
        }
        Ok(Choice::NotMembers(refused)) => {
            (StatusCode::BAD_REQUEST, false, relais_bots::messages::theme::not_members(&refused))
        }
        Err(error) => {
            tracing::error!(%error, "cannot record a thematic room's moderators");
            return unavailable();
        }
    };
    outcome(status, ok, &text)
}
