//! A poll as an email-only member reads it: the question, and each answer as a personal signed
//! link to Relais's confirmation page (`/relais/sondage/{token}?choix=N`: opening it records
//! nothing, confirming there does). The same in a single mail and in a digest. Pure.

use relais_maildomain::keys::Keys;

use super::render::Site;
use crate::store::MailMessage;

/// The text of poll `message` (its body: the question, then `  • answer` lines) for the member
/// `member_id`.
pub fn poll_text(site: &Site, keys: &Keys, message: &MailMessage, member_id: &str) -> String {
    let mut lines = message.body.lines();
    let question = lines.next().unwrap_or_default();
    let answers: Vec<&str> = lines.filter_map(|l| l.strip_prefix("  • ")).collect();
    if answers.is_empty() {
        return format!("Sondage : {}\n\nPour voter, ouvrez le salon (lien ci-dessous).", message.body);
    }
    let link = format!("{}relais/sondage/{}", site.web_url, keys.poll_token(&message.event_id, member_id));
    let mut text = format!(
        "Sondage : {question}\n\nRépondez d'ici : ouvrez le lien de votre réponse, puis confirmez sur la page qui \
         s'affiche. Vous pourrez changer d'avis jusqu'à la clôture. Ces liens sont personnels : ne transférez pas \
         ce courriel.\n"
    );
    for (i, answer) in answers.iter().enumerate() {
        text.push_str(&format!("\n  {}. {answer} : {link}?choix={}", i + 1, i + 1));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            domain: "listes.pcf.test".into(),
            web_url: "https://relais.test/".into(),
            element_url: "https://element.test/".into(),
            from: "Relais <relais@listes.pcf.test>".parse().expect("mailbox"),
        }
    }

    fn poll(body: &str) -> MailMessage {
        MailMessage {
            seq: 1,
            event_id: "$poll1".into(),
            room_id: "!r:pcf.test".into(),
            sender: "@a:pcf.test".into(),
            sender_name: "Anne".into(),
            author_member: None,
            kind: "poll".into(),
            body: body.into(),
            html: None,
            reply_to: None,
            thread_root: None,
            media_url: None,
            media_type: None,
            media_size: None,
            origin_ts: 0,
            redacted: false,
        }
    }

    #[test]
    fn each_answer_is_a_personal_link_that_the_page_can_read_back() {
        let keys = Keys::new(b"k");
        let text = poll_text(&site(), &keys, &poll("Date de l'AG ?\n  • Le 12\n  • Le 19"), "0042");
        let token = keys.poll_token("$poll1", "0042");
        assert!(text.starts_with("Sondage : Date de l'AG ?"), "{text}");
        assert!(
            text.contains(&format!("1. Le 12 : https://relais.test/relais/sondage/{token}?choix=1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("2. Le 19 : https://relais.test/relais/sondage/{token}?choix=2")),
            "{text}"
        );
        assert_eq!(keys.check_poll_token(&token), Ok(("$poll1".into(), "0042".into())));
        let other = poll_text(&site(), &keys, &poll("Date de l'AG ?\n  • Le 12"), "0043");
        assert!(!other.contains(&token), "another member's links are theirs");
        let bare = poll_text(&site(), &keys, &poll("Sans réponses"), "0042");
        assert!(bare.contains("ouvrez le salon") && !bare.contains("/relais/sondage/"), "{bare}");
    }
}
