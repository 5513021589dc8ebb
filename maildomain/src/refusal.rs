//! Why a received mail was not posted, in French: what its sender reads in the answer.

pub const SUBJECT: &str = "Votre message n'a pas été publié";

pub fn body(reason: &str) -> String {
    format!(
        "Bonjour,\n\nVotre courriel n'a pas été publié dans le salon : {reason}\n\n\
         Pour écrire dans un salon par courriel, répondez à un message reçu de la liste, depuis l'adresse \
         à laquelle vous l'avez reçu. Votre référent(e) numérique peut vous aider.\n\n-- \nRelais\n"
    )
}

pub const NOT_SUBSCRIBED: &str = "vous n'êtes pas (ou plus) abonné(e) à cette liste.";
pub const WRONG_SENDER: &str = "l'adresse d'expédition ne correspond pas à celle de l'abonné(e).";
pub const NOT_AUTHENTICATED: &str =
    "votre fournisseur de messagerie n'a pas pu prouver que ce courriel vient bien de vous (SPF/DKIM/DMARC).";
pub const BAD_KEY: &str = "l'adresse de réponse est incorrecte ou a été modifiée.";
pub const BARE_LIST: &str = "les messages envoyés directement à l'adresse de la liste ne sont pas publiés.";
pub const EMPTY: &str = "il ne contient pas de texte nouveau (seulement une citation ou une signature).";
pub const UNREADABLE: &str = "il n'a pas pu être lu (format de courriel invalide).";

pub fn too_big(limit_mb: u64) -> String {
    format!("il est trop volumineux (limite : {limit_mb} Mo, pièces jointes comprises).")
}

/// To the authenticated sender of a mail held after failed attempts at processing it.
pub const HELD: &str = "Bonjour,\n\nVotre courriel n'a pas pu être traité : il n'a pas été publié dans le salon \
     et, par précaution, il a été effacé.\n\nVous pouvez le renvoyer en texte simple, sans mise en forme. \
     Si le problème se répète, votre référent(e) numérique peut vous aider.\n\n-- \nRelais\n";

pub const UNSUBSCRIBED_SUBJECT: &str = "Désabonnement confirmé";
pub const UNSUBSCRIBED: &str = "Bonjour,\n\nC'est noté : vous ne recevrez plus cette liste par courriel. \
     Vous pouvez vous réabonner depuis la page de préférences indiquée dans chaque courriel.\n\n-- \nRelais\n";
