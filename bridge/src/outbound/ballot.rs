//! The mail carrying an email-only member's secret ballot: a personal one-time link to Relais's
//! ballot page. A personal notification, not a list message: no list headers, never digested.
//! Pure: no I/O.

use lettre::{Message, address::Envelope, message::MultiPart};

use super::{
    html::escape,
    render::{Recipient, RenderError, Site, address, header},
};
use crate::keys::Keys;

/// What the mail says about the poll.
#[derive(Debug, Clone)]
pub struct BallotNotice<'a> {
    pub question: &'a str,
    pub answers: &'a [String],
    /// Where the list is mirrored (the room's name), if known.
    pub room: Option<&'a str>,
    pub link: &'a str,
    /// Paris time of closing, if any.
    pub deadline: Option<&'a str>,
}

fn bodies(notice: &BallotNotice<'_>) -> (String, String) {
    let room = notice.room.map(|r| format!(" ({r})")).unwrap_or_default();
    let until = notice.deadline.map(|d| format!(" avant le {d}")).unwrap_or_default();
    let mut text =
        format!("Bonjour,\n\nUn vote à bulletin secret est ouvert{room} :\n\n{}\n", notice.question);
    let mut items = String::new();
    for (i, answer) in notice.answers.iter().enumerate() {
        text.push_str(&format!("  {}. {answer}\n", i + 1));
        items.push_str(&format!("<li>{}</li>", escape(answer)));
    }
    text.push_str(&format!(
        "\nVotre bulletin personnel : {}\n\nCe lien est personnel : ne le transférez pas. Il sert une seule fois{until}. \
         Votre choix est enregistré sans votre nom ; notez le reçu affiché après votre vote, il figurera avec votre \
         choix dans les résultats publiés à la clôture.\n\n— Relais, la messagerie du Parti\n",
        notice.link
    ));
    let html = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\
         <p>Bonjour,</p><p>Un vote à bulletin secret est ouvert{}&nbsp;:</p><p><strong>{}</strong></p><ol>{items}</ol>\
         <p><a href=\"{}\" style=\"background:#b00000;color:#fff;padding:.6em 1.2em;text-decoration:none;\
         border-radius:4px\">Voter</a></p><p style=\"color:#555\">Ce lien est personnel&nbsp;: ne le transférez pas. \
         Il sert une seule fois{}. Votre choix est enregistré sans votre nom&nbsp;; notez le reçu affiché après votre \
         vote, il figurera avec votre choix dans les résultats publiés à la clôture.</p></body></html>",
        escape(&room),
        escape(notice.question),
        escape(notice.link),
        escape(&until)
    );
    (text, html)
}

/// The ballot mail for one member.
pub fn ballot_mail(
    site: &Site,
    keys: &Keys,
    notice: &BallotNotice<'_>,
    recipient: Recipient<'_>,
) -> Result<Message, RenderError> {
    let to: lettre::message::Mailbox = recipient.email.parse().map_err(|_| RenderError::Address)?;
    let verp = address(&keys.bounce_localpart(recipient.outbox_id), &site.domain)?;
    let envelope = Envelope::new(Some(verp), vec![to.email.clone()]).map_err(|_| RenderError::Address)?;
    let (text, html) = bodies(notice);
    Message::builder()
        .from(site.from.clone())
        .to(to)
        .subject(format!("Votre bulletin de vote : {}", notice.question))
        .message_id(Some(format!("<ballot.{}@{}>", recipient.outbox_id, site.domain)))
        .envelope(envelope)
        .raw_header(header("Auto-Submitted", "auto-generated".into()))
        .raw_header(header("X-Loop", format!("relais@{}", site.domain)))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| RenderError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_names_the_question_the_answers_and_the_link() {
        let answers = vec!["Pour".to_owned(), "Contre <b>".to_owned()];
        let notice = BallotNotice {
            question: "Adopter le budget ?",
            answers: &answers,
            room: Some("Section Lille"),
            link: "https://relais.test/relais/vote/abc",
            deadline: Some("2026-12-01 18:00"),
        };
        let (text, html) = bodies(&notice);
        assert!(text.contains("Adopter le budget ?") && text.contains("  2. Contre <b>"));
        assert!(
            text.contains("https://relais.test/relais/vote/abc")
                && text.contains("avant le 2026-12-01 18:00")
        );
        assert!(
            html.contains("<li>Contre &lt;b&gt;</li>")
                && html.contains("href=\"https://relais.test/relais/vote/abc\"")
        );
    }
}
