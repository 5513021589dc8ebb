//! What moderators and the people they act on read: `!bannir`, `!débannir`, `!expulser`,
//! `!expurger`.

use relais_provisioning::moderation::ModerationKind;

/// The reason given when the moderator gave none.
pub const DEFAULT_REASON: &str = "Décision des modérateurs";

fn usage_of(kind: ModerationKind) -> &'static str {
    match kind {
        ModerationKind::Ban => "!bannir @identifiant:serveur [raison]",
        ModerationKind::Unban => "!débannir @identifiant:serveur [raison]",
        ModerationKind::Kick => "!expulser @identifiant:serveur [raison]",
        ModerationKind::Purge => {
            "!expurger @identifiant:serveur [nombre de messages, 20 par défaut, 100 au plus] [raison]"
        }
    }
}

pub fn usage(kind: ModerationKind) -> String {
    format!(
        "Usage : {} — l'identifiant Matrix complet de la personne (par exemple @jean.dupont:pcf.fr), \
         puis la raison si vous le souhaitez.",
        usage_of(kind)
    )
}

pub fn not_here() -> String {
    "Cette commande s'utilise dans un salon d'une fédération (elle agit sur tous les salons de son espace), \
     ou dans le salon national de communication (elle agit partout)."
        .to_owned()
}

pub fn refused() -> String {
    "Seuls les modérateurs de l'espace de la fédération (ou du salon national, pour agir partout) peuvent \
     utiliser cette commande."
        .to_owned()
}

pub fn not_above(target: &str) -> String {
    format!("{target} a un niveau de modération égal ou supérieur au vôtre : rien n'a été fait.")
}

pub fn not_the_bot() -> String {
    "Relais ne peut pas agir sur lui-même.".to_owned()
}

pub fn not_yourself() -> String {
    "Vous ne pouvez pas agir sur vous-même.".to_owned()
}

/// The answer once the action is carried out (`done` rooms of `total`; `scope`: "la fédération
/// Nord" or "tous les salons").
pub fn carried_out(kind: ModerationKind, target: &str, done: i64, total: i64, scope: &str) -> String {
    let verb = match kind {
        ModerationKind::Ban => "banni(e)",
        ModerationKind::Unban => "débanni(e)",
        ModerationKind::Kick => "expulsé(e)",
        ModerationKind::Purge => "messages récents retirés",
    };
    let mut out = format!("{target} : {verb} de {done} salon(s) sur {total} ({scope}).");
    if done < total {
        out.push_str(
            " Les autres n'étaient pas concernés (absent, déjà fait) ou seront repris automatiquement.",
        );
    }
    match kind {
        ModerationKind::Ban => out.push_str(" Un nouvel import du fichier ne l'y fera pas revenir."),
        ModerationKind::Unban => {
            out.push_str(" Le prochain import lui rendra les salons auxquels il ou elle a droit.")
        }
        ModerationKind::Kick => {
            out.push_str(" Il ou elle peut revenir sur invitation ; pour l'empêcher : !bannir.")
        }
        ModerationKind::Purge => out.push_str(" Les courriels déjà envoyés ne peuvent pas être repris."),
    }
    out
}

/// A reported message without text (a media, an encrypted or an empty one).
pub const NO_TEXT: &str = "(message sans texte : image, fichier, ou chiffré)";

/// In place of the text of a reported message of an encrypted room.
pub const ENCRYPTED_ROOM: &str = "(salon chiffré : le texte n'est pas recopié ici, ouvrez le lien)";

/// Why someone leaves a moderation room.
pub const NO_LONGER_MODERATOR: &str = "Vous ne modérez plus ce périmètre";

/// The reason on the reporter's redacted command.
pub const REPORT_HIDDEN: &str = "Signalement transmis aux modérateurs";

pub fn report_not_a_reply() -> String {
    "Pour signaler un message, répondez-lui en tapant !signaler : il est transmis aux modérateurs \
     de la fédération, et votre commande est retirée du salon."
        .to_owned()
}

pub fn report_not_found() -> String {
    "Ce message est introuvable (déjà retiré ?) : rien n'a été transmis.".to_owned()
}

pub fn report_sent() -> String {
    "Merci : le signalement a été transmis aux modérateurs de la fédération.".to_owned()
}

/// The report as the moderators read it.
pub fn report(reporter: &str, author: &str, room: &str, excerpt: &str, link: &str) -> String {
    format!(
        "Signalement de {reporter} dans « {room} »\nMessage de {author} : « {excerpt} »\n{link}\n\
         Pour agir dans toute la fédération : !expurger {author} · !expulser {author} [raison] · \
         !bannir {author} [raison]"
    )
}

/// What the moderators read when the bot muted a member for flooding.
pub fn muted(user: &str, room: &str, messages: i64, seconds: u32, mute_seconds: u32) -> String {
    let minutes = mute_seconds.div_ceil(60);
    format!(
        "{user} a envoyé {messages} messages en moins de {seconds} s dans « {room} » : rendu(e) muet(te) \
         dans ce salon pour {minutes} min. Pour lever plus tôt, rétablissez son niveau ; pour aller plus \
         loin : !expurger {user} · !expulser {user} · !bannir {user}"
    )
}

pub fn banned_nationally(target: &str) -> String {
    format!(
        "{target} est banni(e) au niveau national : seuls les modérateurs du salon national de \
         communication peuvent lever ce bannissement. Rien n'a été fait."
    )
}
