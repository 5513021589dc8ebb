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
        name: "courriel",
        aliases: &["email"],
        usage: "!courriel abonner|désabonner|état",
        summary: "recevoir ce salon par courriel et y répondre par courriel (modérateurs : activer|désactiver)",
    },
];

pub fn help() -> String {
    let mut out = String::from("Commandes disponibles ici :\n");
    for c in COMMANDS {
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
