//! The mail carrying an email-only member's secret ballot: a personal one-time link to Relais's
//! ballot page, queued in the outbox under [`BALLOT_MAIL`] and rendered here, from the poll's
//! record — the outbox delivers it without reading polls.

use std::sync::Arc;

use relais_core::{Config, Store, html::escape, time::format_paris, time::now_ms};
use relais_mail::notice::{Notice, NoticeFuture, NoticeKind};
use relais_provisioning::directory::Directory;

use super::{
    secret_ballot::{BALLOT_MAIL, ballot_link, voter_of_member},
    spec::PollSpec,
};
use crate::store::BotStore;

/// Renders ballot mails; registered with the outbox.
#[derive(Debug, Clone)]
pub struct BallotMail {
    store: BotStore,
    directory: Directory,
    config: Arc<Config>,
}

/// What the mail says about the poll.
#[derive(Debug, Clone)]
struct BallotNotice<'a> {
    question: &'a str,
    answers: &'a [String],
    /// Where the list is mirrored (the room's name), if known.
    room: Option<&'a str>,
    link: &'a str,
    /// Paris time of closing, if any.
    deadline: Option<&'a str>,
}

impl BallotMail {
    pub fn new(store: &Store, config: Arc<Config>) -> Self {
        Self { store: BotStore::new(store.clone()), directory: Directory::new(store.clone()), config }
    }

    /// The notice for `member_id` in poll `poll_id`; nothing once the poll is closed.
    async fn notice(&self, poll_id: &str, member_id: &str) -> Result<Option<Notice>, String> {
        // A member who lapsed (or was erased) since the mail was queued gets nothing.
        if self.directory.active_email(member_id).await.map_err(|e| e.to_string())?.is_none() {
            return Ok(None);
        }
        let poll = self.store.poll(poll_id).await.map_err(|e| e.to_string())?;
        let Some(poll) = poll.filter(|p| p.closed_at.is_none() && p.deadline.is_none_or(|d| d > now_ms()))
        else {
            return Ok(None);
        };
        // Never a ballot without its question and answers.
        let spec: PollSpec = serde_json::from_str(&poll.spec)
            .map_err(|e| relais_core::StoreError::unreadable_json("the poll's record", &e).to_string())?;
        if spec.answers.is_empty() {
            return Err("the poll's record has no answers: no ballot is sent".into());
        }
        let room = self.directory.room_name(&poll.room_id).await.map_err(|e| e.to_string())?;
        let link = ballot_link(&self.config, &poll.poll_id, &voter_of_member(member_id));
        let deadline = poll.deadline.map(format_paris);
        let notice = BallotNotice {
            question: &spec.question,
            answers: &spec.answers,
            room: room.as_deref(),
            link: &link,
            deadline: deadline.as_deref(),
        };
        let (text, html) = bodies(&notice);
        Ok(Some(Notice { subject: format!("Votre bulletin de vote : {}", spec.question), text, html }))
    }
}

impl NoticeKind for BallotMail {
    fn kind(&self) -> &'static str {
        BALLOT_MAIL
    }

    fn render<'a>(&'a self, reference: &'a str, member_id: &'a str) -> NoticeFuture<'a> {
        Box::pin(self.notice(reference, member_id))
    }
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
