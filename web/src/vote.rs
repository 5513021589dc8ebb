//! The secret-ballot page (`/relais/vote/{token}`): the personal one-time link each eligible
//! member received shows the question; voting gives a receipt. Plain HTML form, no JavaScript,
//! nothing logged about the token or the choice.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};

use maud::{Markup, html};
use relais_bots::poll::{
    secret_ballot::{BallotView, CastOutcome},
    service::Polls,
};
use relais_core::time::{format_paris, now_ms};

use crate::{
    WebState,
    page::{alert, message, notice, page},
};

pub fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/relais/vote/{token}", get(show).post(cast))
}

fn polls(state: &WebState) -> Polls {
    Polls::new(&state.store, state.client.clone(), state.config.clone())
}

fn unknown() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Lien de vote inconnu",
        "Ce lien de vote n'existe pas. Vérifiez qu'il a été copié en entier depuis votre message ou courriel.",
    )
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Vote indisponible",
        "Le vote ne peut pas être enregistré pour l'instant. Réessayez dans quelques minutes : votre lien reste valable.",
    )
}

fn closed() -> Response {
    message(StatusCode::GONE, "Vote clos", "Ce vote est clos : les résultats sont publiés dans le salon.")
}

fn already() -> Response {
    message(
        StatusCode::CONFLICT,
        "Vous avez déjà voté",
        "Votre bulletin est déjà enregistré et sera compté ; il ne peut pas être modifié. Votre reçu vous a été \
         affiché au moment du vote. Si la page de confirmation ne s'est pas affichée (coupure, double clic), votre \
         bulletin est tout de même compté, mais Relais ne peut pas vous redonner son reçu : il ne sait pas lequel \
         est le vôtre.",
    )
}

fn is_open(view: &BallotView) -> bool {
    view.poll.closed_at.is_none() && view.poll.deadline.is_none_or(|d| d > now_ms())
}

const TITLE: &str = "Vote à bulletin secret";

fn form(view: &BallotView, error: Option<&str>) -> Markup {
    let multiple = view.spec.max_selections > 1;
    let kind = if multiple { "checkbox" } else { "radio" };
    page(
        TITLE,
        html! {
            @if let Some(error) = error { (alert(error)) }
            form method="post" {
                fieldset {
                    legend { (view.spec.question) }
                    @if multiple { p.hint { "Jusqu'à " (view.spec.max_selections) " réponses." } }
                    @for (i, answer) in view.spec.answers.iter().enumerate() {
                        @let id = format!("choix{}", i + 1);
                        div.choice {
                            input type=(kind) name="choix" value=(i + 1) id=(id);
                            label for=(id) { (answer) }
                        }
                    }
                }
                button type="submit" { "Voter" }
            }
            @if let Some(deadline) = view.spec.deadline {
                p.hint { "Clôture le " (format_paris(deadline)) "." }
            }
            p.hint {
                "Votre bulletin est enregistré sans votre nom ; Relais note seulement que vous avez voté. Vous \
                 recevrez un reçu : à la clôture, la liste des reçus et de leur choix est publiée dans le salon. \
                 Un bulletin ne peut plus être modifié."
            }
        },
    )
}

async fn show(State(state): State<Arc<WebState>>, Path(token): Path<String>) -> Response {
    let view = match polls(&state).ballot_view(&token).await {
        Ok(Some(view)) => view,
        Ok(None) => return unknown(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot show a ballot");
            return unavailable();
        }
    };
    if view.voted {
        return already();
    }
    if !is_open(&view) {
        return closed();
    }
    form(&view, None).into_response()
}

async fn cast(State(state): State<Arc<WebState>>, Path(token): Path<String>, body: Bytes) -> Response {
    let choices: Vec<usize> = url::form_urlencoded::parse(&body)
        .filter(|(key, _)| key == "choix")
        .map(|(_, value)| value.parse().unwrap_or(0))
        .collect();
    let polls = polls(&state);
    match polls.cast(&token, &choices).await {
        Ok(CastOutcome::Recorded { receipt }) => page(
            "A voté !",
            html! {
                (notice("Votre bulletin est enregistré."))
                p { "Votre reçu : " strong style="font-size:1.4em" id="recu" { (receipt) } }
                p {
                    "Notez-le : à la clôture, la liste des reçus et de leur choix sera publiée dans le salon ; \
                     vous pourrez y vérifier que votre bulletin est compté comme vous l'avez voté. Personne \
                     d'autre ne sait que ce reçu est le vôtre."
                }
            },
        )
        .into_response(),
        Ok(CastOutcome::Invalid(message)) => match polls.ballot_view(&token).await {
            Ok(Some(view)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, form(&view, Some(&message))).into_response()
            }
            Ok(None) => unknown(),
            Err(_) => unavailable(),
        },
        Ok(CastOutcome::AlreadyVoted) => already(),
        Ok(CastOutcome::Closed) => closed(),
        Ok(CastOutcome::Unknown) => unknown(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot record a ballot");
            unavailable()
        }
    }
}
