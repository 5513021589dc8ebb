//! The referent's dashboard: progress, imports, members not yet on the chat, email subscribers,
//! addresses that bounce.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use maud::{Markup, html};
use relais_bots::store::stats::BroadcastStats;
use relais_core::StoreError;
use relais_provisioning::store::{RunRecord, RunState, sympathiser::Sympathiser};

use crate::store::WebSession;
use relais_provisioning::{
    desired::federation_key,
    model::{Contact, MemberRow, RowError},
};

use super::{IMPORT_PATH, WebState, login_page, session};
use crate::page::{alert, date, message, page_with_head};

fn state_label(state: RunState) -> &'static str {
    match state {
        RunState::Applying => "en cours",
        RunState::Done => "appliqué",
        RunState::DryRun => "essai, rien changé",
        RunState::Refused => "refusé : trop de retraits",
    }
}

/// What a run changed, or said to be unreadable: never shown as "nothing".
fn run_counts(run: &RunRecord) -> String {
    let summary = serde_json::from_str::<serde_json::Value>(&run.summary);
    match summary.as_ref().ok().and_then(|s| s["counts"].as_object()) {
        Some(counts) => counts
            .iter()
            .map(|(k, v)| format!("{v} {}", super::import::action_label(k)))
            .collect::<Vec<_>>()
            .join(", "),
        None => "(résumé illisible)".to_owned(),
    }
}

fn run_row(run: &RunRecord) -> Markup {
    html! {
        tr {
            td { (date(run.started_at)) }
            td { (run.source) }
            td { (state_label(run.state)) }
            td { (run_counts(run)) }
            td {
                @match serde_json::from_str::<Vec<RowError>>(&run.errors) {
                    Ok(errors) if errors.is_empty() => "aucune",
                    Ok(errors) => ul { @for e in &errors { li { "ligne " (e.line) " : " (e.message) } } },
                    Err(_) => "(liste illisible)",
                }
            }
        }
    }
}

pub async fn show(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return login_page(None).into_response();
    };
    // The database out of reach: said, never shown as a federation without members or imports.
    render(&state, &session).await.unwrap_or_else(|error| {
        tracing::error!(%error, "cannot show the referents' dashboard");
        message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service indisponible",
            "Le tableau de bord est momentanément indisponible. Réessayez dans quelques minutes.",
        )
    })
}

/// The federation's members with their mail subscriptions' count, and how many records could
/// not be read (logged).
async fn federation_members(
    state: &WebState,
    federation: &str,
) -> Result<(Vec<(MemberRow, i64)>, usize), StoreError> {
    let mut unreadable = 0usize;
    let members: Vec<(MemberRow, i64)> = state
        .records
        .member_records()
        .await?
        .into_iter()
        .filter_map(|(json, subs)| match serde_json::from_str::<MemberRow>(&json) {
            Ok(member) => Some((member, subs)),
            Err(_) => {
                unreadable += 1;
                None
            }
        })
        .filter(|(m, _)| federation_key(&m.federation) == federation)
        .collect();
    if unreadable > 0 {
        tracing::error!(unreadable, "member records unreadable in the database");
    }
    Ok((members, unreadable))
}

async fn render(state: &WebState, session: &WebSession) -> Result<Response, StoreError> {
    let (members, unreadable) = federation_members(state, &session.federation).await?;
    let name = members.first().map_or(session.federation.clone(), |(m, _)| m.federation.clone());
    let progress = state.records.run_progress(&session.federation).await?;
    let starting = state.web.upload_applying(&session.federation).await?;
    let applying = match progress {
        Some((_, RunState::Applying, done, total)) => Some(Some((done, total))),
        _ if starting => Some(None),
        _ => None,
    };
    let runs = runs_section(state, &session.federation).await?;
    let announcements = state.records.room_id(&format!("{}.annonces", session.federation)).await?;
    let received = match announcements {
        Some(room_id) => Some(state.bots.broadcast_stats(Some(&room_id), 10).await?),
        None => None,
    };
    let bounced = state.mail.bounced_members().await?;
    let sympathisers = state.records.sympathisers_of(&session.federation).await?;
    let paper = super::paper::section(state, &session.federation).await?;
    let proxies = super::proxies::section(state, &session.federation).await?;
    let themes = state.themes.of_federation(&session.federation).await.map_err(|e| match e {
        relais_bots::service::ServiceError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    })?;
    let ids: std::collections::HashSet<&str> = members.iter().map(|(m, _)| m.member_id.as_str()).collect();
    let bouncing = bounced.iter().filter(|(id, _, _)| ids.contains(id.as_str())).count();
    let waiting = sympathisers.iter().filter(|s| s.member_id.is_none()).count();
    let overview = super::charts::overview(&members, waiting, bouncing);
    let head = html! { @if applying.is_some() { meta http-equiv="refresh" content="2"; } };
    let body = html! {
        p {
            "Connecté·e : " (session.user_id) " — "
            form method="post" action="/relais/deconnexion" style="display:inline" {
                button type="submit" { "Se déconnecter" }
            }
        }
        (super::confirm::dashboard_notice(super::confirm::Confirmation::of(state, session)))
        @if unreadable > 0 {
            (alert(&format!(
                "{unreadable} fiche(s) d'adhérent sont illisibles dans la base : elles manquent ci-dessous. \
                 Signalez-le à l'équipe nationale."
            )))
        }
        @match applying {
            Some(Some((done, total))) => p role="status" {
                strong { "Import en cours : " (done) " / " (total) " changements appliqués." } " "
                progress value=(done) max=(total) {}
            },
            Some(None) => p role="status" { strong { "Import en cours : préparation…" } },
            None => {},
        }
        (overview)
        (proxies)
        h2 { "Importer le fichier des adhérents" }
        form method="post" action=(IMPORT_PATH) enctype="multipart/form-data" {
            label for="fichier" { "Fichier (CSV exporté du logiciel des adhérents)" }
            input #fichier name="fichier" type="file" accept=".csv,text/csv" required;
            button type="submit" { "Voir ce qui changerait" }
        }
        (runs)
        (people_sections(&members))
        (super::letters::section(&members))
        (paper)
        (super::password::section(state.config.homeserver.admin_token.is_some()))
        (super::themes::section(&themes))
        (sympathiser_section(&sympathisers))
        @if let Some(received) = &received { (broadcast_section(received)) }
        (bounce_section(&members, &bounced))
    };
    Ok(page_with_head(&format!("Fédération {name}"), head, body).into_response())
}

/// The federation's last five imports.
async fn runs_section(state: &WebState, federation: &str) -> Result<Markup, StoreError> {
    let all = state.records.runs(200).await?;
    let runs: Vec<&RunRecord> =
        all.iter().filter(|r| r.scope.as_deref() == Some(federation)).take(5).collect();
    Ok(html! {
        h2 { "Derniers imports" }
        @if runs.is_empty() {
            p { "Aucun import de votre fédération pour l'instant." }
        } @else {
            table {
                tr { th { "Date" } th { "Fichier" } th { "État" } th { "Changements" } th { "Lignes en erreur" } }
                @for run in runs { (run_row(run)) }
            }
        }
    })
}

/// The national broadcasts the federation's announcements room received or will receive, with
/// what they achieved there (counts only).
fn broadcast_section(received: &[BroadcastStats]) -> Markup {
    html! {
        h2 { "Diffusions nationales reçues" }
        @if received.is_empty() {
            p { "Aucune pour l'instant." }
        } @else {
            p.hint {
                "Copiées dans le salon d'annonces de la fédération et envoyées à ses abonnés par courriel. \
                 Lecteurs : membres ayant ouvert le salon après l'arrivée du message ; clics : tous salons et \
                 courriels confondus ; désabonnements : abonnés par courriel qui ont arrêté dans la semaine qui a \
                 suivi (jusqu'à la diffusion suivante). Aucun suivi individuel."
            }
            table {
                tr {
                    th { "Message" } th { "État" } th { "Lecteurs" } th { "Réactions" } th { "Clics" }
                    th { "Courriels" } th { "Désabonnements" } th { "Notes locales" }
                }
                @for s in received {
                    @let excerpt = relais_bots::proposal::stored_excerpt(s.content.as_ref());
                    tr {
                        td { @if excerpt.is_empty() { "(sans texte)" } @else { (excerpt) } }
                        td {
                            @if let Some(at) = s.withdrawn_at {
                                "retirée le " (date(at))
                            } @else {
                                @if s.rooms_delivered > 0 { "publiée le " } @else { "programmée le " }
                                (date(s.send_at))
                                @if s.edits > 0 { ", modifiée" }
                            }
                        }
                        td { (s.readers) } td { (s.reactions) } td { (s.clicks) } td { (s.mails) }
                        td { (s.unsubscribes) } td { (s.notes) }
                    }
                }
            }
        }
    }
}

/// Members of the federation whose address bounces: the referent can check it with them.
fn bounce_section(members: &[(MemberRow, i64)], bounced: &[(String, i64, bool)]) -> Markup {
    let rows: Vec<(&MemberRow, i64, bool)> = bounced
        .iter()
        .filter_map(|(id, score, disabled)| {
            let (m, _) = members.iter().find(|(m, _)| &m.member_id == id)?;
            Some((m, *score, *disabled))
        })
        .collect();
    html! {
        @if rows.is_empty() {
            h2 { "Adresses en échec" }
            p { "Aucune adresse de votre fédération ne revient en erreur." }
        } @else {
            h2 { "Adresses en échec (" (rows.len()) ")" }
            p.hint {
                "Les courriels reviennent en erreur : vérifiez l'adresse avec l'adhérent·e, puis corrigez-la dans \
                 le fichier des adhérents."
            }
            table {
                tr { th { "Adhérent·e" } th { "Score" } th { "État" } }
                @for (m, score, disabled) in rows {
                    tr {
                        td { (m.first_name) " " (m.last_name) }
                        td { (score) }
                        td { @if disabled { "envois suspendus" } @else { "en surveillance" } }
                    }
                }
            }
        }
    }
}

/// Where a referent erases a sympathiser of their federation (who asked, or is not to be kept).
pub(super) const FORGET_PATH: &str = "/relais/referent/sympathisants/effacer";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ForgetForm {
    id: i64,
}

/// Erases a sympathiser of the referent's own federation, then shows the page again.
pub async fn forget_sympathiser(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    crate::form::Form(form): crate::form::Form<ForgetForm>,
) -> Response {
    let session = match super::confirm::acting(&state, &headers).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    match state.records.forget_sympathiser(&session.federation, form.id, session.user_id.as_str()).await {
        Ok(_) => axum::response::Redirect::to("/relais/referent").into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot erase a sympathiser");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            )
        }
    }
}

/// Sympathisers who signed up for the federation's public space, to follow up: what they wish,
/// and how to reach them.
fn sympathiser_section(sympathisers: &[Sympathiser]) -> Markup {
    let waiting: Vec<&Sympathiser> = sympathisers.iter().filter(|s| s.member_id.is_none()).collect();
    html! {
        h2 { "Sympathisants à recontacter (" (waiting.len()) ")" }
        @if waiting.is_empty() {
            p { "Aucun sympathisant inscrit pour l'instant." }
        } @else {
            p.hint {
                "Inscrits sur la page publique, ils ne voient que les espaces publics. Quand ils adhèrent et                  apparaissent dans le fichier avec la même adresse, ils deviennent adhérents sans second compte."
            }
            table {
                tr {
                    th { "Nom" } th { "Adresse" } th { "Souhaite" } th { "Compte" } th { "Inscrit le" } th { "Effacer" }
                }
                @for s in waiting {
                    tr {
                        td { (s.first_name) " " (s.last_name) }
                        td { a href={ "mailto:" (s.email) } { (s.email) } }
                        td {
                            @match (s.wants_help, s.wants_join) {
                                (true, true) => "aider, adhérer",
                                (true, false) => "aider",
                                (false, true) => "adhérer",
                                (false, false) => "suivre",
                            }
                        }
                        td { (s.user_id.as_deref().unwrap_or("")) }
                        td { (date(s.confirmed_at.unwrap_or(s.created_at))) }
                        td {
                            form method="post" action=(FORGET_PATH) {
                                input type="hidden" name="id" value=(s.id);
                                button type="submit" aria-label={ "Effacer " (s.first_name) " " (s.last_name) } {
                                    "Effacer"
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn people_sections(members: &[(MemberRow, i64)]) -> Markup {
    let waiting: Vec<&MemberRow> = members
        .iter()
        .filter(|(m, _)| m.active && m.matrix_id.is_none() && m.contact == Contact::Chat)
        .map(|(m, _)| m)
        .collect();
    let subscribers: Vec<&MemberRow> =
        members.iter().filter(|(m, subs)| m.active && *subs > 0).map(|(m, _)| m).collect();
    html! {
        h2 { "Adhérents pas encore sur la messagerie (" (waiting.len()) ")" }
        p.hint { "Ils ont reçu une invitation par courriel quand leur adresse est connue." }
        ul { @for m in waiting { li { (m.first_name) " " (m.last_name) } } }
        h2 { "Abonnés par courriel (" (subscribers.len()) ")" }
        ul { @for m in subscribers { li { (m.first_name) " " (m.last_name) } } }
    }
}

#[cfg(test)]
mod tests {
    use relais_provisioning::model::{Contact, MemberRow};

    use super::bounce_section;

    fn member(id: &str, first: &str) -> (MemberRow, i64) {
        let row = MemberRow {
            line: 2,
            member_id: id.into(),
            first_name: first.into(),
            last_name: "Petit".into(),
            email: Some(format!("{first}@example.org")),
            federation: "Nord".into(),
            section: None,
            cell: None,
            roles: Vec::new(),
            active: true,
            matrix_id: None,
            contact: Contact::Email,
        };
        (row, 1)
    }

    #[test]
    fn only_the_federations_bounces_are_listed() {
        let members = [member("1", "Marc"), member("2", "Léa")];
        let bounced = [("1".to_owned(), 4, true), ("9".to_owned(), 2, false)];
        let html = bounce_section(&members, &bounced).into_string();
        assert!(
            html.contains("Adresses en échec (1)")
                && html.contains("Marc Petit")
                && html.contains("suspendus")
        );
        assert!(!html.contains("Léa"), "{html}");
        assert!(bounce_section(&members, &[]).into_string().contains("Aucune adresse"));
    }
}
