//! Import from the page: upload → dry run shown as a readable diff → apply (same guard as the
//! CLI), running in the background while the dashboard shows progress.
//!
//! Both steps hold the provisioning lease; while another run holds it (an import from the
//! command line or another federation, the drift timer), the page says so at once instead of
//! holding the request.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};

use axum::{
    Form,
    extract::{ConnectInfo, Multipart, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use relais_core::store::lease::Lease;

use crate::web::store::{SignInMethod, Upload, WebSession, WebStore};
use relais_provisioning::{
    apply::Applier,
    onboarding::{escape, new_token},
    plan::Action,
    run::{Options, Outcome, RunError, provision},
};

use super::{WebState, login_page, session};
use crate::{provision::release, web::page::page};

/// French label of an action kind, for counts.
pub(super) fn action_label(kind: &str) -> &'static str {
    match kind {
        "create_room" => "salons créés",
        "rename_room" => "salons renommés",
        "set_moderators" => "listes de modérateurs mises à jour",
        "invite" => "invitations dans un salon",
        "grant" => "accès ouverts par l'espace de la fédération",
        "kick" => "retraits d'un salon",
        "subscribe" => "abonnements par courriel",
        "unsubscribe" => "désabonnements",
        "save_member" => "fiches d'adhérent enregistrées",
        "send_invitation" => "invitations à créer un compte",
        _ => "autres changements",
    }
}

fn options(state: &WebState, session: &WebSession, source: &str, dry_run: bool, force: bool) -> Options {
    Options {
        dry_run,
        force,
        // Emptying a column for every member is the command line's decision, never the page's.
        accept_missing_columns: false,
        max_removal_percent: state.config.provisioning.max_removal_percent,
        national_name: state.config.provisioning.national_name.clone(),
        invitations: state.config.invitations_enabled(),
        federation: Some(session.federation.clone()),
        source: source.to_owned(),
    }
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/relais/referent\">Retour</a></p>",
        escape(message)
    );
    (status, Html(page("Import impossible", &body))).into_response()
}

/// Takes the provisioning lease for a referent's import, or the page to answer at once.
async fn lock(applier: &Applier) -> Result<Lease, Response> {
    match applier.try_lock().await {
        Ok(Some(lease)) => Ok(lease),
        Ok(None) => Err(error_page(
            StatusCode::CONFLICT,
            "Une autre mise à jour des adhérents est en cours : réessayez dans quelques minutes.",
        )),
        Err(error) => {
            tracing::error!(%error, "cannot take the provisioning lease");
            Err(error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible : réessayez dans quelques minutes.",
            ))
        }
    }
}

/// The file name and content of the form's `fichier` field, if any.
async fn receive_file(form: &mut Multipart) -> Result<(String, Option<axum::body::Bytes>), Response> {
    let (mut name, mut bytes) = (String::from("fichier.csv"), None);
    while let Some(field) = form.next_field().await.map_err(|e| unreadable_upload(&e))? {
        if field.name() == Some("fichier") {
            name = field.file_name().unwrap_or("fichier.csv").to_owned();
            bytes = Some(field.bytes().await.map_err(|e| unreadable_upload(&e))?);
        }
    }
    Ok((name, bytes))
}

/// The page for a membership file that could not be received whole.
fn unreadable_upload(error: &axum::extract::multipart::MultipartError) -> Response {
    if crate::web::body::is_too_slow(error) {
        return error_page(
            StatusCode::REQUEST_TIMEOUT,
            "Le fichier est arrivé trop lentement : réessayez depuis une connexion plus rapide.",
        );
    }
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Le fichier dépasse 32 Mo : ce n'est pas un export des adhérents.",
        );
    }
    error_page(StatusCode::BAD_REQUEST, "Le fichier n'a pas été reçu en entier : réessayez.")
}

pub async fn dry_run(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return Html(login_page(None)).into_response();
    };
    // Only now is the file read: a session may receive two at a time per node.
    let Ok(_receiving) = state.uploads.clone().try_acquire_owned() else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Un autre fichier est en cours d'envoi : réessayez dans une minute.",
        );
    };
    let (name, bytes) = match receive_file(&mut form).await {
        Ok(received) => received,
        Err(page) => return page,
    };
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Aucun fichier reçu : choisissez le fichier CSV des adhérents.",
        );
    };
    let mut applier = state.applier.clone();
    applier.actor = format!("web:{}", session.user_id);
    let lease = match lock(&applier).await {
        Ok(lease) => lease,
        Err(busy) => return busy,
    };
    let outcome = provision(&bytes, &applier, &options(&state, &session, &name, true, false), &lease).await;
    release(lease).await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(RunError::File(e)) => {
            return error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Le fichier n'a pas pu être lu : {e}"),
            );
        }
        Err(e @ RunError::MissingColumns(_)) => {
            return error_page(StatusCode::UNPROCESSABLE_ENTITY, &format!("Import refusé : {e}"));
        }
        Err(e) => {
            tracing::error!(error = %e, "dry run from the referents' page failed");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible : réessayez dans quelques minutes.",
            );
        }
    };
    let upload = Upload {
        upload_id: new_token(),
        user_id: session.user_id.clone(),
        federation: session.federation.clone(),
        file_name: name.clone(),
        content: hex::encode(&bytes),
    };
    if state.web.upload_save(&upload).await.is_err() {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service indisponible : réessayez dans quelques minutes.",
        );
    }
    let mut rooms: BTreeMap<String, String> =
        state.records.room_names().await.unwrap_or_default().into_iter().collect();
    for action in &outcome.plan.actions {
        if let Action::CreateRoom { room, name, .. } = action {
            rooms.insert(room.clone(), name.clone());
        }
    }
    let ask_password = session.method == SignInMethod::OpenId;
    Html(page(
        "Ce que l'import changerait",
        &plan_body(&outcome, &upload.upload_id, &state, &rooms, ask_password),
    ))
    .into_response()
}

fn plan_body(
    outcome: &Outcome,
    upload_id: &str,
    state: &WebState,
    rooms: &BTreeMap<String, String>,
    ask_password: bool,
) -> String {
    let r = &outcome.report;
    let mut body = format!("<p>{} adhérents lus, {} lignes en erreur.</p>", r.rows.len(), r.errors.len());
    if !r.errors.is_empty() {
        let items: String =
            r.errors.iter().map(|e| format!("<li>ligne {} : {}</li>", e.line, escape(&e.message))).collect();
        body.push_str(&format!(
            "<h2>Lignes en erreur (non appliquées)</h2><p class=\"hint\">Ces adhérents gardent leurs accès \
             actuels.</p><ul>{items}</ul>"
        ));
    }
    let counts = outcome.plan.summary();
    if counts.is_empty() {
        body.push_str(
            "<p><strong>Rien ne changerait : la messagerie correspond déjà au fichier.</strong></p>",
        );
        return body + "<p><a href=\"/relais/referent\">Retour</a></p>";
    }
    let items: String = counts.iter().map(|(k, n)| format!("<li>{n} {}</li>", action_label(k))).collect();
    body.push_str(&format!("<h2>Changements</h2><ul>{items}</ul>{}", member_changes(outcome, rooms)));
    let p = &outcome.plan;
    let confirm = if outcome.refused {
        format!(
            "<p class=\"error\" role=\"alert\">Attention : avec cet import, {} adhérents actifs sur {} perdraient \
             un accès (salon, espace, droit de modération ou abonnement), plus de {} %. Vérifiez que l'export \
             est complet (fédération, section ou colonne renommée) avant de continuer.</p>\
             <label><input type=\"checkbox\" name=\"confirmer\" value=\"oui\" required> Je confirme ces retraits</label>",
            p.losing_access, p.recorded_active, state.config.provisioning.max_removal_percent
        )
    } else {
        String::new()
    };
    let password = if ask_password {
        "<label for=\"mdp\">Mot de passe de votre compte Matrix (pour confirmer)</label>\
         <input id=\"mdp\" name=\"mot_de_passe\" type=\"password\" autocomplete=\"current-password\" required>"
    } else {
        ""
    };
    body.push_str(&format!(
        "<form method=\"post\" action=\"/relais/referent/appliquer\"><input type=\"hidden\" name=\"upload\" \
         value=\"{}\">{confirm}{password}<button type=\"submit\">Appliquer</button></form>\
         <p><a href=\"/relais/referent\">Annuler</a></p>",
        escape(upload_id)
    ));
    body
}

/// Who gains and who loses access, member by member, with the rooms' names.
fn member_changes(outcome: &Outcome, rooms: &BTreeMap<String, String>) -> String {
    let room = |key: &String| rooms.get(key).cloned().unwrap_or_else(|| key.clone());
    let names: BTreeMap<&str, String> = outcome
        .report
        .rows
        .iter()
        .map(|r| (r.member_id.as_str(), format!("{} {}", r.first_name, r.last_name)))
        .collect();
    let who = |id: &str| names.get(id).cloned().unwrap_or_else(|| format!("adhérent n° {id}"));
    let mut lines = Vec::new();
    for action in &outcome.plan.actions {
        match action {
            Action::Invite { room: key, member_id, .. } => {
                lines.push(format!(
                    "<li>+ {} : invité·e dans « {} »</li>",
                    escape(&who(member_id)),
                    escape(&room(key))
                ));
            }
            Action::Kick { room: key, member_id, reason, .. } => lines.push(format!(
                "<li>− {} : retiré·e de « {} » ({})</li>",
                escape(&who(member_id)),
                escape(&room(key)),
                escape(reason)
            )),
            Action::SendInvitation { member_id, .. } => {
                lines.push(format!("<li>✉ {} : invitation à créer un compte</li>", escape(&who(member_id))));
            }
            _ => {}
        }
    }
    if lines.is_empty() {
        String::new()
    } else {
        format!("<h2>Par adhérent</h2><ul>{}</ul>", lines.concat())
    }
}

#[derive(Debug, Deserialize)]
pub struct ApplyForm {
    upload: String,
    confirmer: Option<String>,
    /// Asked when the session came from an OpenID token (see `SignInMethod`).
    mot_de_passe: Option<String>,
}

pub async fn apply(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ApplyForm>,
) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return Html(login_page(None)).into_response();
    };
    if session.method == SignInMethod::OpenId {
        // An OpenID token is not bound to Relais: a widget the referent approved could have
        // replayed it. Changing the membership takes the password.
        let ip = state.limits.client_ip(peer, &headers);
        // Its own bucket: failed sign-ins on the account cannot block the confirmation.
        if !state.limits.sign_in_by_account.allow(&format!("confirm:{}", session.user_id.to_lowercase())) {
            return super::super::too_many_requests();
        }
        let password = form.mot_de_passe.as_deref().unwrap_or_default();
        match state.client.verify_password(&session.user_id, password, Some(ip)).await {
            Ok(user) if user.as_str() == session.user_id => {}
            Ok(_) | Err(relais_appservice::ClientError::Matrix { status: 400..=403, .. }) => {
                return error_page(
                    StatusCode::UNAUTHORIZED,
                    "Mot de passe incorrect : pour appliquer un import, confirmez avec le mot de passe \
                     de votre compte Matrix.",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot check a referent's password");
                return error_page(StatusCode::SERVICE_UNAVAILABLE, "Service indisponible.");
            }
        }
    }
    let mut applier = state.applier.clone();
    applier.actor = format!("web:{}", session.user_id);
    // Taken before the upload is claimed: a busy answer leaves the upload to apply later.
    let lease = match lock(&applier).await {
        Ok(lease) => lease,
        Err(busy) => return busy,
    };
    let upload = match state.web.upload_claim(&form.upload, &session.user_id).await {
        Ok(Some(upload)) if upload.federation == session.federation => upload,
        Ok(_) => {
            release(lease).await;
            return error_page(
                StatusCode::GONE,
                "Ce fichier a expiré ou a déjà été appliqué : recommencez l'import.",
            );
        }
        Err(_) => {
            release(lease).await;
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "Service indisponible.");
        }
    };
    let Ok(bytes) = hex::decode(&upload.content) else {
        release(lease).await;
        return error_page(StatusCode::GONE, "Ce fichier est illisible : recommencez l'import.");
    };
    let options = options(&state, &session, &upload.file_name, false, form.confirmer.is_some());
    // Applying a large file takes minutes: it runs on, holding the lease; the dashboard shows its
    // progress, and an interruption is finished by the next import.
    tokio::spawn(apply_in_background(bytes, applier, options, lease, upload.upload_id));
    Redirect::to("/relais/referent").into_response()
}

/// Applies a confirmed upload under `lease`, then spends it (its plan is journaled) or gives it
/// back to the referent (it stopped before that).
async fn apply_in_background(
    bytes: Vec<u8>,
    applier: Applier,
    options: Options,
    lease: Lease,
    upload_id: String,
) {
    let outcome = provision(&bytes, &applier, &options, &lease).await;
    // The upload is spent once its plan is journaled; before that (refused, a missing column,
    // the homeserver or database down, the lease lost) the referent may confirm it again.
    let spent = match outcome {
        Ok(outcome) if outcome.refused => {
            tracing::info!("import from the referents' page refused by the guard");
            false
        }
        Ok(_) => {
            tracing::info!("import from the referents' page applied");
            true
        }
        Err(error @ RunError::Unfinished(_)) => {
            tracing::warn!(%error, "import from the referents' page journaled, then stopped");
            true
        }
        Err(error) => {
            tracing::warn!(%error, "import from the referents' page stopped before journaling");
            false
        }
    };
    let store = WebStore::new(applier.store.clone());
    let kept =
        if spent { store.upload_done(&upload_id).await } else { store.upload_unclaim(&upload_id).await };
    if let Err(error) = kept {
        tracing::warn!(%error, "cannot update an import's upload; it expires within the hour");
    }
    // Only now: a confirmation arriving meanwhile finds the lease busy, not the upload gone.
    release(lease).await;
}
