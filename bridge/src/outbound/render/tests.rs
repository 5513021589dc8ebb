use super::*;

fn site() -> Site {
    Site {
        domain: "listes.pcf.test".into(),
        web_url: "https://m.pcf.test/".into(),
        element_url: "https://m.pcf.test/".into(),
        from: "Relais <relais@listes.pcf.test>".parse().expect("from"),
    }
}

fn list() -> MailList {
    MailList {
        room_id: "!r:pcf.test".into(),
        localpart: "nord-lille".into(),
        name: "Section Lille".into(),
        room_key: None,
        enabled: true,
    }
}

fn message(id: &str, seq: i64, reply_to: Option<&str>, thread: Option<&str>) -> MailMessage {
    MailMessage {
        seq,
        event_id: id.into(),
        room_id: "!r:pcf.test".into(),
        sender_name: "Paul \"Le Rouge\" Durand".into(),
        kind: "text".into(),
        body: format!("Texte {id} <script>"),
        reply_to: reply_to.map(str::to_owned),
        thread_root: thread.map(str::to_owned),
        origin_ts: 1_795_500_000_000,
        ..MailMessage::default()
    }
}

#[test]
fn a_reply_threads_under_its_parent_with_list_headers() {
    let keys = Keys::new(b"k");
    let m = message("$child:pcf.test", 7, Some("$parent"), Some("$root"));
    let recipient = Recipient { member_id: "42", email: "jeanne@example.org", outbox_id: 9 };
    let mail = message_mail(&site(), &keys, &list(), &m, Some("Réunion jeudi"), recipient, &Media::None)
        .expect("mail");
    let raw = String::from_utf8(mail.formatted()).expect("utf-8");
    let id_root = message_id("$root", "listes.pcf.test");
    let id_parent = message_id("$parent", "listes.pcf.test");
    assert!(raw.contains(&format!("In-Reply-To: {id_parent}")), "{raw}");
    assert!(raw.contains(&format!("References: {id_root} {id_parent}")), "{raw}");
    assert!(raw.contains("Message-ID: <child.pcf.test.ev@listes.pcf.test>"), "{raw}");
    assert!(raw.contains("List-Id: Section Lille <nord-lille.listes.pcf.test>"), "{raw}");
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(raw.contains("Precedence: list"));
    assert_eq!(
        mail.envelope().from().map(ToString::to_string),
        Some(format!("{}@listes.pcf.test", keys.bounce_localpart(9)))
    );
    let (text, html) = message_bodies(&site(), &keys, &list(), &m, "42", &Media::None);
    assert!(text.contains("<script>") && !html.contains("<script>") && html.contains("&lt;script&gt;"));
    assert_eq!(via("Paul \"Le Rouge\" Durand\n"), "Paul Le Rouge Durand (via Relais)");
}

#[test]
fn digests_group_by_thread_newest_last() {
    let (a, b, c, d) = (
        message("$a", 1, None, None),
        message("$b", 2, None, None),
        message("$c", 3, Some("$a"), None),
        message("$d", 4, None, Some("$b")),
    );
    let grouped = threads(&[&a, &b, &c, &d]);
    let ids: Vec<Vec<&str>> =
        grouped.iter().map(|t| t.iter().map(|m| m.event_id.as_str()).collect()).collect();
    assert_eq!(ids, [vec!["$a", "$c"], vec!["$b", "$d"]]);
}

/// The mail as the subscriber's client receives it, with what changes from run to run (the
/// date, the MIME boundaries) replaced by fixed words.
fn as_received(mail: &lettre::Message) -> String {
    let raw = String::from_utf8(mail.formatted()).expect("utf-8");
    let mut boundaries: Vec<String> = raw
        .split("boundary=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect();
    boundaries.dedup();
    let mut raw = raw
        .lines()
        .map(|line| if line.starts_with("Date: ") { "Date: (the sending time)" } else { line })
        .collect::<Vec<_>>()
        .join("\n");
    for (n, boundary) in boundaries.iter().enumerate() {
        raw = raw.replace(boundary.as_str(), &format!("BOUNDARY-{n}"));
    }
    raw
}

#[test]
fn the_mail_of_a_message_as_a_subscriber_receives_it() {
    let keys = Keys::new(b"k");
    let m = message("$child:pcf.test", 7, Some("$parent"), None);
    let recipient = Recipient { member_id: "42", email: "jeanne@example.org", outbox_id: 9 };
    let media = Media::Linked { url: "https://m.pcf.test/relais/courriel/media/jeton".into() };
    let mail =
        message_mail(&site(), &keys, &list(), &m, Some("Réunion jeudi"), recipient, &media).expect("mail");
    insta::assert_snapshot!("message-mail", as_received(&mail));
}

#[test]
fn a_digest_of_two_rooms_as_a_subscriber_receives_it() {
    let keys = Keys::new(b"k");
    let other = MailList {
        room_id: "!f:pcf.test".into(),
        localpart: "nord".into(),
        name: "Fédération du Nord".into(),
        ..list()
    };
    let (lille, nord) = (list(), other);
    let (a, b, c) =
        (message("$a", 1, None, None), message("$b", 2, Some("$a"), None), message("$c", 3, None, None));
    let sections = [
        DigestSection { list: &lille, messages: vec![&a, &b] },
        DigestSection { list: &nord, messages: vec![&c] },
    ];
    let recipient = Recipient { member_id: "42", email: "jeanne@example.org", outbox_id: 10 };
    let mail = digest_mail(&site(), &keys, DeliveryMode::Daily, 5, &sections, recipient).expect("digest");
    insta::assert_snapshot!("daily-digest", as_received(&mail));
}
