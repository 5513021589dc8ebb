//! The referent's dashboard: progress, imports, members not yet on the chat, email subscribers,
//! addresses that bounce.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
};

use relais_bots::store::stats::BroadcastStats;
use relais_core::StoreError;
use relais_provisioning::store::{RunRecord, RunState};

use crate::web::store::WebSession;
use relais_provisioning::{
    desired::federation_key,
    model::{Contact, MemberRow, RowError},
    onboarding::escape,
};

use super::{WebState, login_page, session};
use crate::web::page::{date, page, page_with_head};

fn state_label(state: RunState) -> &'static str {
    match state {
        RunState::Applying => "en cours",
        RunState::Done => "appliqué",
        RunState::DryRun => "essai, rien changé",
        RunState::Refused => "refusé : trop de retraits",
    }
}

fn run_row(run: &RunRecord) -> String {
    // What was recorded, or said to be unreadable: never shown as "nothing".
    let counts = match serde_json::from_str::<serde_json::Value>(&run.summary) {
        Ok(summary) => summary["counts"]
            .as_object()
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{v} {}", super::import::action_label(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        Err(_) => "(résumé illisible)".to_owned(),
    };
    let errors = match serde_json::from_str::<Vec<RowError>>(&run.errors) {
        Ok(errors) if errors.is_empty() => "aucune".to_owned(),
        Ok(errors) => {
            let items: String = errors
                .iter()
                .map(|e| format!("<li>ligne {} : {}</li>", e.line, escape(&e.message)))
                .collect();
            format!("<ul>{items}</ul>")
        }
        Err(_) => "(liste illisible)".to_owned(),
    };
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{errors}</td></tr>",
        date(run.started_at),
        escape(&run.source),
        state_label(run.state),
        escape(&counts)
    )
}

pub async fn show(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return Html(login_page(None)).into_response();
    };
    // The database out of reach: said, never shown as a federation without members or imports.
    render(&state, &session).await.unwrap_or_else(|error| {
        tracing::error!(%error, "cannot show the referents' dashboard");
        let body =
            "<p>Le tableau de bord est momentanément indisponible. Réessayez dans quelques minutes.</p>";
        (StatusCode::SERVICE_UNAVAILABLE, Html(page("Service indisponible", body))).into_response()
    })
}

async fn render(state: &WebState, session: &WebSession) -> Result<Response, StoreError> {
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
        .filter(|(m, _)| federation_key(&m.federation) == session.federation)
        .collect();
    let name = members.first().map_or(session.federation.clone(), |(m, _)| m.federation.clone());
    let mut head = String::new();
    let mut body = format!(
        "<p>Connecté·e : {} — <form method=\"post\" action=\"/relais/deconnexion\" style=\"display:inline\">\
         <button type=\"submit\">Se déconnecter</button></form></p>",
        escape(&session.user_id)
    );
    if unreadable > 0 {
        tracing::error!(unreadable, "member records unreadable in the database");
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{unreadable} fiche(s) d'adhérent sont illisibles dans la base : \
             elles manquent ci-dessous. Signalez-le à l'équipe nationale.</p>"
        ));
    }
    let progress = state.records.run_progress(&session.federation).await?;
    let starting = state.web.upload_applying(&session.federation).await?;
    match progress {
        Some((_, RunState::Applying, done, total)) => {
            head.push_str("<meta http-equiv=\"refresh\" content=\"2\">");
            body.push_str(&format!(
                "<p role=\"status\"><strong>Import en cours : {done} / {total} changements appliqués.</strong> \
                 <progress value=\"{done}\" max=\"{total}\"></progress></p>"
            ));
        }
        _ if starting => {
            head.push_str("<meta http-equiv=\"refresh\" content=\"2\">");
            body.push_str("<p role=\"status\"><strong>Import en cours : préparation…</strong></p>");
        }
        _ => {}
    }
    body.push_str(
        "<h2>Importer le fichier des adhérents</h2>\
         <form method=\"post\" action=\"/relais/referent/import\" enctype=\"multipart/form-data\">\
         <label for=\"fichier\">Fichier (CSV exporté du logiciel des adhérents)</label>\
         <input id=\"fichier\" name=\"fichier\" type=\"file\" accept=\".csv,text/csv\" required>\
         <button type=\"submit\">Voir ce qui changerait</button></form>",
    );
    body.push_str(&runs_section(state, &session.federation).await?);
    body.push_str(&people_sections(&members));
    let announcements = state.records.prov_room_id(&format!("{}.annonces", session.federation)).await?;
    if let Some(room_id) = announcements {
        let received = state.bots.broadcast_stats(Some(&room_id), 10).await?;
        body.push_str(&broadcast_section(&received));
    }
    let bounced = state.mail.mail_bounced_members().await?;
    body.push_str(&bounce_section(&members, &bounced));
    Ok(Html(page_with_head(&format!("Fédération {name}"), &head, &body)).into_response())
}

/// The federation's last five imports.
async fn runs_section(state: &WebState, federation: &str) -> Result<String, StoreError> {
    let mut out = String::new();
    let runs: Vec<String> = state
        .records
        .prov_runs(200)
        .await?
        .iter()
        .filter(|r| r.scope.as_deref() == Some(federation))
        .take(5)
        .map(run_row)
        .collect();
    out.push_str("<h2>Derniers imports</h2>");
    if runs.is_empty() {
        out.push_str("<p>Aucun import de votre fédération pour l'instant.</p>");
    } else {
        out.push_str(&format!(
            "<table><tr><th>Date</th><th>Fichier</th><th>État</th><th>Changements</th><th>Lignes en erreur</th></tr>{}</table>",
            runs.concat()
        ));
    }
    Ok(out)
}

/// The national broadcasts the federation's announcements room received or will receive, with
/// what they achieved there (counts only).
fn broadcast_section(received: &[BroadcastStats]) -> String {
    if received.is_empty() {
        return "<h2>Diffusions nationales reçues</h2><p>Aucune pour l'instant.</p>".into();
    }
    let rows: String = received
        .iter()
        .map(|s| {
            let mut body = relais_bots::proposal::stored_excerpt(s.content.as_ref());
            if body.is_empty() {
                body = String::from("(sans texte)");
            }
            let when = date(s.send_at);
            let state = if s.rooms_delivered > 0 {
                format!("publiée le {when}")
            } else {
                format!("programmée le {when}")
            };
            format!(
                "<tr><td>{}</td><td>{state}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&body),
                s.readers,
                s.reactions,
                s.clicks,
                s.mails,
                s.notes
            )
        })
        .collect();
    format!(
        "<h2>Diffusions nationales reçues</h2><p class=\"hint\">Copiées dans le salon d'annonces de la fédération \
         et envoyées à ses abonnés par courriel. Lecteurs : membres ayant ouvert le salon après l'arrivée du \
         message ; clics : tous salons et courriels confondus. Aucun suivi individuel.</p>\
         <table><tr><th>Message</th><th>État</th><th>Lecteurs</th><th>Réactions</th><th>Clics</th>\
         <th>Courriels</th><th>Notes locales</th></tr>{rows}</table>"
    )
}

/// Members of the federation whose address bounces: the referent can check it with them.
fn bounce_section(members: &[(MemberRow, i64)], bounced: &[(String, i64, bool)]) -> String {
    let rows: Vec<String> = bounced
        .iter()
        .filter_map(|(id, score, disabled)| {
            let (m, _) = members.iter().find(|(m, _)| &m.member_id == id)?;
            let state = if *disabled { "envois suspendus" } else { "en surveillance" };
            Some(format!(
                "<tr><td>{} {}</td><td>{score}</td><td>{state}</td></tr>",
                escape(&m.first_name),
                escape(&m.last_name)
            ))
        })
        .collect();
    if rows.is_empty() {
        return "<h2>Adresses en échec</h2><p>Aucune adresse de votre fédération ne revient en erreur.</p>"
            .into();
    }
    format!(
        "<h2>Adresses en échec ({})</h2><p class=\"hint\">Les courriels reviennent en erreur : vérifiez l'adresse \
         avec l'adhérent·e, puis corrigez-la dans le fichier des adhérents.</p>\
         <table><tr><th>Adhérent·e</th><th>Score</th><th>État</th></tr>{}</table>",
        rows.len(),
        rows.concat()
    )
}

fn people_sections(members: &[(MemberRow, i64)]) -> String {
    let waiting: Vec<String> = members
        .iter()
        .filter(|(m, _)| m.active && m.matrix_id.is_none() && m.contact == Contact::Chat)
        .map(|(m, _)| format!("<li>{} {}</li>", escape(&m.first_name), escape(&m.last_name)))
        .collect();
    let subscribers: Vec<String> = members
        .iter()
        .filter(|(m, subs)| m.active && *subs > 0)
        .map(|(m, _)| format!("<li>{} {}</li>", escape(&m.first_name), escape(&m.last_name)))
        .collect();
    format!(
        "<h2>Adhérents pas encore sur la messagerie ({})</h2><p class=\"hint\">Ils ont reçu une invitation par \
         courriel quand leur adresse est connue.</p><ul>{}</ul>\
         <h2>Abonnés par courriel ({})</h2><ul>{}</ul>",
        waiting.len(),
        waiting.concat(),
        subscribers.len(),
        subscribers.concat()
    )
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
        let html = bounce_section(&members, &bounced);
        assert!(
            html.contains("Adresses en échec (1)")
                && html.contains("Marc Petit")
                && html.contains("suspendus")
        );
        assert!(!html.contains("Léa"), "{html}");
        assert!(bounce_section(&members, &[]).contains("Aucune adresse"));
    }
}
