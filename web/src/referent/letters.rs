//! Printed invitations for members with no email and no account: the referent prints a
//! one-page letter (a section's at once) with the member's name, a code to type on
//! `/inscription` and a QR code of the same link, valid `[provisioning] invitation_days`. The
//! code is the invitation's token (only its hash is stored, like a mailed link's); printing a
//! new letter replaces an unused invitation. Each letter is in the audit log.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{Markup, PreEscaped, html};
use qrcode::{QrCode, render::svg};

use relais_core::time::{format_paris, now_ms};
use relais_provisioning::{
    desired::federation_key,
    model::MemberRow,
    onboarding::{display_code, letter_code, token_hash},
    store::{AuditEntry, onboarding::Invitation},
};

use crate::{
    WebState,
    form::Form,
    page::{alert, message},
};

pub(super) const LETTERS_PATH: &str = "/relais/referent/lettres";

/// Letters printed at once, at most (a large section prints in several goes).
const MAX_LETTERS: usize = 200;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct LettersForm {
    /// One member's id, or empty.
    membre: String,
    /// A section's name: every member of it who needs a letter.
    section: String,
}

/// Whether `member` needs a printed invitation (or the referent's help to make an account):
/// active, no account yet, and no address — a member with one has their invitation by mail,
/// which nobody else holds.
pub(super) fn needs_letter(member: &MemberRow) -> bool {
    member.active && member.matrix_id.is_none() && member.email.is_none()
}

/// The dashboard's section: the members with neither an account nor an address, each with a
/// letter to print, and a section's letters at once.
pub(super) fn section(members: &[(MemberRow, i64)]) -> Markup {
    let unreached: Vec<&MemberRow> = members.iter().map(|(m, _)| m).filter(|m| needs_letter(m)).collect();
    let mut sections: Vec<&str> = unreached.iter().filter_map(|m| m.section.as_deref()).collect();
    sections.sort_unstable();
    sections.dedup();
    html! {
        h2 #lettres { "Sans adresse de courriel ni compte (" (unreached.len()) ")" }
        @if unreached.is_empty() {
            p { "Chaque adhérent actif a une adresse de courriel ou un compte." }
        } @else {
            p.hint {
                "Ils ne reçoivent aucune invitation par courriel : imprimez-leur une lettre avec un code personnel,                  à remettre en main propre ou par la poste."
            }
            @for section in &sections {
                form method="post" action=(LETTERS_PATH) style="display:inline" {
                    input type="hidden" name="section" value=(section);
                    button type="submit" { "Lettres de la section " (section) }
                }
                " "
            }
            ul {
                @for m in &unreached {
                    li {
                        (m.first_name) " " (m.last_name)
                        @if let Some(section) = &m.section { " (" (section) ")" }
                        " "
                        form method="post" action=(LETTERS_PATH) style="display:inline" {
                            input type="hidden" name="membre" value=(m.member_id);
                            button type="submit" aria-label={ "Lettre pour " (m.first_name) " " (m.last_name) } { "Lettre" }
                        }
                        details {
                            summary { "Créer son compte avec lui ou elle" }
                            form method="post" action=(super::account::ACCOUNT_PATH) {
                                input type="hidden" name="membre" value=(m.member_id);
                                label for={ "nom-" (m.member_id) } { "Nom d'utilisateur" }
                                input id={ "nom-" (m.member_id) } name="nom_utilisateur"
                                    value=(relais_provisioning::onboarding::suggested_username(&m.first_name, &m.last_name));
                                button type="submit" { "Créer le compte" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The print-ready page of `letters` (member, code, link, until).
fn letters_page(federation: &str, letters: &[(MemberRow, String, String)], until: &str) -> Markup {
    const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a}.letter{max-width:40em;\
        margin:2em auto;padding:0 1.5em;line-height:1.5}.letter h1{color:#b00000;font-size:1.4em}.code{font-size:2em;\
        font-family:monospace;letter-spacing:.08em;border:2px solid #1a1a1a;display:inline-block;padding:.2em .6em}\
        .qr svg{width:45mm;height:45mm}.noprint{text-align:center;margin:1em}@media print{.noprint{display:none}\
        .letter{page-break-after:always;margin:0 auto}@page{size:A4;margin:18mm}}";
    html! {
        (maud::DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                title { "Lettres d'invitation — Relais" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                p.noprint { (letters.len()) " lettre(s) prête(s) à imprimer. " button onclick="window.print()" { "Imprimer" } }
                @for (member, code, link) in letters {
                    section.letter {
                        h1 { "Fédération " (federation) " — votre messagerie" }
                        p { "Bonjour " (member.first_name) " " (member.last_name) "," }
                        p {
                            "Le Parti a sa propre messagerie : les discussions de votre fédération, de votre section et \
                             de votre cellule, les annonces et les votes, au même endroit. Voici comment y entrer."
                        }
                        ol {
                            li { "Sur un ordinateur, une tablette ou un téléphone, ouvrez : " strong { (link.split("/inscription").next().unwrap_or_default()) "/inscription" } }
                            li { "Tapez votre code personnel :" br; span.code { (display_code(code)) } }
                            li { "Choisissez un nom d'utilisateur et un mot de passe, et notez-les." }
                        }
                        p { "Avec l'appareil photo de votre téléphone, vous pouvez aussi viser ce carré : il ouvre la page directement." }
                        div.qr { (qr(link)) }
                        p { "Ce code est personnel et vaut jusqu'au " (until) ". Votre référent numérique de fédération peut vous aider." }
                    }
                }
            }
        }
    }
}

/// The QR code of `link`, as inline SVG (no image file, no script).
fn qr(link: &str) -> Markup {
    match QrCode::new(link.as_bytes()) {
        Ok(code) => PreEscaped(code.render::<svg::Color>().min_dimensions(180, 180).quiet_zone(true).build()),
        // A link always fits a QR code; were it not to, the typed code still works.
        Err(_) => html! {},
    }
}

/// The members of the federation `federation` the form names who need a letter, at most
/// [`MAX_LETTERS`]: the one named (a lost letter is replaced), or a section's who have none
/// pending (printing it again never voids the letters handed out); never one whose invitation
/// made an account already.
fn chosen(
    records: Vec<(String, i64)>,
    invitations: &HashMap<String, Invitation>,
    federation: &str,
    form: &LettersForm,
) -> Vec<MemberRow> {
    let (membre, section) = (form.membre.trim(), form.section.trim());
    let now = now_ms();
    records
        .into_iter()
        .filter_map(|(json, _)| serde_json::from_str::<MemberRow>(&json).ok())
        .filter(|m| federation_key(&m.federation) == federation && needs_letter(m))
        .filter(|m| invitations.get(&m.member_id).is_none_or(|i| i.used_at.is_none()))
        .filter(|m| {
            let pending = invitations.get(&m.member_id).is_some_and(|i| i.expires_at > now);
            (!membre.is_empty() && m.member_id == membre)
                || (!section.is_empty() && m.section.as_deref() == Some(section) && !pending)
        })
        .take(MAX_LETTERS)
        .collect()
}

/// A new invitation for each of `members`, under the provisioning lease, with an audit line by
/// `actor`: (member, code, link).
async fn issue(
    state: &WebState,
    lease: &relais_core::store::lease::Lease,
    members: Vec<MemberRow>,
    actor: &str,
    expires: i64,
) -> Result<Vec<(MemberRow, String, String)>, relais_core::StoreError> {
    let site = state.config.web.public_url.as_str().trim_end_matches('/').to_owned();
    let mut letters = Vec::with_capacity(members.len());
    for member in members {
        let code = letter_code();
        if !state
            .records
            .issue_invitation(lease.fence(), &member.member_id, &token_hash(&code), expires)
            .await?
        {
            // Their invitation is being redeemed right now: no letter over it.
            continue;
        }
        let entry = AuditEntry {
            at: now_ms(),
            actor: actor.to_owned(),
            action: "print_letter".into(),
            target: format!("member {}", member.member_id),
            detail: String::new(),
        };
        if let Err(error) = state.records.audit_append(&entry).await {
            tracing::error!(%error, "a printed invitation could not be written to the audit log");
        }
        let link = format!("{site}/inscription/{code}");
        letters.push((member, code, link));
    }
    Ok(letters)
}

/// Prints letters for a member, or a section's members, of the referent's federation.
pub async fn print(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<LettersForm>,
) -> Response {
    let session = match super::confirm::acting(&state, &headers).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let records = match state.records.member_records().await {
        Ok(records) => records,
        Err(error) => {
            tracing::error!(%error, "cannot read members for letters");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            );
        }
    };
    let invitations: HashMap<String, Invitation> = match state.records.invitations().await {
        Ok(all) => all.into_iter().map(|i| (i.member_id.clone(), i)).collect(),
        Err(error) => {
            tracing::error!(%error, "cannot read invitations for letters");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            );
        }
    };
    let members = chosen(records, &invitations, &session.federation, &form);
    let Some(federation) = members.first().map(|m| m.federation.clone()) else {
        let text = "Aucun adhérent de votre fédération sans compte ne correspond : rien n'a été imprimé.";
        return (StatusCode::NOT_FOUND, crate::page::page("Lettres d'invitation", alert(text)))
            .into_response();
    };
    let lease = match state.applier.try_lock().await {
        Ok(Some(lease)) => lease,
        Ok(None) => {
            let text = "Une mise à jour des adhérents est en cours : réessayez dans une minute.";
            return (StatusCode::CONFLICT, crate::page::page("Lettres d'invitation", alert(text)))
                .into_response();
        }
        Err(error) => {
            tracing::error!(%error, "cannot take the provisioning lease for letters");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            );
        }
    };
    let expires = now_ms() + i64::from(state.config.provisioning.invitation_days) * 86_400_000;
    let letters = match issue(&state, &lease, members, &session.user_id, expires).await {
        Ok(letters) => letters,
        Err(error) => {
            tracing::error!(%error, "cannot record a printed invitation");
            lease.release_or_expire().await;
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Réessayez dans quelques minutes.",
            );
        }
    };
    lease.release_or_expire().await;
    let page = letters_page(&federation, &letters, &format_paris(expires));
    // The page carries codes: kept by no cache.
    ([(header::CACHE_CONTROL, "no-store")], page).into_response()
}

#[cfg(test)]
mod tests {
    use relais_provisioning::model::{Contact, MemberRow};

    #[test]
    fn a_letter_names_the_member_and_carries_the_code_and_its_qr() {
        let member = MemberRow {
            line: 0,
            member_id: "7".into(),
            first_name: "Jean <b>".into(),
            last_name: "Petit".into(),
            email: None,
            federation: "Nord".into(),
            section: None,
            cell: None,
            roles: Vec::new(),
            active: true,
            matrix_id: None,
            contact: Contact::Chat,
        };
        let letters =
            [(member, "ABCDEFGHJKMN".to_owned(), "https://relais.test/inscription/ABCDEFGHJKMN".to_owned())];
        let page = super::letters_page("Nord", &letters, "2026-12-15 10:00").into_string();
        assert!(page.contains("Bonjour Jean &lt;b&gt; Petit"), "escaped: {page}");
        assert!(
            page.contains("ABCD-EFGH-JKMN") && page.contains("https://relais.test/inscription"),
            "{page}"
        );
        assert!(page.contains("<svg") && page.contains("page-break-after:always"), "{page}");
    }
}
