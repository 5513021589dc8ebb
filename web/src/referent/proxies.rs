//! Proxies on the referents' page: the open polls of the federation's rooms, and for each the
//! members without an account on its voter list, whose answer the referent records when the
//! member asked them to (the bots' `poll::proxy`). In the audit log; named in the results.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use relais_bots::poll::{proxy::ProxyOutcome, service::Polls};
use relais_provisioning::{desired::RoomKind, moderation::room_scope, store::AuditEntry};

use super::login_page;
use crate::{
    WebState,
    page::{alert, notice, page},
};

pub(super) const PROXY_PATH: &str = "/relais/referent/procuration";

fn polls(state: &WebState) -> Polls {
    Polls::new(&state.store, state.client.clone(), state.config.clone())
}

/// The federation's provisioned rooms' ids.
async fn federation_room_ids(
    state: &WebState,
    federation: &str,
) -> Result<Vec<String>, relais_core::StoreError> {
    let rooms = state.directory.rooms_of_kinds(&RoomKind::ALL).await?;
    Ok(rooms
        .into_iter()
        .filter(|r| room_scope(&r.key) == federation)
        .map(|r| r.room_id.to_string())
        .collect())
}

/// The dashboard's section: each open poll with members who may answer through the referent.
pub(super) async fn section(state: &WebState, federation: &str) -> Result<Markup, relais_core::StoreError> {
    let polls_service = polls(state);
    let open = state.bots.open_polls_in(&federation_room_ids(state, federation).await?).await?;
    let mut forms = Vec::new();
    for poll in open {
        let Some(spec) = relais_bots::poll::service::spec_of(&poll).filter(|s| !s.secret && !s.congress)
        else {
            continue;
        };
        let voters = match polls_service.proxy_voters(&poll.poll_id).await {
            Ok(voters) => voters,
            Err(error) => {
                tracing::warn!(%error, "cannot list a poll's proxy voters");
                continue;
            }
        };
        if !voters.is_empty() {
            forms.push((poll, spec, voters));
        }
    }
    Ok(html! {
        @if !forms.is_empty() {
            h2 { "Votes par procuration" }
            p.hint {
                "Un adhérent sans compte vous demande de répondre pour lui : sa réponse compte comme la sienne, et \
                 les résultats disent que vous l'avez portée."
            }
            @for (poll, spec, voters) in &forms {
                form method="post" action=(PROXY_PATH) {
                    input type="hidden" name="sondage" value=(poll.poll_id);
                    fieldset {
                        legend { (spec.question) }
                        label for={ "membre-" (poll.poll_id) } { "Pour" }
                        select id={ "membre-" (poll.poll_id) } name="membre" {
                            @for v in voters {
                                option value=(v.member_id) {
                                    (v.name) @if v.answered { " (a déjà répondu)" }
                                }
                            }
                        }
                        @for (i, answer) in spec.answers.iter().enumerate() {
                            @let id = format!("p{}-{}", poll.poll_id.trim_start_matches('$'), i + 1);
                            div.choice {
                                input type=(if spec.max_selections > 1 { "checkbox" } else { "radio" })
                                    name="choix" value=(i + 1) id=(id);
                                label for=(id) { (answer) }
                            }
                        }
                    }
                    button type="submit" { "Enregistrer sa réponse" }
                }
            }
        }
    })
}

fn outcome(status: StatusCode, body: Markup) -> Response {
    let body = html! { (body) p { a href="/relais/referent" { "Retour à l'espace de la fédération" } } };
    (status, page("Vote par procuration", body)).into_response()
}

/// Records a member's answer carried by the referent.
pub async fn record(State(state): State<Arc<WebState>>, headers: HeaderMap, body: Bytes) -> Response {
    let session = match super::confirm::acting(&state, &headers).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let Ok(holder) = ruma::UserId::parse(&session.user_id) else {
        return (StatusCode::UNAUTHORIZED, login_page(None)).into_response();
    };
    let (mut poll_id, mut member_id, mut choices) = (String::new(), String::new(), Vec::new());
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "sondage" => poll_id = value.into_owned(),
            "membre" => member_id = value.into_owned(),
            "choix" => choices.push(value.parse::<usize>().unwrap_or(0)),
            _ => {}
        }
    }
    // Only a poll of the referent's own federation.
    let in_federation = match state.bots.poll(&poll_id).await {
        Ok(Some(poll)) => match state.directory.room_key(&poll.room_id).await {
            Ok(key) => key.is_some_and(|k| room_scope(&k) == session.federation),
            Err(_) => false,
        },
        _ => false,
    };
    if !in_federation {
        return outcome(
            StatusCode::NOT_FOUND,
            alert("Ce sondage n'est pas un sondage ouvert de votre fédération."),
        );
    }
    match polls(&state).cast_by_proxy(&poll_id, &member_id, &holder, &choices).await {
        Ok(ProxyOutcome::Recorded) => {
            let entry = AuditEntry {
                at: relais_core::time::now_ms(),
                actor: session.user_id.clone(),
                action: "proxy_vote".into(),
                target: format!("member {member_id}"),
                detail: poll_id,
            };
            if let Err(error) = state.records.audit_append(&entry).await {
                tracing::error!(%error, "a proxy's answer is not in the audit log");
            }
            outcome(
                StatusCode::OK,
                notice("Sa réponse est enregistrée ; les résultats diront que vous l'avez portée."),
            )
        }
        Ok(ProxyOutcome::Invalid) => outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            alert("Choisissez une réponse (ou autant que le sondage en permet)."),
        ),
        Ok(ProxyOutcome::Closed) => outcome(StatusCode::GONE, alert("Ce sondage est clos.")),
        Ok(ProxyOutcome::AnsweredThemselves) => outcome(
            StatusCode::CONFLICT,
            alert("Cet adhérent a répondu lui-même par courriel : sa réponse n'est pas remplacée."),
        ),
        Ok(ProxyOutcome::Unknown) => {
            outcome(StatusCode::NOT_FOUND, alert("Cet adhérent ne vote pas dans ce sondage par procuration."))
        }
        Err(error) => {
            tracing::warn!(%error, "cannot record a proxy's answer");
            outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                alert("Service indisponible : réessayez dans quelques minutes."),
            )
        }
    }
}
