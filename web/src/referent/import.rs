//! Import from the page: upload → dry run shown as a readable diff → apply (same guard as the
//! CLI), running in the background while the dashboard shows progress.
//!
//! Both steps hold the provisioning lease; while another run holds it (an import from the
//! command line or another federation, the drift timer), the page says so at once instead of
//! holding the request.

use crate::form::Form;
use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Multipart, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use relais_core::store::lease::Lease;

use crate::store::{Upload, WebSession, WebStore};
use relais_provisioning::{
    apply::Applier,
    onboarding::new_token,
    plan::Action,
    run::{Options, Outcome, RunError, provision},
};

use super::{
    WebState,
    confirm::{self, Confirmation},
    login_page, session,
};
use crate::page::{alert, page};

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
        public: state.config.public.clone(),
        national_team: state.config.provisioning.national_team.clone(),
        invitations: state.config.invitations_enabled(),
        federation: Some(session.federation.clone()),
        source: source.to_owned(),
    }
}

pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = html! { (alert(message)) p { a href="/relais/referent" { "Retour" } } };
    (status, page("Import impossible", body)).into_response()
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
    if crate::body::is_too_slow(error) {
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
        return login_page(None).into_response();
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
    lease.release_or_expire().await;
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
    let confirmation = Confirmation::of(&state, &session);
    let upload = Upload {
        upload_id: new_token(),
        user_id: session.user_id.clone(),
        federation: session.federation.clone(),
        file_name: name.clone(),
        content: hex::encode(&bytes),
        // Asked for on the page, when the referent means to apply (`confirm::send_session_code`).
        confirm_hash: None,
    };
    if state.web.upload_save(&upload).await.is_err() {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service indisponible : réessayez dans quelques minutes.",
        );
    }
    let rooms = match room_names(&state, &outcome).await {
        Ok(rooms) => rooms,
        Err(page) => return page,
    };
    let max_removal = state.config.provisioning.max_removal_percent;
    page(
        "Ce que l'import changerait",
        plan_body(&outcome, &upload.upload_id, max_removal, &rooms, confirmation),
    )
    .into_response()
}

/// Every room's name by key: the recorded ones and those the plan would create.
async fn room_names(state: &WebState, outcome: &Outcome) -> Result<BTreeMap<String, String>, Response> {
    let mut rooms: BTreeMap<String, String> = match state.records.room_names().await {
        Ok(names) => names.into_iter().collect(),
        Err(error) => {
            tracing::error!(%error, "cannot read the rooms' names for a dry run");
            return Err(error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible : réessayez dans quelques minutes.",
            ));
        }
    };
    for action in &outcome.plan.actions {
        if let Action::CreateRoom { room, name, .. } = action {
            rooms.insert(room.clone(), name.clone());
        }
    }
    Ok(rooms)
}

fn plan_body(
    outcome: &Outcome,
    upload_id: &str,
    max_removal_percent: u32,
    rooms: &BTreeMap<String, String>,
    confirmation: Confirmation,
) -> Markup {
    let r = &outcome.report;
    let p = &outcome.plan;
    let counts = p.summary();
    html! {
        p { (r.rows.len()) " adhérents lus, " (r.errors.len()) " lignes en erreur." }
        @if !r.errors.is_empty() {
            h2 { "Lignes en erreur (non appliquées)" }
            p.hint { "Ces adhérents gardent leurs accès actuels." }
            ul { @for e in &r.errors { li { "ligne " (e.line) " : " (e.message) } } }
        }
        @if counts.is_empty() {
            p { strong { "Rien ne changerait : la messagerie correspond déjà au fichier." } }
            p { a href="/relais/referent" { "Retour" } }
        } @else {
            h2 { "Changements" }
            ul { @for (kind, n) in &counts { li { (n) " " (action_label(kind)) } } }
            (member_changes(outcome, rooms))
            form method="post" action="/relais/referent/appliquer" {
                input type="hidden" name="upload" value=(upload_id);
                @if outcome.refused {
                    (alert(&format!(
                        "Attention : avec cet import, {} adhérents actifs sur {} perdraient un accès (salon, \
                         espace, droit de modération ou abonnement), plus de {max_removal_percent} %. Vérifiez \
                         que l'export est complet (fédération, section ou colonne renommée) avant de continuer.",
                        p.losing_access, p.recorded_active
                    )))
                    label { input type="checkbox" name="confirmer" value="oui" required; " Je confirme ces retraits" }
                }
                @match confirmation {
                    Confirmation::None => {}
                    Confirmation::Password => {
                        label for="mdp" { "Mot de passe de votre compte Matrix (pour confirmer)" }
                        input #mdp name="mot_de_passe" type="password" autocomplete="current-password" required;
                    }
                    Confirmation::Code => {
                        p {
                            "Pour appliquer, demandez un code : le robot Relais vous l'envoie en message privé \
                             dans la messagerie."
                        }
                        button type="submit" formaction=(confirm::CODE_PATH) { "Recevoir le code" }
                    }
                }
                @if confirmation != Confirmation::Code { button type="submit" { "Appliquer" } }
            }
            p { a href="/relais/referent" { "Annuler" } }
        }
    }
}

/// Who gains and who loses access, member by member, with the rooms' names.
fn member_changes(outcome: &Outcome, rooms: &BTreeMap<String, String>) -> Markup {
    let room = |key: &String| rooms.get(key).cloned().unwrap_or_else(|| key.clone());
    let names: BTreeMap<&str, String> = outcome
        .report
        .rows
        .iter()
        .map(|r| (r.member_id.as_str(), format!("{} {}", r.first_name, r.last_name)))
        .collect();
    let who = |id: &str| names.get(id).cloned().unwrap_or_else(|| format!("adhérent n° {id}"));
    let lines: Vec<String> = outcome
        .plan
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::Invite { room: key, member_id, .. } => {
                Some(format!("+ {} : invité·e dans « {} »", who(member_id), room(key)))
            }
            Action::Kick { room: key, member_id, reason, .. } => {
                Some(format!("− {} : retiré·e de « {} » ({reason})", who(member_id), room(key)))
            }
            Action::SendInvitation { member_id, .. } => {
                Some(format!("✉ {} : invitation à créer un compte", who(member_id)))
            }
            _ => None,
        })
        .collect();
    html! {
        @if !lines.is_empty() {
            h2 { "Par adhérent" }
            ul { @for line in &lines { li { (line) } } }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApplyForm {
    upload: String,
    confirmer: Option<String>,
    /// Asked when the session came from an OpenID token of the party's homeserver (see
    /// [`Confirmation`]).
    mot_de_passe: Option<String>,
    /// Asked when it came from another homeserver's token: the code the bot sent.
    code: Option<String>,
}

pub async fn apply(
    State(state): State<Arc<WebState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ApplyForm>,
) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return login_page(None).into_response();
    };
    let mut applier = state.applier.clone();
    applier.actor = format!("web:{}", session.user_id);
    // Taken before the upload is claimed: a busy answer leaves the upload to apply later. And
    // before the confirmation is checked: a busy answer spends none of a code's tries.
    let lease = match lock(&applier).await {
        Ok(lease) => lease,
        Err(busy) => return busy,
    };
    let confirmation = Confirmation::of(&state, &session);
    let typed = match confirmation {
        Confirmation::Code => form.code.as_deref(),
        _ => form.mot_de_passe.as_deref(),
    };
    if let Err(page) =
        confirm::check(&state, peer, &headers, &session, confirmation, &form.upload, typed).await
    {
        lease.release_or_expire().await;
        return page;
    }
    let upload = match state.web.upload_claim(&form.upload, &session.user_id).await {
        Ok(Some(upload)) if upload.federation == session.federation => upload,
        Ok(_) => {
            lease.release_or_expire().await;
            return error_page(
                StatusCode::GONE,
                "Ce fichier a expiré ou a déjà été appliqué : recommencez l'import.",
            );
        }
        Err(_) => {
            lease.release_or_expire().await;
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "Service indisponible.");
        }
    };
    let Ok(bytes) = hex::decode(&upload.content) else {
        lease.release_or_expire().await;
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
    lease.release_or_expire().await;
}
