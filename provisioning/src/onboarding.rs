//! Onboarding of members without a Matrix account: the invitation email, the token, and the
//! checks of the account form. Pure; the web page and the executor do the I/O.

use sha2::{Digest, Sha256};

/// A fresh random token (256 bits, hex) for an invitation link.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A provisional password a referent hands over on paper or reads out: 16 characters in four
/// groups, from letters and digits that cannot be mistaken for one another (about 79 bits).
pub fn provisional_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let picks: [u32; 16] = rand::random();
    let chars: Vec<char> = picks.iter().map(|n| char::from(ALPHABET[*n as usize % ALPHABET.len()])).collect();
    chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// The letters and digits of a printed invitation code: none that reads as another (no 0/O,
/// 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 12;

/// A printed invitation's code, as the invitation's token: 12 characters a person types from
/// paper (about 59 bits; the page that takes it is rate-limited per client address).
pub fn letter_code() -> String {
    let picks: [u32; CODE_LEN] = rand::random();
    picks.iter().map(|n| char::from(CODE_ALPHABET[*n as usize % CODE_ALPHABET.len()])).collect()
}

/// A code as typed (any case, spaces or dashes between groups) in its canonical form; `None`
/// when it cannot be one.
pub fn normalize_code(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// A code as printed: three groups of four.
pub fn display_code(code: &str) -> String {
    code.as_bytes().chunks(4).map(|g| String::from_utf8_lossy(g).into_owned()).collect::<Vec<_>>().join("-")
}

/// What the store keeps of a token: its SHA-256, so a database leak reveals no usable link.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The invitation email (subject, text, HTML), in French.
pub fn invitation_email(
    first_name: &str,
    federation: &str,
    link: &str,
    days: u32,
) -> (String, String, String) {
    let hello = if first_name.is_empty() { "Bonjour,".to_owned() } else { format!("Bonjour {first_name},") };
    let subject = "Votre invitation à la messagerie du Parti".to_owned();
    let text = format!(
        "{hello}\n\n\
         La fédération {federation} vous invite à rejoindre la messagerie du Parti, où se retrouvent \
         votre fédération, votre section et votre cellule.\n\n\
         Pour créer votre compte, ouvrez ce lien (valable {days} jours, utilisable une seule fois) :\n\
         {link}\n\n\
         Vous y choisirez un nom d'utilisateur et un mot de passe. Ensuite, installez l'application \
         Element sur votre téléphone ou votre ordinateur et connectez-vous : vos salons vous y attendent.\n\n\
         Si vous préférez ne pas utiliser la messagerie, ignorez ce message : vous continuerez à \
         recevoir les informations de votre fédération par courriel.\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"fr\"><body style=\"font-family:sans-serif;max-width:36em\">\
         <p>{}</p><p>La fédération {} vous invite à rejoindre la messagerie du Parti, où se retrouvent \
         votre fédération, votre section et votre cellule.</p>\
         <p><a href=\"{}\" style=\"background:#d40000;color:#fff;padding:.6em 1em;text-decoration:none;border-radius:4px\">\
         Créer mon compte</a></p><p>Ce lien est valable {days} jours et ne sert qu'une fois.</p>\
         <p>Si vous préférez ne pas utiliser la messagerie, ignorez ce message : vous continuerez à recevoir \
         les informations de votre fédération par courriel.</p></body></html>",
        escape(&hello),
        escape(federation),
        escape(link)
    );
    (subject, text, html)
}

pub use relais_core::html::escape;

/// A suggested user name from the member's name (`Camille Martin` → `camille.martin`).
pub fn suggested_username(first_name: &str, last_name: &str) -> String {
    let name = format!("{} {}", crate::text::slug(first_name), crate::text::slug(last_name));
    crate::text::slug(&name).replace('-', ".")
}

/// Checks a chosen user name; `reserved` are the prefixes of the appservice's users. The error
/// is French, shown on the form.
pub fn check_username(name: &str, reserved: &[&str]) -> Result<String, String> {
    let name = name.trim().trim_start_matches('@').to_lowercase();
    if !(3..=32).contains(&name.chars().count()) {
        return Err("Le nom d'utilisateur doit faire entre 3 et 32 caractères.".into());
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)) {
        return Err("Le nom d'utilisateur ne peut contenir que des lettres sans accent, des chiffres, « . », « _ » ou « - ».".into());
    }
    if reserved.iter().any(|p| name.starts_with(p)) {
        return Err("Ce nom d'utilisateur est réservé : choisissez-en un autre.".into());
    }
    Ok(name)
}

/// Checks a chosen password and its confirmation.
pub fn check_password(password: &str, confirmation: &str) -> Result<(), String> {
    if password != confirmation {
        return Err("Les deux mots de passe ne sont pas identiques.".into());
    }
    if password.chars().count() < 10 {
        return Err("Le mot de passe doit faire au moins 10 caractères.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_code_is_typed_back_whatever_the_case_and_dashes() {
        let code = letter_code();
        assert_eq!(code.len(), 12);
        let printed = display_code(&code);
        assert_eq!(printed.len(), 14, "{printed}");
        assert_eq!(normalize_code(&printed.to_lowercase()), Some(code.clone()));
        assert_eq!(normalize_code(&format!(" {} ", printed.replace('-', " "))), Some(code.clone()));
        assert_eq!(normalize_code("K7QF-2M9X-AB1"), None, "too short");
        assert_eq!(normalize_code("K7QF-2M9X-AB10"), None, "0 and 1 are never printed");
        assert_eq!(normalize_code(&"a".repeat(64)), None, "a mailed link's token is no code");
        assert_ne!(code, letter_code());
    }

    #[test]
    fn provisional_passwords_are_long_unambiguous_and_differ() {
        let a = provisional_password();
        assert_eq!(a.len(), 19, "{a}");
        assert_eq!(a.split('-').count(), 4);
        assert!(a.chars().all(|c| c == '-' || (c.is_ascii_alphanumeric() && !"01ilo".contains(c))), "{a}");
        assert_ne!(a, provisional_password());
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn the_email_carries_the_link_and_escapes_html() {
        let (subject, text, html) = invitation_email("Camille", "Nord <&>", "https://x/inscription/t", 14);
        assert!(subject.contains("invitation"));
        assert!(text.contains("https://x/inscription/t") && text.contains("14 jours"));
        assert!(html.contains("Nord &lt;&amp;&gt;"));
    }

    #[test]
    fn usernames_and_passwords_are_checked_in_french() {
        assert_eq!(suggested_username("Inès", "Le Moreau"), "ines.le.moreau");
        assert_eq!(check_username(" @Camille.Martin ", &["relais"]), Ok("camille.martin".into()));
        assert!(check_username("ab", &[]).is_err());
        assert!(check_username("élodie", &[]).is_err());
        assert!(check_username("relais_x", &["relais"]).is_err());
        assert!(check_password("0123456789", "0123456789").is_ok());
        assert!(check_password("court", "court").is_err());
        assert!(check_password("0123456789", "0123456788").is_err());
    }
}
