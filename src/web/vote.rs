//! The secret-ballot page (`/relais/vote/{token}`): the personal one-time link each eligible
//! member received shows the question; voting gives a receipt. Plain HTML form, no JavaScript,
//! nothing logged about the token or the choice.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
};

use relais_bots::poll::{
    secret_ballot::{BallotView, CastOutcome},
    service::Polls,
};
use relais_core::time::{format_paris, now_ms};
use relais_provisioning::onboarding::escape;

use super::{WebState, page::page};

pub fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/relais/vote/{token}", get(show).post(cast))
}

fn polls(state: &WebState) -> Polls {
    Polls::new(&state.store, state.client.clone(), state.config.clone())
}

fn plain(status: StatusCode, title: &str, text: &str) -> Response {
    (status, Html(page(title, &format!("<p>{}</p>", escape(text))))).into_response()
}

fn unknown() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "Lien de vote inconnu",
        "Ce lien de vote n'existe pas. Vérifiez qu'il a été copié en entier depuis votre message ou courriel.",
    )
}

fn unavailable() -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "Vote indisponible",
        "Le vote ne peut pas être enregistré pour l'instant. Réessayez dans quelques minutes : votre lien reste valable.",
    )
}

fn closed() -> Response {
    plain(StatusCode::GONE, "Vote clos", "Ce vote est clos : les résultats sont publiés dans le salon.")
}

fn already() -> Response {
    plain(
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

fn form(view: &BallotView, error: Option<&str>) -> String {
    let multiple = view.spec.max_selections > 1;
    let kind = if multiple { "checkbox" } else { "radio" };
    let mut out = String::new();
    if let Some(error) = error {
        out.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>", escape(error)));
    }
    out.push_str("<form method=\"post\"><fieldset><legend>");
    out.push_str(&escape(&view.spec.question));
    out.push_str("</legend>");
    if multiple {
        out.push_str(&format!("<p class=\"hint\">Jusqu'à {} réponses.</p>", view.spec.max_selections));
    }
    for (i, answer) in view.spec.answers.iter().enumerate() {
        let n = i + 1;
        out.push_str(&format!(
            "<div class=\"choice\"><input type=\"{kind}\" name=\"choix\" value=\"{n}\" id=\"choix{n}\">\
             <label for=\"choix{n}\">{}</label></div>",
            escape(answer)
        ));
    }
    out.push_str("</fieldset><button type=\"submit\">Voter</button></form>");
    if let Some(deadline) = view.spec.deadline {
        out.push_str(&format!("<p class=\"hint\">Clôture le {}.</p>", escape(&format_paris(deadline))));
    }
    out.push_str(
        "<p class=\"hint\">Votre bulletin est enregistré sans votre nom ; Relais note seulement que vous avez \
         voté. Vous recevrez un reçu : à la clôture, la liste des reçus et de leur choix est publiée dans le salon. \
         Un bulletin ne peut plus être modifié.</p>",
    );
    out
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
    Html(page("Vote à bulletin secret", &form(&view, None))).into_response()
}

async fn cast(State(state): State<Arc<WebState>>, Path(token): Path<String>, body: Bytes) -> Response {
    let choices: Vec<usize> = url::form_urlencoded::parse(&body)
        .filter(|(key, _)| key == "choix")
        .map(|(_, value)| value.parse().unwrap_or(0))
        .collect();
    let polls = polls(&state);
    match polls.cast(&token, &choices).await {
        Ok(CastOutcome::Recorded { receipt }) => Html(page(
            "A voté !",
            &format!(
                "<p class=\"ok\" role=\"status\">Votre bulletin est enregistré.</p><p>Votre reçu : \
                 <strong style=\"font-size:1.4em\" id=\"recu\">{}</strong></p><p>Notez-le : à la clôture, la \
                 liste des reçus et de leur choix sera publiée dans le salon ; vous pourrez y vérifier que votre \
                 bulletin est compté comme vous l'avez voté. Personne d'autre ne sait que ce reçu est le vôtre.</p>",
                escape(&receipt)
            ),
        ))
        .into_response(),
        Ok(CastOutcome::Invalid(message)) => match polls.ballot_view(&token).await {
            Ok(Some(view)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, Html(page("Vote à bulletin secret", &form(&view, Some(&message)))))
                    .into_response()
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
