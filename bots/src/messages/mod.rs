//! Every text a member reads from the bots, in French, in one place (ready for translation).

pub mod moderation;
pub mod theme;

/// Who may use a command, for `!aide` to list only what the sender may do where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Anyone,
    /// A moderator of the room.
    Moderator,
    /// A moderator of the national communication room, there.
    Broadcast,
    /// A moderator of the national selection room, there.
    Selection,
}

/// What the sender may do in the room where they asked for help.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowed {
    pub moderator: bool,
    pub broadcast: bool,
    pub selection: bool,
}

/// A command the bot knows, as `!aide` lists it.
#[derive(Debug, Clone, Copy)]
pub struct CommandHelp {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub summary: &'static str,
    pub needs: Needs,
}

pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "aide",
        aliases: &["help"],
        usage: "!aide",
        summary: "affiche les commandes disponibles ici",
        needs: Needs::Anyone,
    },
    CommandHelp {
        name: "ping",
        aliases: &[],
        usage: "!ping",
        summary: "vérifie que Relais répond",
        needs: Needs::Anyone,
    },
    CommandHelp {
        name: "sondage",
        aliases: &["poll"],
        usage: "!sondage \"Question ?\" \"Réponse A\" \"Réponse B\" [--choix N] [--jusqu'à \"AAAA-MM-JJ HH:MM\"] [--secret] [--congrès] [--quorum N|N%] [--majorité simple|absolue|2/3] · !sondage clore",
        summary: "ouvre un sondage que les membres votent avec Element ; les votants sont les adhérents du salon",
        needs: Needs::Anyone,
    },
    CommandHelp {
        name: "diffuser",
        aliases: &["broadcast"],
        usage: "!diffuser --fédérations Nord,Paris | --toutes [--sections Lille] [--rôle référent] [--à \"18:30\"] (en réponse à un message)",
        summary: "salon national de communication : copie le message dans les salons d'annonces des fédérations",
        needs: Needs::Broadcast,
    },
    CommandHelp {
        name: "proposer",
        aliases: &["propose"],
        usage: "!proposer (en réponse à un message)",
        summary: "modérateurs d'un salon de fédération : propose le message à la sélection nationale",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "retenir",
        aliases: &["keep"],
        usage: "!retenir (en réponse à une proposition) ou réaction 👍",
        summary: "salon national de sélection : retient la proposition pour la prochaine sélection",
        needs: Needs::Selection,
    },
    CommandHelp {
        name: "sélection",
        aliases: &["selection"],
        usage: "!sélection · !sélection publier [--à \"18:30\"]",
        summary: "salon national de sélection : liste les propositions retenues, les publie dans toutes les fédérations",
        needs: Needs::Selection,
    },
    CommandHelp {
        name: "compléter",
        aliases: &["completer", "complete"],
        usage: "!compléter \"note\" (en réponse à un message diffusé)",
        summary: "modérateurs : ajoute une note de la fédération à un message reçu de l'équipe nationale",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "stats",
        aliases: &["statistiques"],
        usage: "!stats",
        summary: "modérateurs : portée des derniers messages diffusés (salons, lecteurs, réactions, clics, courriels)",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "bannir",
        aliases: &["ban"],
        usage: "!bannir @identifiant:serveur [raison]",
        summary: "modérateurs de la fédération : retire et bannit la personne de tous les salons de l'espace",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "débannir",
        aliases: &["debannir", "unban"],
        usage: "!débannir @identifiant:serveur",
        summary: "modérateurs de la fédération : lève le bannissement dans tous les salons de l'espace",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "expulser",
        aliases: &["kick"],
        usage: "!expulser @identifiant:serveur [raison]",
        summary: "modérateurs de la fédération : retire la personne de tous les salons de l'espace",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "expurger",
        aliases: &["purge"],
        usage: "!expurger @identifiant:serveur [N]",
        summary: "modérateurs de la fédération : retire les N derniers messages de la personne dans tous les salons de l'espace",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "signaler",
        aliases: &["report"],
        usage: "!signaler (en réponse à un message)",
        summary: "transmet le message aux modérateurs de la fédération (votre commande est retirée du salon)",
        needs: Needs::Anyone,
    },
    CommandHelp {
        name: "salon",
        aliases: &["room"],
        usage: "!salon créer \"Nom\" [--public|--sur-demande] | modérateurs \"Nom\" @… | liste",
        summary: "modérateurs de la fédération : crée un salon thématique dans son espace, en choisit les modérateurs",
        needs: Needs::Moderator,
    },
    CommandHelp {
        name: "charte",
        aliases: &["charter"],
        usage: "!charte [accepter]",
        summary: "affiche la charte des espaces de discussion, ou enregistre que vous l'acceptez",
        needs: Needs::Anyone,
    },
    CommandHelp {
        name: "courriel",
        aliases: &["email"],
        usage: "!courriel abonner|désabonner|état",
        summary: "recevoir ce salon par courriel et y répondre par courriel (modérateurs : activer|désactiver)",
        needs: Needs::Anyone,
    },
];

pub fn help() -> String {
    help_for(Allowed::default())
}

/// `!aide` for one sender in one room: only the commands they may use there.
pub fn help_for(allowed: Allowed) -> String {
    let may = |needs: Needs| match needs {
        Needs::Anyone => true,
        Needs::Moderator => allowed.moderator,
        Needs::Broadcast => allowed.broadcast,
        Needs::Selection => allowed.selection,
    };
    let mut out = String::from("Commandes disponibles ici :\n");
    for c in COMMANDS.iter().filter(|c| may(c.needs)) {
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

pub fn unknown_option(name: &str) -> String {
    format!("Option inconnue : --{name}. Rien n'a été fait.")
}

pub fn unterminated_quote() -> String {
    "Un guillemet n'est pas refermé dans votre commande. Exemple : !sondage \"Quelle date ?\" \"Le 12\" \"Le 19\"".to_owned()
}

/// The canonical name for `typed` (French name or English alias; accents optional).
pub fn resolve(typed: &str) -> Option<&'static CommandHelp> {
    let folded = relais_core::text::fold(typed);
    COMMANDS
        .iter()
        .find(|c| c.name == typed || c.aliases.contains(&typed) || relais_core::text::fold(c.name) == folded)
}

pub fn poll_usage() -> String {
    "Exemple : !sondage \"Date de l'AG ?\" \"Le 12\" \"Le 19\" --jusqu'à \"2026-12-01 18:00\" --quorum 25%"
        .to_owned()
}

pub fn no_poll_in_public_rooms() -> String {
    "Les sondages se tiennent entre adhérents : ouvrez-le dans un salon de votre fédération ou de votre \
     section, pas dans un salon public."
        .to_owned()
}

pub fn no_mandates() -> String {
    "Mode congrès : aucun votant de ce salon n'a de mandat. Chargez d'abord le fichier des mandats \
     (relais congres mandats FICHIER) ; le vote n'a pas été ouvert."
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
    "Sondage clos : les résultats sont publiés dans le salon.".to_owned()
}

pub fn poll_reminder(question: &str, at: &str) -> String {
    format!("Rappel : le sondage « {question} » se termine le {at}. Pensez à voter.")
}

/// The answer when the message a command replies to is encrypted and its key never reached the
/// bot's device (or the bot has none).
pub fn unreadable_original() -> String {
    "Ce message est chiffré et le bot n'a pas pu le lire (sa clé ne lui a pas été partagée). \
     Renvoyez-le, puis répondez-y de nouveau."
        .to_owned()
}

/// Broadcast texts.
pub mod broadcast {
    pub fn usage() -> String {
        "Usage : répondez au message à diffuser par !diffuser --fédérations Nord,Paris (ou --toutes), \
         éventuellement --sections Lille,Roubaix (avec --fédérations), --rôle référent|secrétaire|\
         secrétaire-de-section|responsables (en message privé) et --à \"18:30\"."
            .to_owned()
    }
    pub fn unknown_role(name: &str) -> String {
        format!(
            "Rôle inconnu : {name}. Rôles possibles : référent, secrétaire, secrétaire-de-section, \
             responsables (les trois). Rien n'a été diffusé."
        )
    }
    pub fn unknown_sections(names: &[String]) -> String {
        format!("Section(s) inconnue(s) dans ces fédérations : {}. Rien n'a été diffusé.", names.join(", "))
    }
    pub fn nobody_holds(without_account: usize, unreachable: usize) -> String {
        match (without_account, unreachable) {
            (0, 0) => {
                "Personne n'a ce rôle ici dans le fichier des adhérents. Rien n'a été diffusé.".to_owned()
            }
            (n, 0) => format!(
                "Aucun titulaire de ce rôle n'a de compte Matrix ({n} sans compte). Rien n'a été diffusé."
            ),
            (n, u) => format!(
                "Aucun titulaire de ce rôle n'a pu être joint ({u} injoignable(s) pour l'instant, {n} sans \
                 compte). Rien n'a été diffusé : réessayez plus tard."
            ),
        }
    }
    pub fn sent_direct(delivered: i64, total: i64) -> String {
        format!("Envoyé en message privé à {delivered} personne(s) sur {total}.")
    }
    pub fn without_account(n: usize) -> String {
        format!("{n} titulaire(s) de ce rôle sans compte Matrix n'ont pas été atteint(s).")
    }
    pub fn unreachable(n: usize) -> String {
        format!(
            "{n} titulaire(s) de ce rôle injoignable(s) pour l'instant (leur serveur refuse le message \
             privé) n'ont pas été atteint(s)."
        )
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

/// Proposal texts.
pub mod proposal {
    pub fn disabled() -> String {
        "Les propositions à la sélection nationale ne sont pas activées sur ce serveur.".to_owned()
    }
    pub fn not_a_federation_room() -> String {
        "!proposer s'utilise dans un salon de fédération, de section ou de cellule.".to_owned()
    }
    pub fn propose_refused() -> String {
        "Seuls les modérateurs de ce salon peuvent proposer un message à la sélection nationale.".to_owned()
    }
    pub fn not_a_reply() -> String {
        "Répondez au message à proposer (clic sur « Répondre »), en tapant !proposer dans la réponse."
            .to_owned()
    }
    pub fn proposed() -> String {
        "Proposition transmise à l'équipe nationale pour la sélection. Merci !".to_owned()
    }
    pub fn shown(federation: &str, proposer: &str) -> String {
        format!(
            "Proposition de la fédération {federation} (par {proposer}). Pour la retenir : répondez à ce message \
             par !retenir, ou réagissez avec 👍."
        )
    }
    pub fn keep_wrong_room() -> String {
        "!retenir s'utilise dans le salon national de sélection, en réponse à une proposition.".to_owned()
    }
    pub fn keep_refused() -> String {
        "Seuls les modérateurs du salon national de sélection peuvent retenir une proposition.".to_owned()
    }
    pub fn keep_not_a_proposal() -> String {
        "Répondez à une proposition (le message copié ou l'avis de Relais) en tapant !retenir.".to_owned()
    }
    pub fn already_kept() -> String {
        "Cette proposition est déjà retenue.".to_owned()
    }
    pub fn already_published() -> String {
        "Cette proposition a déjà été publiée.".to_owned()
    }
    pub fn kept(federation: &str, waiting: usize) -> String {
        format!(
            "Proposition de la fédération {federation} retenue. {waiting} proposition(s) attendent la prochaine \
             publication (!sélection publier)."
        )
    }
    pub fn selection_refused() -> String {
        "!sélection s'utilise dans le salon national de sélection, par ses modérateurs.".to_owned()
    }
    pub fn selection_usage() -> String {
        "Usage : !sélection publier [--à \"18:30\"]".to_owned()
    }
    pub fn waiting(items: &[(String, String)]) -> String {
        if items.is_empty() {
            return "Aucune proposition retenue en attente.".to_owned();
        }
        let mut out = format!("{} proposition(s) retenue(s) en attente de publication :\n", items.len());
        for (federation, excerpt) in items {
            out.push_str(&format!("• {federation} — {excerpt}\n"));
        }
        out.push_str("Publiez-les dans toutes les fédérations avec !sélection publier.");
        out
    }
    pub fn nothing_to_publish() -> String {
        "Aucune proposition retenue à publier : retenez-en avec !retenir ou 👍.".to_owned()
    }
    pub fn published(items: usize, rooms: usize) -> String {
        format!("Sélection publiée : {items} proposition(s) dans {rooms} salon(s) d'annonces.")
    }
    pub fn publish_scheduled(items: usize, rooms: usize, at: &str) -> String {
        format!("Sélection de {items} proposition(s) programmée le {at} vers {rooms} salon(s) d'annonces.")
    }
    pub fn heading(items: usize) -> String {
        format!("Sélection nationale : {items} contribution(s) proposée(s) par les fédérations.")
    }
    pub fn credit(federation: &str) -> String {
        format!("— Proposé par la fédération {federation}")
    }
}

/// Statistics and local notes.
pub mod charter {
    pub fn none() -> String {
        "Aucune charte n'est en vigueur sur cette messagerie.".to_owned()
    }
    /// The charter, whole, and how to accept it.
    pub fn show(charter: &str, version: &str) -> String {
        format!(
            "Charte des espaces de discussion (version {version}) :\n\n{}\n\nPour l'accepter, tapez : !charte accepter",
            charter.trim()
        )
    }
    /// A charter too long for a message: where to read it, and how to accept it.
    pub fn show_link(version: &str, page: &str) -> String {
        format!(
            "Charte des espaces de discussion (version {version}) : {page}\n\nPour l'accepter, tapez : !charte accepter"
        )
    }
    pub fn accepted(version: &str) -> String {
        format!("Merci : votre acceptation de la charte (version {version}) est enregistrée.")
    }
    pub fn reminder(version: &str) -> String {
        format!(
            "Bienvenue ! Les salons publics suivent une charte (version {version}) que vous n'avez pas encore \
             acceptée : lisez-la en tapant !charte, acceptez-la en tapant !charte accepter."
        )
    }
}

pub mod stats {
    use crate::store::stats::BroadcastStats;

    pub fn refused() -> String {
        "Seuls les modérateurs de ce salon peuvent consulter les statistiques de diffusion.".to_owned()
    }
    pub fn none() -> String {
        "Aucun message diffusé pour l'instant.".to_owned()
    }
    /// One broadcast; `withdrawn_at`: when it was withdrawn, as shown.
    pub fn line(excerpt: &str, at: &str, s: &BroadcastStats, withdrawn_at: Option<&str>) -> String {
        let mut line = format!(
            "• « {excerpt} » ({at}) : {}/{} salon(s), {} lecteur(s), {} réaction(s), {} clic(s), {} courriel(s), \
             {} désabonnement(s), {} note(s) locale(s)",
            s.rooms_delivered,
            s.rooms_targeted,
            s.readers,
            s.reactions,
            s.clicks,
            s.mails,
            s.unsubscribes,
            s.notes
        );
        match s.edits {
            0 => {}
            1 => line.push_str(", modifié 1 fois"),
            n => line.push_str(&format!(", modifié {n} fois")),
        }
        if let Some(at) = withdrawn_at {
            line.push_str(&format!(", retiré le {at}"));
        }
        line
    }
    pub fn report(lines: &[String]) -> String {
        format!(
            "Derniers messages diffusés :\n{}\nLecteurs : membres ayant ouvert le salon après l'arrivée du message. \
             Aucun suivi individuel.",
            lines.join("\n")
        )
    }
    pub fn note_not_a_copy() -> String {
        "Répondez à un message diffusé par l'équipe nationale dans ce salon, en tapant !compléter \"votre note\"."
            .to_owned()
    }
    pub fn note_refused() -> String {
        "Seuls les modérateurs de ce salon peuvent compléter un message reçu.".to_owned()
    }
    pub fn note_usage() -> String {
        "Usage : !compléter \"Rendez-vous à 18 h devant la mairie\" (en réponse au message reçu).".to_owned()
    }
    pub fn note(federation: &str, note: &str) -> String {
        if federation.is_empty() {
            format!("Note locale : {note}")
        } else {
            format!("Note de la fédération {federation} : {note}")
        }
    }
}

/// Secret ballots.
pub mod secret_ballot {
    use crate::poll::{spec::PollSpec, tally::ReceiptLine};

    pub fn announcement(spec: &PollSpec, eligible: usize, voted: usize, deadline: Option<&str>) -> String {
        let mut out = format!("Vote à bulletin secret : {}\n", spec.question);
        for (i, answer) in spec.answers.iter().enumerate() {
            out.push_str(&format!("{}. {answer}\n", i + 1));
        }
        out.push_str(&format!(
            "Chaque votant reçoit son bulletin personnel en message privé de Relais (ou par courriel). \
             Participation : {voted} sur {eligible}."
        ));
        match deadline {
            Some(at) => out.push_str(&format!(" Clôture le {at}.")),
            None => out.push_str(" Clôture par son auteur ou un modérateur avec !sondage clore."),
        }
        out.push_str(" À la clôture : les résultats et la liste des reçus avec leur choix.");
        out
    }
    pub fn opened(voters: usize, by_mail: usize) -> String {
        format!(
            "Vote secret ouvert : {voters} votant(s), dont {by_mail} par courriel. Les bulletins partent en \
             message privé ; personne, pas même les modérateurs, ne voit qui a voté quoi."
        )
    }
    pub fn dm_room_name() -> String {
        "Relais — vos bulletins de vote".to_owned()
    }
    pub fn ballot_dm(question: &str, room: Option<&str>, link: &str, deadline: Option<&str>) -> String {
        let room = room.map(|r| format!(" (salon « {r} »)")).unwrap_or_default();
        let until = deadline.map(|d| format!(" avant le {d}")).unwrap_or_default();
        format!(
            "Votre bulletin pour le vote secret « {question} »{room} : {link}\nCe lien est personnel : ne le \
             transmettez pas. Il sert une seule fois{until}. Après votre vote, notez le reçu affiché : il \
             figurera avec votre choix dans les résultats."
        )
    }
    pub fn invalid_choice() -> String {
        "Ce choix ne fait pas partie du vote.".to_owned()
    }
    pub fn choice_count(max: u32) -> String {
        if max == 1 {
            "Choisissez une réponse.".to_owned()
        } else {
            format!("Choisissez entre une et {max} réponses.")
        }
    }
    pub fn receipts(receipts: &[ReceiptLine]) -> String {
        if receipts.is_empty() {
            return String::new();
        }
        let mut out = String::from("\nReçus (chacun peut vérifier que son bulletin est compté) :");
        for r in receipts {
            let answers = if r.answers.is_empty() { "(blanc)".to_owned() } else { r.answers.join(", ") };
            out.push_str(&format!("\n{} : {answers}", r.receipt));
        }
        out
    }
}
