//! Every text a member reads from the mail bridge in the rooms and in bounces, in French.

use relais_core::config::DeliveryMode;

pub fn mode_label(mode: DeliveryMode) -> &'static str {
    match mode {
        DeliveryMode::Message => "chaque message",
        DeliveryMode::Daily => "un résumé par jour",
        DeliveryMode::Weekly => "un résumé par semaine",
        DeliveryMode::None => "rien",
    }
}

/// `!courriel abonner [chaque|quotidien|hebdo]`'s argument.
pub fn parse_mode(word: Option<&str>) -> Option<DeliveryMode> {
    match word.map(str::to_lowercase).as_deref() {
        None | Some("chaque" | "message" | "messages" | "each") => Some(DeliveryMode::Message),
        Some("quotidien" | "jour" | "daily") => Some(DeliveryMode::Daily),
        Some("hebdo" | "hebdomadaire" | "semaine" | "weekly") => Some(DeliveryMode::Weekly),
        _ => None,
    }
}

pub fn usage() -> String {
    "Usage : !courriel abonner [chaque|quotidien|hebdo] · !courriel désabonner · !courriel état · \
     !courriel activer / désactiver (modérateurs)"
        .to_owned()
}

pub fn subscribed(address: &str, mode: DeliveryMode) -> String {
    format!(
        "C'est noté : vous recevrez {} de ce salon par courriel ({address}). Répondre au courriel publie votre réponse ici.",
        mode_label(mode)
    )
}

pub fn unsubscribed() -> String {
    "C'est noté : vous ne recevrez plus ce salon par courriel.".to_owned()
}

pub fn not_a_member() -> String {
    "Je ne trouve pas votre adhésion liée à ce compte : l'abonnement par courriel utilise l'adresse du fichier \
     des adhérents. Demandez à votre référent(e) numérique de renseigner votre identifiant Matrix."
        .to_owned()
}

pub fn not_a_list() -> String {
    "Ce salon n'est pas diffusé par courriel. Un(e) modérateur(trice) peut l'activer avec !courriel activer."
        .to_owned()
}

pub fn no_bridge() -> String {
    "La passerelle courriel n'est pas configurée sur ce serveur.".to_owned()
}

/// The answer to `!courriel` in an end-to-end-encrypted room.
pub fn encrypted_room() -> String {
    "Ce salon est chiffré de bout en bout : ses messages ne sont pas envoyés par courriel, pour \
     qu'ils restent lisibles par ses seuls membres. Pour une liste de diffusion, utilisez un salon \
     non chiffré."
        .to_owned()
}

pub fn moderators_only() -> String {
    "Seuls les modérateurs du salon peuvent activer ou désactiver la diffusion par courriel.".to_owned()
}

pub fn enabled(address: &str) -> String {
    format!("La diffusion par courriel est activée : la liste de ce salon est {address}.")
}

pub fn disabled() -> String {
    "La diffusion par courriel de ce salon est désactivée.".to_owned()
}

pub fn status(address: &str, mode: Option<DeliveryMode>) -> String {
    match mode {
        Some(mode) if mode != DeliveryMode::None => {
            format!("Liste de ce salon : {address}. Vous recevez {} par courriel.", mode_label(mode))
        }
        _ => {
            format!("Liste de ce salon : {address}. Vous ne la recevez pas par courriel (!courriel abonner).")
        }
    }
}

/// Bounce texts: why a mail was not posted, and what to do.
/// A mail to postmaster passed on to `[mail] postmaster`.
pub mod postmaster {
    pub fn subject(domain: &str) -> String {
        format!("Courriel pour postmaster@{domain}")
    }

    pub fn body(rcpt: &str, sender: &str) -> String {
        format!(
            "Bonjour,\n\nCe courriel a été reçu pour {rcpt} (expéditeur de l'enveloppe : {sender}). \
             Relais ne le traite pas : il est joint tel quel.\n\n-- \nRelais\n"
        )
    }
}
