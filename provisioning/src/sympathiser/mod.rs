//! Sympathisers: people who sign up on the public page to follow the party's campaigns. Pure:
//! the form's checks, the federation a postcode leads to, the confirmation mail. The page does
//! the I/O; the record is `store::sympathiser`.

mod departements;

pub use departements::{DEPARTEMENTS, departement};

use std::collections::{BTreeMap, BTreeSet};

use ruma::OwnedUserId;

use crate::{
    model::MemberRow,
    plan::Recorded,
    store::sympathiser::SympathiserAccount,
    text::{fold, slug},
};

/// How long a confirmation link works; an unconfirmed sign-up is forgotten after it.
pub const CONFIRM_HOURS: i64 = 48;
/// A sign-up for the same address mails its link again at most this often.
pub const RESEND_MINUTES: i64 = 10;

/// A sign-up form, as checked: every field bounded and trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUp {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// The postcode's département (code, name); the postcode itself is not kept.
    pub departement: (&'static str, &'static str),
    pub wants_help: bool,
    pub wants_join: bool,
}

/// What the form received, as typed.
#[derive(Debug, Clone, Default)]
pub struct SignUpInput<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    pub postcode: &'a str,
    pub wants_help: bool,
    pub wants_join: bool,
    pub consent: bool,
    /// Whether a charter is asked, and whether it was accepted.
    pub charter_asked: bool,
    pub charter: bool,
}

/// Checks the form; the error is French, shown above the form (which keeps what was typed).
pub fn check(input: &SignUpInput<'_>) -> Result<SignUp, String> {
    let name = |value: &str, what: &str| -> Result<String, String> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > 60 || value.chars().any(char::is_control) {
            return Err(format!("Indiquez votre {what} (60 caractères au plus)."));
        }
        Ok(value.to_owned())
    };
    let first_name = name(input.first_name, "prénom")?;
    let last_name = name(input.last_name, "nom")?;
    let email = check_email(input.email)
        .ok_or_else(|| "Cette adresse électronique n'est pas valide : vérifiez-la.".to_owned())?;
    let departement = departement(input.postcode)
        .ok_or_else(|| "Indiquez un code postal français à cinq chiffres, par exemple 59000.".to_owned())?;
    if !input.consent {
        return Err("Cochez la case d'accord sur l'usage de vos données pour vous inscrire.".into());
    }
    if input.charter_asked && !input.charter {
        return Err("Pour rejoindre les salons publics, acceptez la charte.".into());
    }
    Ok(SignUp {
        first_name,
        last_name,
        email,
        departement,
        wants_help: input.wants_help,
        wants_join: input.wants_join,
    })
}

/// An address a mail server will take: one `@`, a dotted domain, no spaces or controls, at most
/// 254 characters. Returned trimmed; the domain lowercased.
pub fn check_email(email: &str) -> Option<String> {
    let email = email.trim();
    let (local, domain) = email.rsplit_once('@')?;
    // ASCII only, and nothing a mailto: link would read as more than an address (`?`, `&`, `%`, `#`).
    let fine = |c: char| c.is_ascii_graphic() && !"<>()[],;:\\\"?&%#".contains(c);
    let valid = email.is_ascii()
        && email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| fine(c) && c != '@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    valid.then(|| format!("{local}@{}", domain.to_lowercase()))
}

/// The key one address is known by (lowercase): one record per address, and how a member of
/// the file is matched with the sympathiser they were.
pub fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// The federation key a département leads to, if that federation exists (`federations`: the
/// federation keys Relais provisions).
pub fn federation_of<'a>(
    departement: &str,
    federations: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let wanted = slug(departement);
    federations.into_iter().find(|key| *key == wanted).map(str::to_owned)
}

/// The members of the file who signed up as sympathisers first, with the account they made
/// then: (member id, user id). A row is matched by the address the sympathiser confirmed and
/// the same first and last names (case and accents aside: a household's shared mailbox does
/// not hand one person's account to another), only when it has no Matrix id and no account
/// yet, holds no office, and when no other row of the file shares the address; an account
/// already standing for a member links no one else.
pub fn links(
    rows: &[MemberRow],
    recorded: &Recorded,
    accounts: &[SympathiserAccount],
) -> Vec<(String, OwnedUserId)> {
    let mut by_address: BTreeMap<String, Vec<&MemberRow>> = BTreeMap::new();
    for row in rows {
        if let Some(email) = &row.email {
            by_address.entry(email_key(email)).or_default().push(row);
        }
    }
    let taken: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.matrix_id.as_deref())
        .chain(recorded.members.values().filter_map(|m| m.matrix_id.as_deref()))
        .chain(recorded.linked.values().map(|u| &**u))
        .map(ruma::UserId::as_str)
        .collect();
    let mut out = Vec::new();
    for account in accounts {
        let Some([row]) = by_address.get(&account.email_key).map(Vec::as_slice) else { continue };
        let Ok(user) = OwnedUserId::try_from(account.user_id.as_str()) else { continue };
        let same_person = fold(&row.first_name) == fold(&account.first_name)
            && fold(&row.last_name) == fold(&account.last_name);
        // An office holder (moderator powers) gets the usual invitation, never an account by
        // address and names alone.
        if same_person
            && row.roles.is_empty()
            && row.matrix_id.is_none()
            && !recorded.linked.contains_key(&row.member_id)
            && !taken.contains(user.as_str())
        {
            out.push((row.member_id.clone(), user));
        }
    }
    out
}

/// The confirmation mail (subject, text, HTML), in French. Nothing the form received is in it
/// but the link: whoever typed someone else's address writes them nothing of their own.
pub fn confirmation_email(link: &str) -> (String, String, String) {
    let subject = "Confirmez votre inscription".to_owned();
    let text = format!(
        "Bonjour,\n\n\
         Merci de votre intérêt pour le Parti. Pour confirmer votre adresse et créer votre compte sur \
         la messagerie (salons publics de campagne), ouvrez ce lien, valable {CONFIRM_HOURS} heures :\n\
         {link}\n\n\
         Si vous n'avez rien demandé, ignorez ce message : sans confirmation, votre adresse est \
         effacée d'ici {CONFIRM_HOURS} heures.\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"fr\"><body style=\"font-family:sans-serif;max-width:36em\">\
         <p>Bonjour,</p><p>Merci de votre intérêt pour le Parti. Pour confirmer votre adresse et créer \
         votre compte sur la messagerie (salons publics de campagne) :</p>\
         <p><a href=\"{}\" style=\"background:#d40000;color:#fff;padding:.6em 1em;text-decoration:none;border-radius:4px\">\
         Confirmer mon inscription</a></p><p>Ce lien est valable {CONFIRM_HOURS} heures.</p>\
         <p>Si vous n'avez rien demandé, ignorez ce message : sans confirmation, votre adresse est effacée \
         d'ici {CONFIRM_HOURS} heures.</p></body></html>",
        crate::onboarding::escape(link)
    );
    (subject, text, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SignUpInput<'static> {
        SignUpInput {
            first_name: " Camille ",
            last_name: "Martin",
            email: "Camille.Martin@Example.ORG ",
            postcode: "59000",
            wants_help: true,
            consent: true,
            ..SignUpInput::default()
        }
    }

    #[test]
    fn a_good_form_is_trimmed_and_the_postcode_names_its_departement() {
        let checked = check(&input()).expect("valid");
        assert_eq!(checked.first_name, "Camille");
        assert_eq!(checked.email, "Camille.Martin@example.org");
        assert_eq!(checked.departement, ("59", "Nord"));
        assert!(checked.wants_help && !checked.wants_join);
        assert_eq!(email_key(&checked.email), "camille.martin@example.org");
    }

    #[test]
    fn every_missing_or_hostile_field_gets_a_french_error() {
        let cases: Vec<SignUpInput<'static>> = vec![
            SignUpInput { first_name: "  ", ..input() },
            SignUpInput { last_name: "a\u{0}b", ..input() },
            SignUpInput { first_name: "x".repeat(61).leak(), ..input() },
            SignUpInput { email: "pas-une-adresse", ..input() },
            SignUpInput { email: "a b@example.org", ..input() },
            SignUpInput { email: "a@example", ..input() },
            SignUpInput { email: "a@exa mple.org", ..input() },
            SignUpInput { email: "\"x\"@example.org", ..input() },
            SignUpInput { email: "a@example.org\r\nBcc: b@example.org", ..input() },
            SignUpInput { email: "x?cc=spy%40evil.fr&b=@example.org", ..input() },
            SignUpInput { email: "\u{212a}elvin@example.org", ..input() },
            SignUpInput { postcode: "1234", ..input() },
            SignUpInput { consent: false, ..input() },
            SignUpInput { charter_asked: true, charter: false, ..input() },
        ];
        for case in cases {
            let error = check(&case).expect_err("refused");
            assert!(!error.is_empty() && error.ends_with('.'), "{error}");
        }
        assert!(check(&SignUpInput { charter_asked: true, charter: true, ..input() }).is_ok());
    }

    #[test]
    fn a_departement_leads_to_its_federation_only_if_it_exists() {
        let feds = ["nord", "isere", "bouches-du-rhone"];
        assert_eq!(federation_of("Isère", feds), Some("isere".into()));
        assert_eq!(federation_of("Bouches-du-Rhône", feds), Some("bouches-du-rhone".into()));
        assert_eq!(federation_of("Paris", feds), None);
    }

    #[test]
    fn a_sympathiser_becomes_the_member_of_their_address_without_a_second_account() {
        let file = "id;prénom;nom;federation;active;matrix_id;email\n\
                    1;Camille;Martin;Nord;oui;;camille@example.org\n\
                    2;Dom;Petit;Nord;oui;@dom:pcf.test;dominique@example.org\n\
                    3;Ali;Roux;Nord;oui;;foyer@example.org\n\
                    4;Zoé;Roux;Nord;oui;;FOYER@example.org\n\
                    5;Eli;Blanc;Nord;oui;;eli@example.org\n\
                    6;Hélène;Durand;Nord;oui;;maison@example.org\n";
        let rows = crate::reader::read(file.as_bytes()).expect("reads").rows;
        let mut recorded = Recorded::default();
        recorded.linked.insert("5".into(), ruma::owned_user_id!("@eli:pcf.test"));
        let accounts = |entries: &[(&str, &str, &str, &str)]| -> Vec<SympathiserAccount> {
            entries
                .iter()
                .map(|(address, user, first, last)| SympathiserAccount {
                    email_key: (*address).to_owned(),
                    user_id: (*user).to_owned(),
                    first_name: (*first).to_owned(),
                    last_name: (*last).to_owned(),
                })
                .collect()
        };
        let found = links(
            &rows,
            &recorded,
            &accounts(&[
                // Names as typed on the sign-up page: case and accents aside, the same.
                ("camille@example.org", "@camille:pcf.test", "camille", "MARTIN"),
                // Has a Matrix id in the file already: theirs stands.
                ("dominique@example.org", "@dom2:pcf.test", "Dom", "Petit"),
                // Two members share the mailbox: nobody is linked.
                ("foyer@example.org", "@foyer:pcf.test", "Ali", "Roux"),
                // Already has the account of an invitation.
                ("eli@example.org", "@eli2:pcf.test", "Eli", "Blanc"),
                // A household's mailbox: the sympathiser is not the member who has it.
                ("maison@example.org", "@jean:pcf.test", "Jean", "Durand"),
                ("inconnu@example.org", "@x:pcf.test", "X", "Y"),
                ("bad@example.org", "not a user id", "Bad", "Id"),
            ]),
        );
        assert_eq!(found, [("1".to_owned(), ruma::owned_user_id!("@camille:pcf.test"))]);
        // An office holder gets the usual invitation, never an account by address and names.
        let officer = "id;prénom;nom;federation;active;email;responsabilités\n\
                       8;Rita;Vert;Nord;oui;rita@example.org;Référente numérique\n";
        let officer = crate::reader::read(officer.as_bytes()).expect("reads").rows;
        let rita = accounts(&[("rita@example.org", "@rita:pcf.test", "Rita", "Vert")]);
        assert!(links(&officer, &recorded, &rita).is_empty());
        // An account that already stands for a member links no one else.
        let taken = links(
            &rows,
            &recorded,
            &accounts(&[("camille@example.org", "@dom:pcf.test", "Camille", "Martin")]),
        );
        assert!(taken.is_empty());
    }

    #[test]
    fn the_confirmation_mail_carries_the_link_and_nothing_typed() {
        let (_, text, html) = confirmation_email("https://x/relais/rejoindre/t?a=<b>");
        assert!(text.contains("https://x/relais/rejoindre/t"));
        assert!(html.contains("t?a=&lt;b&gt;") && !html.contains("<b>"));
        assert!(text.starts_with("Bonjour,\n"));
    }
}
