//! What referents read from `!salon`: thematic rooms of their federation.

use relais_provisioning::theme::{MAX_CHOSEN_MODERATORS, MAX_PER_FEDERATION, Theme, ThemeAccess};

pub fn usage() -> String {
    "Usage :\n\
     • !salon créer \"Nom du salon\" [--public | --sur-demande] — un salon thématique de votre fédération, \
     réservé à ses adhérents (ou ouvert à tous avec --public, sur demande avec --sur-demande)\n\
     • !salon modérateurs \"Nom du salon\" @personne:serveur … — ses modérateurs, en plus des responsables \
     de la fédération (sans personne : aucun)\n\
     • !salon liste — les salons thématiques de la fédération"
        .to_owned()
}

pub fn not_here() -> String {
    "Cette commande s'utilise dans un salon de votre fédération : le salon thématique est créé dans son espace."
        .to_owned()
}

pub fn refused() -> String {
    "Seuls les modérateurs de l'espace de la fédération (secrétaires, référents numériques) créent ses \
     salons thématiques et en choisissent les modérateurs."
        .to_owned()
}

pub fn bad_name(why: &str) -> String {
    format!("Nom refusé : {why}. Rien n'a été créé.")
}

pub fn exists(name: &str) -> String {
    format!("La fédération a déjà un salon « {name} » (ou un nom qui s'écrit de même). Rien n'a été créé.")
}

pub fn full() -> String {
    format!("La fédération a déjà {MAX_PER_FEDERATION} salons thématiques, le maximum. Rien n'a été créé.")
}

pub fn unknown(name: &str) -> String {
    format!("Aucun salon thématique « {name} » dans cette fédération. Tapez !salon liste pour les voir.")
}

fn access_label(access: ThemeAccess) -> &'static str {
    match access {
        ThemeAccess::Members => "réservé aux adhérents de la fédération",
        ThemeAccess::Open(relais_core::config::PublicJoin::Public) => "ouvert à tous",
        ThemeAccess::Open(relais_core::config::PublicJoin::Knock) => "ouvert sur demande",
    }
}

/// The room is made: where to find it.
pub fn created(name: &str, access: ThemeAccess, alias: &str) -> String {
    format!(
        "Salon « {name} » créé ({}) : {alias}. Il apparaît dans l'espace de la fédération ; choisissez ses \
         modérateurs avec !salon modérateurs \"{name}\" @personne:serveur.",
        access_label(access)
    )
}

/// Recorded, to be made by the next provisioning pass (an import holds the lease).
pub fn recorded(name: &str) -> String {
    format!(
        "Salon « {name} » enregistré : un import est en cours, il sera créé juste après (quelques minutes)."
    )
}

pub fn failed(name: &str) -> String {
    format!(
        "Salon « {name} » enregistré, mais le serveur n'a pas pu le créer pour l'instant : Relais réessaiera \
         au prochain import. Prévenez l'équipe technique si cela dure."
    )
}

pub fn too_many_moderators() -> String {
    format!(
        "{MAX_CHOSEN_MODERATORS} modérateurs au plus par salon, en plus des responsables de la fédération."
    )
}

pub fn not_members(users: &[String]) -> String {
    format!(
        "Ne sont pas adhérent·e·s actif·ve·s de la fédération avec un compte : {}. Rien n'a été changé.",
        users.join(", ")
    )
}

pub fn moderators_set(name: &str, count: usize, applied: bool) -> String {
    let who = match count {
        0 => "plus aucun modérateur choisi (les responsables de la fédération le restent)".to_owned(),
        1 => "1 modérateur choisi".to_owned(),
        n => format!("{n} modérateurs choisis"),
    };
    let when = if applied { "" } else { " ; appliqué à la fin de l'import en cours" };
    format!("Salon « {name} » : {who}{when}.")
}

pub fn list(themes: &[Theme]) -> String {
    if themes.is_empty() {
        return "La fédération n'a pas encore de salon thématique. Créez-en un avec !salon créer \"Nom\"."
            .to_owned();
    }
    let mut out = String::from("Salons thématiques de la fédération :\n");
    for theme in themes {
        let chosen = match theme.moderators.len() {
            0 => String::new(),
            n => format!(", {n} modérateur(s) choisi(s)"),
        };
        out.push_str(&format!("• {} — {}{chosen}\n", theme.name, access_label(theme.access)));
    }
    out.trim_end().to_owned()
}
