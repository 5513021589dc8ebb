//! The page a poll's mail links open (`/relais/sondage/{token}?choix=N`): an email-only member's
//! answer to an ordinary poll. Opening it shows the question with the answer of the link chosen
//! and asks to confirm — a mail scanner following links records nothing —; confirming records
//! the answer like a Matrix response (the bots' `poll::by_mail`). The token names the poll and
//! the member, signed with the mail key; nothing is logged about it or the choice.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use maud::{Markup, html};

use relais_bots::poll::{
    by_mail::{MailVote, MailVoteOutcome, OpenVote},
    service::Polls,
};
use relais_core::time::format_paris;

use crate::{
    WebState,
    page::{alert, message, notice, page},
};

pub fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/relais/sondage/{token}", get(show).post(confirm))
}

const TITLE: &str = "Votre réponse au sondage";

fn polls(state: &WebState) -> Polls {
    Polls::new(&state.store, state.client.clone(), state.config.clone())
}

/// (poll, member) of a link's token; `None` for a link that is none.
fn read_token(state: &WebState, token: &str) -> Option<(String, String)> {
    relais_bridge::keys::from_config(&state.config).check_poll_token(token).ok()
}

fn unknown() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Lien de sondage inconnu",
        "Ce lien ne permet pas de répondre à un sondage. Vérifiez qu'il a été copié en entier depuis votre \
         courriel, ou ouvrez le salon pour répondre.",
    )
}

fn closed(question: &str) -> Response {
    let body = html! {
        (alert("Ce sondage est clos : les réponses ne sont plus enregistrées."))
        p { strong { (question) } }
        p { "Les résultats sont publiés dans le salon et dans son courriel." }
    };
    (StatusCode::GONE, page(TITLE, body)).into_response()
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sondage indisponible",
        "Votre réponse ne peut pas être enregistrée pour l'instant. Réessayez dans quelques minutes : votre lien \
         reste valable.",
    )
}

fn form(
    spec: &relais_bots::poll::spec::PollSpec,
    chosen: &[usize],
    current: &[usize],
    said: Option<Markup>,
) -> Markup {
    let multiple = spec.max_selections > 1;
    let kind = if multiple { "checkbox" } else { "radio" };
    page(
        TITLE,
        html! {
            @if let Some(said) = said { (said) }
            form method="post" {
                fieldset {
                    legend { (spec.question) }
                    @if multiple { p.hint { "Jusqu'à " (spec.max_selections) " réponses." } }
                    @for (i, answer) in spec.answers.iter().enumerate() {
                        @let n = i + 1;
                        @let id = format!("choix{n}");
                        div.choice {
                            input type=(kind) name="choix" value=(n) id=(id) checked[chosen.contains(&n)];
                            label for=(id) { (answer) }
                        }
                    }
                }
                button type="submit" { "Confirmer ma réponse" }
            }
            @if !current.is_empty() {
                p.hint {
                    "Votre réponse enregistrée : "
                    (current.iter().filter_map(|n| spec.answers.get(n - 1)).cloned().collect::<Vec<_>>().join(", "))
                    ". Confirmer la remplace."
                }
            }
            @if let Some(deadline) = spec.deadline { p.hint { "Clôture le " (format_paris(deadline)) "." } }
            p.hint {
                "Comme dans le salon, votre réponse est comptée avec votre nom et vous pouvez la changer jusqu'à la \
                 clôture."
            }
        },
    )
}

async fn show(
    State(state): State<Arc<WebState>>,
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((poll_id, member_id)) = read_token(&state, &token) else { return unknown() };
    match polls(&state).mail_vote(&poll_id, &member_id).await {
        Ok(MailVote::Open(open)) => {
            let OpenVote { spec, current, .. } = *open;
            // The answer of the link followed, else the one recorded.
            let chosen = match query.get("choix").and_then(|c| c.parse::<usize>().ok()) {
                Some(n) if (1..=spec.answers.len()).contains(&n) => vec![n],
                _ => current.clone(),
            };
            form(&spec, &chosen, &current, None).into_response()
        }
        Ok(MailVote::Closed { question }) => closed(&question),
        Ok(MailVote::Unknown) => unknown(),
        Err(error) => {
            tracing::warn!(%error, "cannot show a poll answered by mail");
            unavailable()
        }
    }
}

async fn confirm(State(state): State<Arc<WebState>>, Path(token): Path<String>, body: Bytes) -> Response {
    let Some((poll_id, member_id)) = read_token(&state, &token) else { return unknown() };
    let choices: Vec<usize> = url::form_urlencoded::parse(&body)
        .filter(|(key, _)| key == "choix")
        .map(|(_, value)| value.parse().unwrap_or(0))
        .collect();
    let polls = polls(&state);
    match polls.cast_by_mail(&poll_id, &member_id, &choices).await {
        Ok(MailVoteOutcome::Recorded) => match polls.mail_vote(&poll_id, &member_id).await {
            Ok(MailVote::Open(open)) => {
                let OpenVote { spec, current, .. } = *open;
                let said =
                    notice("Votre réponse est enregistrée. Vous pouvez la changer jusqu'à la clôture.");
                form(&spec, &current, &current, Some(said)).into_response()
            }
            Ok(MailVote::Closed { question }) => closed(&question),
            Ok(MailVote::Unknown) => unknown(),
            Err(_) => unavailable(),
        },
        Ok(MailVoteOutcome::Invalid) => match polls.mail_vote(&poll_id, &member_id).await {
            Ok(MailVote::Open(open)) => {
                let OpenVote { spec, current, .. } = *open;
                let said =
                    alert("Choisissez une réponse (ou autant que le sondage en permet), puis confirmez.");
                (StatusCode::UNPROCESSABLE_ENTITY, form(&spec, &current, &current, Some(said)))
                    .into_response()
            }
            Ok(MailVote::Closed { question }) => closed(&question),
            Ok(MailVote::Unknown) => unknown(),
            Err(_) => unavailable(),
        },
        Ok(MailVoteOutcome::Closed) => match polls.mail_vote(&poll_id, &member_id).await {
            Ok(MailVote::Closed { question }) => closed(&question),
            _ => closed(""),
        },
        Ok(MailVoteOutcome::Unknown) => unknown(),
        Err(error) => {
            tracing::warn!(%error, "cannot record a poll answered by mail");
            unavailable()
        }
    }
}
