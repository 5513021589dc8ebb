use super::*;

#[test]
fn dsn_hard_soft_and_delayed() {
    let hard = "Reporting-MTA: dns; mx.pcf.fr\r\nArrival-Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n\r\n\
                Final-Recipient: rfc822; a@example.org\r\nOriginal-Recipient: rfc822;a@example.org\r\n\
                Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.org\r\n\
                Diagnostic-Code: smtp; 550 5.1.1 <a@example.org>: Recipient address rejected:\r\n    \
                User unknown in virtual mailbox table\r\n";
    assert_eq!(classify_dsn(hard), Some(BounceKind::Hard));
    let delayed = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b\nAction: delayed\nStatus: 4.4.1\n";
    assert_eq!(classify_dsn(delayed), Some(BounceKind::Soft));
    let expired = "Final-Recipient: rfc822; a@b\nAction: failed\nStatus: 4.4.7 (delivery time expired)\n";
    assert_eq!(classify_dsn(expired), Some(BounceKind::Soft));
    let full = "Action: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n";
    assert_eq!(classify_dsn(full), Some(BounceKind::Soft), "RFC 3463: X.2.2 is transient");
    let upper = "ACTION: Failed (permanent)\nSTATUS: 5.7.1\n";
    assert_eq!(classify_dsn(upper), Some(BounceKind::Hard));
    let diagnostic_only = "Action: failed\nStatus: unknown\nDiagnostic-Code: smtp; 550-5.1.1 \
                           The email account \
                           that you tried to reach does not exist.\n";
    assert_eq!(classify_dsn(diagnostic_only), Some(BounceKind::Hard));
    let reply_only = "Action: failed\nDiagnostic-Code: smtp; 451 Try later\n";
    assert_eq!(classify_dsn(reply_only), Some(BounceKind::Soft));
    let several = "Action: delayed\nStatus: 4.0.0\n\nAction: failed\nStatus: 5.0.0\n";
    assert_eq!(classify_dsn(several), Some(BounceKind::Hard));
}

#[test]
fn dsn_without_a_failure() {
    assert_eq!(classify_dsn("Reporting-MTA: dns; mx"), None);
    assert_eq!(classify_dsn(""), None);
    assert_eq!(classify_dsn("Action: delivered\nStatus: 2.0.0\n"), None);
    assert_eq!(classify_dsn("Action: relayed\nStatus: 5.0.0\n"), None);
    assert_eq!(classify_dsn("Action: failed\nStatus: garbage\n"), None);
    assert_eq!(classify_dsn("Action: failed\n"), None);
    assert_eq!(classify_dsn("Status: 5.1.10\n"), Some(BounceKind::Hard), "without Action");
    assert_eq!(classify_dsn("Status: 6.1.1\nAction: failed"), None);
    assert_eq!(classify_dsn("not a dsn at all\n\n\n"), None);
}

#[test]
fn text_bounce_heuristics() {
    let hard = |t: &str| assert_eq!(classify_text_bounce(t), Some(BounceKind::Hard), "{t}");
    let soft = |t: &str| assert_eq!(classify_text_bounce(t), Some(BounceKind::Soft), "{t}");
    hard("550 5.1.1 User unknown");
    hard("Adresse inconnue : votre message n'a pas pu être remis.");
    hard("L'adresse alice@example.org n\u{2019}existe pas.");
    hard("The email account that you tried to reach does not exist.");
    hard("Delivery has failed permanently to these recipients");
    hard("Remote Server returned '554 5.4.14 Hop count exceeded'");
    hard("host mx.example.org said: 550 Rejected");
    hard("Échec définitivement.");
    soft("Boîte pleine, réessayez plus tard");
    soft("Sa BOITE PLEINE ne peut plus recevoir de messages");
    soft("552-5.2.2 The email account that you tried to reach is over quota");
    soft("550 5.2.2 Mailbox full");
    soft("Delivery to the following recipient has been delayed.");
    soft("There was a temporary problem delivering your message. Gmail will retry for 46 more hours.");
    soft("Le serveur a répondu 451 4.7.1 please come back");
    soft("Remote said 452");
    assert_eq!(classify_text_bounce("Merci pour votre message"), None);
    assert_eq!(classify_text_bounce("Rendez-vous le 15.50 à 1550 ou à 12:55, IP 5.1.1.1"), None);
    assert_eq!(classify_text_bounce("Version 2.1.0 delivered"), None);
    assert_eq!(classify_text_bounce(""), None);
}
