//! Mail rendering: one room message, or a digest, for one member. Pure: no I/O.
//!
//! Every mail is addressed to one recipient, comes from the list address with the author's
//! name (DMARC-safe: our domain signs it), answers to a per-recipient signed reply address and
//! carries the list headers (RFC 2369, 2919, 8058). Text and HTML are both built from the
//! message's plain text, so nothing a sender typed can inject markup.

use std::sync::Arc;

use lettre::{
    Address, Message,
    address::Envelope,
    message::{
        Attachment, Mailbox, MultiPart,
        header::{ContentType, HeaderName, HeaderValue},
    },
};
use relais_core::config::DeliveryMode;

use super::html::{escape, page, text_to_html};
use relais_core::time::format_paris;

use crate::{
    keys::Keys,
    store::{MailList, MailMessage},
};

/// Where links in mail point.
#[derive(Debug, Clone)]
pub struct Site {
    /// The list domain.
    pub domain: String,
    /// Relais's public pages (preferences, unsubscribe), ending with `/`.
    pub web_url: String,
    /// Element Web, ending with `/`.
    pub element_url: String,
    /// Sender of digests (`Name <address>`).
    pub from: Mailbox,
}

/// The member a mail is for.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub member_id: &'a str,
    pub email: &'a str,
    /// Outbox row: the VERP return path names it.
    pub outbox_id: i64,
}

/// One room's messages in a digest.
#[derive(Debug, Clone)]
pub struct DigestSection<'a> {
    pub list: &'a MailList,
    pub messages: Vec<&'a MailMessage>,
}

/// The image or file of a message, as the mail carries it.
#[derive(Debug, Clone, Default)]
pub enum Media {
    #[default]
    None,
    /// Attached (under `[mail] max_attachment_bytes`).
    Attached { name: String, content_type: String, data: Arc<Vec<u8>> },
    /// Too large (or unavailable): a link to Relais's media page.
    Linked { url: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid address in a mail header")]
    Address,
    #[error("cannot build the mail: {0}")]
    Build(String),
}

/// `Message-ID` of the mail of a room event: stable, so a resend is recognisably the same mail
/// and replies thread under it.
pub fn message_id(event_id: &str, domain: &str) -> String {
    let local: String = event_id
        .trim_start_matches('$')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '.' })
        .collect();
    format!("<{}.ev@{domain}>", local.trim_matches('.'))
}

pub(super) fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

pub(super) fn address(localpart: &str, domain: &str) -> Result<Address, RenderError> {
    Address::new(localpart, domain).map_err(|_| RenderError::Address)
}

/// A subject from the first line of a text.
pub fn subject_line(text: &str) -> String {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('>')).unwrap_or("");
    let mut subject: String = first.chars().take(72).collect();
    if first.chars().count() > 72 {
        subject.push('…');
    }
    if subject.is_empty() { "(sans texte)".to_owned() } else { subject }
}

fn room_link(site: &Site, room_id: &str) -> String {
    format!("{}#/room/{room_id}", site.element_url)
}

/// The member's link to the list's web archive (`List-Archive`, and the mail's footer).
fn archive_url(site: &Site, keys: &Keys, list: &str, member_id: &str) -> String {
    format!("{}relais/archives/{}", site.web_url, keys.archive_token(list, member_id))
}

fn unsubscribe_url(site: &Site, keys: &Keys, list: &str, member_id: &str) -> String {
    format!("{}relais/courriel/desabonner/{}", site.web_url, keys.unsubscribe_token(list, member_id))
}

fn preferences_url(site: &Site, keys: &Keys, member_id: &str) -> String {
    format!("{}relais/courriel/{}", site.web_url, keys.preferences_token(member_id))
}

/// The list headers and envelope common to message mail and digests.
struct Frame {
    from: Mailbox,
    reply_to: Mailbox,
    list_id: Option<String>,
    list_post: String,
    archive: String,
    unsubscribe_list: String,
    subject: String,
}

fn assemble(
    site: &Site,
    keys: &Keys,
    frame: Frame,
    recipient: Recipient<'_>,
    ids: (String, Vec<String>),
    body: (String, String),
    media: &Media,
) -> Result<Message, RenderError> {
    let to: Mailbox = recipient.email.parse().map_err(|_| RenderError::Address)?;
    let verp = address(&keys.bounce_localpart(recipient.outbox_id), &site.domain)?;
    let envelope = Envelope::new(Some(verp), vec![to.email.clone()]).map_err(|_| RenderError::Address)?;
    let unsub_mailto = format!(
        "{}@{}",
        keys.unsubscribe_localpart(&frame.unsubscribe_list, recipient.member_id),
        site.domain
    );
    let unsub_url = unsubscribe_url(site, keys, &frame.unsubscribe_list, recipient.member_id);
    let (message_id, references) = ids;
    let mut builder = Message::builder()
        .from(frame.from)
        .reply_to(frame.reply_to)
        .to(to)
        .subject(frame.subject)
        .message_id(Some(message_id))
        .envelope(envelope)
        .raw_header(header("Precedence", "list".into()))
        .raw_header(header("X-Loop", format!("relais@{}", site.domain)))
        .raw_header(header("List-Post", format!("<mailto:{}>", frame.list_post)))
        .raw_header(header("List-Archive", format!("<{}>", frame.archive)))
        .raw_header(header(
            "List-Unsubscribe",
            format!("<{unsub_url}>, <mailto:{unsub_mailto}?subject=unsubscribe>"),
        ))
        .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
    if let Some(list_id) = frame.list_id {
        builder = builder.raw_header(header("List-Id", list_id));
    }
    if let Some(parent) = references.last() {
        builder = builder.in_reply_to(parent.clone()).references(references.join(" "));
    }
    let (text, html) = body;
    let alternative = MultiPart::alternative_plain_html(text, html);
    let content = match media {
        Media::Attached { name, content_type, data } => {
            let content_type = ContentType::parse(content_type).unwrap_or(ContentType::TEXT_PLAIN);
            MultiPart::mixed()
                .multipart(alternative)
                .singlepart(Attachment::new(name.clone()).body(data.to_vec(), content_type))
        }
        _ => alternative,
    };
    builder.multipart(content).map_err(|e| RenderError::Build(e.to_string()))
}

/// Display name on mail from a room: "Jeanne Martin (via Relais)".
fn via(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control() && *c != '"').take(60).collect();
    format!("{clean} (via Relais)")
}

/// The mail of one room message for one member.
pub fn message_mail(
    site: &Site,
    keys: &Keys,
    list: &MailList,
    message: &MailMessage,
    thread_subject: Option<&str>,
    recipient: Recipient<'_>,
    media: &Media,
) -> Result<Message, RenderError> {
    let list_address = address(&list.localpart, &site.domain)?;
    let reply =
        address(&keys.reply_localpart(&list.localpart, message.seq, recipient.member_id), &site.domain)?;
    let post = format!("{}@{}", keys.reply_localpart(&list.localpart, 0, recipient.member_id), site.domain);
    let subject = match thread_subject {
        Some(root) => format!("Re: [{}] {}", list.name, subject_line(root)),
        None => format!("[{}] {}", list.name, subject_line(&message.body)),
    };
    let mut references = Vec::new();
    for parent in [&message.thread_root, &message.reply_to].into_iter().flatten() {
        let id = message_id(parent, &site.domain);
        if !references.contains(&id) {
            references.push(id);
        }
    }
    let frame = Frame {
        from: Mailbox::new(Some(via(&message.sender_name)), list_address),
        reply_to: Mailbox::new(Some(list.name.clone()), reply),
        list_id: Some(format!("{} <{}.{}>", list.name, list.localpart, site.domain)),
        list_post: post,
        archive: archive_url(site, keys, &list.localpart, recipient.member_id),
        unsubscribe_list: list.localpart.clone(),
        subject,
    };
    let body = message_bodies(site, keys, list, message, recipient.member_id, media);
    let ids = (message_id(&message.event_id, &site.domain), references);
    assemble(site, keys, frame, recipient, ids, body, media)
}

fn message_text(site: &Site, keys: &Keys, message: &MailMessage, member_id: &str, media: &Media) -> String {
    let where_ = match media {
        Media::Attached { .. } => "en pièce jointe".to_owned(),
        Media::Linked { url } => format!("à ouvrir ici : {url}"),
        Media::None => "dans le salon".to_owned(),
    };
    match message.kind.as_str() {
        "poll" => super::poll_links::poll_text(site, keys, message, member_id),
        "image" => format!("[Image : {}] — {where_}", message.body),
        "file" | "video" | "audio" => format!("[Fichier : {}] — {where_}", message.body),
        "emote" => format!("* {} {}", message.sender_name, message.body),
        _ => message.body.clone(),
    }
}

fn message_bodies(
    site: &Site,
    keys: &Keys,
    list: &MailList,
    message: &MailMessage,
    member_id: &str,
    media: &Media,
) -> (String, String) {
    let room = room_link(site, &list.room_id);
    let prefs = preferences_url(site, keys, member_id);
    let unsub = unsubscribe_url(site, keys, &list.localpart, member_id);
    let archive = archive_url(site, keys, &list.localpart, member_id);
    let content = message_text(site, keys, message, member_id, media);
    let text = format!(
        "{content}\n\n-- \n{} a écrit dans « {} » le {}.\nRépondez à ce courriel pour répondre dans le salon.\n\
         Ouvrir le salon : {room}\nArchives de la liste : {archive}\nVos préférences de courriel : {prefs}\n\
         Se désabonner de cette liste : {unsub}\n",
        message.sender_name,
        list.name,
        format_paris(message.origin_ts),
    );
    let html_body = format!(
        "<p class=\"meta\"><strong>{}</strong> dans « {} » — {}</p>\n<div class=\"msg\">{}</div>\n\
         <p class=\"hint\">Répondez à ce courriel pour répondre dans le salon.</p>",
        escape(&message.sender_name),
        escape(&list.name),
        escape(&format_paris(message.origin_ts)),
        text_to_html(&content),
    );
    let html = page(&list.name, &html_body, &room, &prefs, &unsub);
    (text, html)
}

/// The digest of `sections` for one member.
pub fn digest_mail(
    site: &Site,
    keys: &Keys,
    mode: DeliveryMode,
    digest_id: i64,
    sections: &[DigestSection<'_>],
    recipient: Recipient<'_>,
) -> Result<Message, RenderError> {
    let count: usize = sections.iter().map(|s| s.messages.len()).sum();
    let period = if mode == DeliveryMode::Weekly { "hebdomadaire" } else { "quotidien" };
    let subject = match sections {
        [only] => format!("[{}] Résumé {period} : {count} message{}", only.list.name, plural(count)),
        _ => format!(
            "Relais — résumé {period} : {count} message{} dans {} salons",
            plural(count),
            sections.len()
        ),
    };
    let first = sections.first().map(|s| s.list);
    let (list_post, archive, list_id) = match first {
        Some(list) => (
            format!("{}@{}", keys.reply_localpart(&list.localpart, 0, recipient.member_id), site.domain),
            archive_url(site, keys, &list.localpart, recipient.member_id),
            (sections.len() == 1).then(|| format!("{} <{}.{}>", list.name, list.localpart, site.domain)),
        ),
        None => (site.from.email.to_string(), site.element_url.clone(), None),
    };
    let reply_to = match first {
        Some(list) if sections.len() == 1 => Mailbox::new(
            Some(list.name.clone()),
            address(&keys.reply_localpart(&list.localpart, 0, recipient.member_id), &site.domain)?,
        ),
        _ => site.from.clone(),
    };
    let frame = Frame {
        from: site.from.clone(),
        reply_to,
        list_id,
        list_post,
        archive,
        unsubscribe_list: "tout".into(),
        subject,
    };
    let ids = (format!("<digest.{digest_id}.{}@{}>", recipient.outbox_id, site.domain), Vec::new());
    let body = digest_bodies(site, keys, period, sections, recipient.member_id);
    assemble(site, keys, frame, recipient, ids, body, &Media::None)
}

fn plural(n: usize) -> &'static str {
    if n > 1 { "s" } else { "" }
}

/// Messages grouped by thread (a reply joins its thread root, or the message it answers),
/// threads in the order of their first message, messages oldest first (newest last).
/// Linear: each message's group is found through an index of event ids, not by scanning the
/// groups (a digest is rendered once per recipient).
pub fn threads<'a>(messages: &[&'a MailMessage]) -> Vec<Vec<&'a MailMessage>> {
    let mut groups: Vec<Vec<&'a MailMessage>> = Vec::new();
    let mut group_of: std::collections::HashMap<&'a str, usize> = std::collections::HashMap::new();
    for message in messages {
        let parent = message.thread_root.as_deref().or(message.reply_to.as_deref());
        let index = match parent.and_then(|p| group_of.get(p).copied()) {
            Some(index) => {
                groups[index].push(message);
                index
            }
            None => {
                groups.push(vec![message]);
                groups.len() - 1
            }
        };
        group_of.entry(message.event_id.as_str()).or_insert(index);
    }
    groups
}

fn digest_bodies(
    site: &Site,
    keys: &Keys,
    period: &str,
    sections: &[DigestSection<'_>],
    member_id: &str,
) -> (String, String) {
    let prefs = preferences_url(site, keys, member_id);
    let unsub = unsubscribe_url(site, keys, "tout", member_id);
    let mut text = format!("Votre résumé {period} Relais.\n");
    let mut html = String::new();
    for section in sections {
        let room = room_link(site, &section.list.room_id);
        let reply =
            format!("{}@{}", keys.reply_localpart(&section.list.localpart, 0, member_id), site.domain);
        text.push_str(&format!("\n=== {} ===\n", section.list.name));
        html.push_str(&format!("<h2>{}</h2>\n", escape(&section.list.name)));
        for thread in threads(&section.messages) {
            html.push_str("<div class=\"thread\">\n");
            for (i, message) in thread.iter().enumerate() {
                let indent = if i == 0 { "" } else { "    ↳ " };
                let when = format_paris(message.origin_ts);
                let content = message_text(site, keys, message, member_id, &Media::None);
                text.push_str(&format!("\n{indent}{} — {when}\n", message.sender_name));
                for line in content.lines() {
                    text.push_str(&format!("{}{line}\n", if i == 0 { "" } else { "      " }));
                }
                html.push_str(&format!(
                    "<div class=\"{}\"><p class=\"meta\"><strong>{}</strong> — {}</p><div class=\"msg\">{}</div></div>\n",
                    if i == 0 { "item" } else { "item reply" },
                    escape(&message.sender_name),
                    escape(&when),
                    text_to_html(&content),
                ));
            }
            html.push_str("</div>\n");
        }
        text.push_str(&format!("\nOuvrir le salon : {room}\nÉcrire dans le salon par courriel : {reply}\n"));
        html.push_str(&format!(
            "<p class=\"hint\"><a href=\"{}\">Ouvrir le salon</a> · <a href=\"mailto:{}\">Écrire dans le salon par courriel</a></p>\n",
            escape(&room),
            escape(&reply),
        ));
    }
    text.push_str(&format!(
        "\n-- \nVos préférences de courriel : {prefs}\nNe plus rien recevoir par courriel : {unsub}\n"
    ));
    let title = format!("Résumé {period}");
    let page = page(&title, &html, &site.element_url, &prefs, &unsub);
    (text, page)
}

#[cfg(test)]
mod tests;
