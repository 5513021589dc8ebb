use super::*;
use crate::model::{Contact, Role};

fn ok(text: &[u8]) -> ReadReport {
    read(text).expect("file reads")
}

#[test]
fn reads_the_shipped_sample() {
    let report = ok(include_bytes!("../../../tests/data/members.csv"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.rows.len(), 8);
    assert_eq!(report.separator, ';');
    assert_eq!(report.ignored_columns, ["Téléphone", "Date de naissance"]);
    let camille = &report.rows[0];
    assert_eq!(camille.member_id, "000123", "leading zeros kept");
    assert_eq!(camille.line, 2);
    assert_eq!(camille.roles, [Role::FederationSecretary, Role::DigitalReferent]);
}

#[test]
fn windows_1252_crlf_commas_quotes_and_english_headers_in_any_order() {
    let text = b"Email,federation,member_id,First_Name,Last Name,ACTIVE,cell,Section\r\n\
        jean@example.org,\" Nord \",007,\"Jean, dit \"\"Jeannot\"\"\",Dupr\xe9,YES,,Lille\r\n\
        \"multi\r\nline\"@example.org,Paris,008,Ana,B,no,,\r\n";
    let report = ok(text);
    assert_eq!(report.encoding, Encoding::Windows1252);
    assert_eq!(report.separator, ',');
    assert_eq!(report.rows[0].first_name, "Jean, dit \"Jeannot\"");
    assert_eq!(report.rows[0].last_name, "Dupré");
    assert_eq!(report.rows[0].federation, "Nord");
    assert_eq!(report.rows[0].member_id, "007");
    assert!(report.rows[0].active);
    // The quoted address spans two physical lines: an invalid address for an email-only member.
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].line, 3, "{:?}", report.errors);
}

#[test]
fn bad_rows_are_reported_by_line_and_freeze_their_member() {
    let text = "N° adhérent;Fédération;Courriel;Identifiant Matrix;Cotisation à jour;Préférence de contact\n\
        1;Nord;a@example.org;;oui;\n\
        2;;b@example.org;;oui;\n\
        ;Nord;c@example.org;;oui;\n\
        3;Nord;pas-une-adresse;;oui;courriel\n\
        4;Nord;;camille;oui;\n\
        5;Nord;e@example.org;;peut-être;\n\
        6;Nord;f@example.org;;oui;\n\
        6;Paris;f@example.org;;oui;\n\
        7;Nord;g@example.org;;oui;pigeon\n\
        8;Nord;mauvaise;@h:pcf.test;oui;messagerie\n";
    let report = ok(text.as_bytes());
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9, 10]);
    assert!(report.errors[0].message.contains("fédération manquante"));
    assert!(report.errors[1].message.contains("numéro d'adhérent manquant"));
    assert!(report.errors[2].message.contains("courriel invalide"));
    assert!(report.errors[3].message.contains("identifiant Matrix invalide"));
    assert!(report.errors[5].message.contains("en double"));
    assert!(report.errors[6].message.contains("en double"));
    let ids: Vec<&str> = report.rows.iter().map(|r| r.member_id.as_str()).collect();
    assert_eq!(ids, ["1", "8"], "a bad address is ignored for a chat member");
    assert!(report.rows[1].email.is_none());
    let frozen: Vec<&str> = report.frozen_ids.iter().map(String::as_str).collect();
    assert_eq!(frozen, ["2", "3", "4", "5", "6", "7"]);
}

#[test]
fn missing_required_columns_and_empty_files_fail_whole() {
    assert!(matches!(read(b""), Err(FileError::Empty)));
    assert!(matches!(read("\u{feff}\r\n".as_bytes()), Err(FileError::Empty)));
    let err = read(b"Nom;Prenom\nA;B\n").expect_err("no id column");
    assert!(err.to_string().contains("N° adhérent"), "{err}");
    let err = read(b"id;Nom\n1;A\n").expect_err("no federation column");
    assert!(err.to_string().contains("Fédération"), "{err}");
    let err = read(b"id;federation;ID\n1;A;2\n").expect_err("twice");
    assert!(err.to_string().contains("deux fois"), "{err}");
}

#[test]
fn contact_preferences_decide_email_subscription() {
    let text = "id;federation;email;matrix_id;contact\n\
        1;Nord;a@example.org;@a:pcf.test;\n\
        2;Nord;b@example.org;@b:pcf.test;courriel\n\
        3;Nord;c@example.org;;\n\
        4;Nord;d@example.org;;aucun\n";
    let report = ok(text.as_bytes());
    let subs: Vec<bool> = report.rows.iter().map(MemberRow::is_email_subscriber).collect();
    assert_eq!(subs, [false, true, true, false]);
    assert_eq!(report.rows[3].contact, Contact::None);
}
