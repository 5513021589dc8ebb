//! Every text a member reads from the bots, in French, in one place (ready for translation).

/// A command the bot knows, as `!aide` lists it.
#[derive(Debug, Clone, Copy)]
pub struct CommandHelp {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub summary: &'static str,
}

pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "aide",
        aliases: &["help"],
        usage: "!aide",
        summary: "affiche les commandes disponibles ici",
    },
    CommandHelp { name: "ping", aliases: &[], usage: "!ping", summary: "vérifie que Relais répond" },
    CommandHelp {
        name: "sondage",
        aliases: &["poll"],
        usage: "!sondage \"Question ?\" \"Réponse A\" \"Réponse B\" [--choix N] [--jusqu'à \"AAAA-MM-JJ HH:MM\"] [--quorum N|N%] [--majorité simple|absolue|2/3] · !sondage clore",
        summary: "ouvre un sondage que les membres votent avec Element ; les votants sont les adhérents du salon",
    },
    CommandHelp {
        name: "diffuser",
        aliases: &["broadcast"],
        usage: "!diffuser --fédérations Nord,Paris | --toutes [--à \"18:30\"] (en réponse à un message)",
        summary: "salon national de communication : copie le message dans les salons d'annonces des fédérations",
    },
    CommandHelp {
        name: "courriel",
        aliases: &["email"],
        usage: "!courriel abonner|désabonner|état",
        summary: "recevoir ce salon par courriel et y répondre par courriel (modérateurs : activer|désactiver)",
    },
];

pub fn help() -> String {
    help_for(false)
}

/// `!aide` for one sender in one room: `!diffuser` only for the national communication room's
/// moderators, where it can be used.
pub fn help_for(may_broadcast: bool) -> String {
    let mut out = String::from("Commandes disponibles ici :\n");
    for c in COMMANDS.iter().filter(|c| c.name != "diffuser" || may_broadcast) {
        out.push_str(&format!("• {} — {}\n", c.usage, c.summary));
    }
    out.push_str("Les arguments qui contiennent des espaces se mettent entre guillemets.");
    out
}

pub fn pong() -> String {
    "Pong ! Relais est en ligne et a bien reçu votre message.".to_owned()
}

pub fn unknown_command(name: &str) -> String {
    format!("Commande inconnue : !{name}. Tapez !aide pour voir les commandes disponibles.")
}

pub fn unterminated_quote() -> String {
    "Un guillemet n'est pas refermé dans votre commande. Exemple : !sondage \"Quelle date ?\" \"Le 12\" \"Le 19\"".to_owned()
}

/// The canonical name for `typed` (French name or English alias).
pub fn resolve(typed: &str) -> Option<&'static CommandHelp> {
    COMMANDS.iter().find(|c| c.name == typed || c.aliases.contains(&typed))
}

pub fn poll_usage() -> String {
    "Exemple : !sondage \"Date de l'AG ?\" \"Le 12\" \"Le 19\" --jusqu'à \"2026-12-01 18:00\" --quorum 25%"
        .to_owned()
}

pub fn secret_not_ready() -> String {
    "Le vote à bulletin secret n'est pas encore disponible : ce sondage n'a pas été ouvert. Sans --secret, les \
     réponses sont visibles de tous dans le salon."
        .to_owned()
}

pub fn poll_opened(voters: usize, deadline: Option<&str>) -> String {
    let closing = match deadline {
        Some(at) => format!(" Clôture automatique le {at}."),
        None => " Clôture par son auteur ou un modérateur avec !sondage clore.".to_owned(),
    };
    format!(
        "Sondage ouvert. Liste des votants arrêtée à l'ouverture : {voters} adhérent(s) de ce salon. Les réponses \
         d'autres personnes ne sont pas comptées ; on peut changer son vote jusqu'à la clôture.{closing}"
    )
}

pub fn no_open_poll() -> String {
    "Aucun sondage ouvert dans ce salon.".to_owned()
}

pub fn poll_close_refused() -> String {
    "Seuls l'auteur du sondage et les modérateurs du salon peuvent le clore.".to_owned()
}

pub fn poll_closed() -> String {
    "Sondage clos : les résultats sont affichés sur le sondage.".to_owned()
}

pub fn poll_reminder(question: &str, at: &str) -> String {
    format!("Rappel : le sondage « {question} » se termine le {at}. Pensez à voter.")
}

/// Broadcast texts.
pub mod broadcast {
    pub fn usage() -> String {
        "Usage : répondez au message à diffuser par !diffuser --fédérations Nord,Paris (ou --toutes), \
         éventuellement --à \"18:30\"."
            .to_owned()
    }
    pub fn wrong_room() -> String {
        "!diffuser s'utilise dans le salon national de communication.".to_owned()
    }
    pub fn refused() -> String {
        "Seuls les modérateurs du salon national de communication peuvent diffuser.".to_owned()
    }
    pub fn not_a_reply() -> String {
        "Répondez au message à diffuser (clic sur « Répondre »), en tapant !diffuser dans la réponse."
            .to_owned()
    }
    pub fn unknown_federations(names: &[String]) -> String {
        format!("Fédération(s) inconnue(s) : {}. Rien n'a été diffusé.", names.join(", "))
    }
    pub fn bad_time() -> String {
        "--à attend une heure « 18:30 », une date « AAAA-MM-JJ HH:MM » (heure de Paris) ou un délai « 30min ».".to_owned()
    }
    pub fn sent(delivered: i64, total: i64) -> String {
        format!("Diffusé dans {delivered} salon(s) d'annonces sur {total}.")
    }
    pub fn scheduled(rooms: usize, at: &str) -> String {
        format!("Diffusion programmée le {at} vers {rooms} salon(s) d'annonces.")
    }
}
