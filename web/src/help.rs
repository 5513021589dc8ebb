//! `/aide`: first steps for members who have never used a chat — signing in, finding their
//! federation's space, answering a poll, reading a room by email, a forgotten password, the
//! keys of encrypted rooms, the computer and the phone — and the bot's commands, listed from
//! the bots' own table so the page never lags behind them. Element's help links point here
//! (element-config/config.json: `help_url`, `help_encryption_url`, `help_key_storage_url`).
//!
//! Its pictures are of Relais's own pages as the browser tests see them (`web/assets/aide/`,
//! refreshed by scripts/help-images.sh); Element's screens are described in words.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use maud::{Markup, html};

use crate::{WebState, page::page};

/// The help page's pictures, by name: what they show, and the PNG.
const PICTURES: &[(&str, &str, &[u8])] = &[
    (
        "code.png",
        "La page où l'on tape le code d'une lettre d'invitation",
        include_bytes!("../assets/aide/code.png"),
    ),
    (
        "compte.png",
        "La page où l'on choisit son nom d'utilisateur et son mot de passe",
        include_bytes!("../assets/aide/compte.png"),
    ),
    (
        "sondage-courriel.png",
        "La page qui confirme une réponse à un sondage reçue par courriel",
        include_bytes!("../assets/aide/sondage-courriel.png"),
    ),
    (
        "courriels.png",
        "La page des préférences de courriel, salon par salon",
        include_bytes!("../assets/aide/courriels.png"),
    ),
];

pub fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/aide", get(show)).route("/aide/images/{name}", get(picture))
}

async fn picture(Path(name): Path<String>) -> Response {
    match PICTURES.iter().find(|(known, _, _)| *known == name) {
        Some((_, _, png)) => {
            ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "public, max-age=86400")], *png)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "Image introuvable.").into_response(),
    }
}

/// A picture of the help page, with its caption.
fn figure(name: &str) -> Markup {
    let alt = PICTURES.iter().find(|(known, _, _)| *known == name).map_or("", |(_, alt, _)| *alt);
    html! {
        figure style="margin:1em 0" {
            img src={ "/aide/images/" (name) } alt=(alt)
                style="max-width:100%;height:auto;border:1px solid #ccc;border-radius:4px";
            figcaption style="font-size:.9em;color:#555" { (alt) }
        }
    }
}

async fn show(State(state): State<Arc<WebState>>) -> Markup {
    let site = state.config.web.public_url.as_str().trim_end_matches('/').to_owned();
    page("Aide — premiers pas", body(&site))
}

fn body(site: &str) -> Markup {
    html! {
        p {
            "La messagerie du Parti réunit votre fédération, votre section et votre cellule. Elle s'utilise dans \
             le navigateur (" a href=(site) { (site) } "), sur téléphone avec l'application Element, ou "
             strong { "par courriel" } " si vous préférez : personne n'est laissé de côté."
        }
        nav aria-label="Sommaire" {
            ol {
                li { a href="#connexion" { "Se connecter pour la première fois" } }
                li { a href="#espace" { "Trouver l'espace de sa fédération" } }
                li { a href="#sondage" { "Répondre à un sondage" } }
                li { a href="#courriel" { "Recevoir un salon par courriel" } }
                li { a href="#mot-de-passe" { "Mot de passe oublié" } }
                li { a href="#chiffrement" { "Les salons chiffrés" } }
                li { a href="#sauvegarde-des-cles" { "Sauvegarder ses clés" } }
                li { a href="#ordinateur" { "Sur ordinateur et sur téléphone" } }
                li { a href="#commandes" { "Les commandes du robot Relais" } }
            }
        }
        h2 #connexion { "1. Se connecter pour la première fois" }
        p {
            "Vous avez reçu une invitation par courriel (ou une lettre de votre référent numérique). Ouvrez le lien, \
             choisissez un nom d'utilisateur et un mot de passe : votre compte est créé et vous entrez aussitôt \
             dans les salons de votre fédération, de votre section et de votre cellule."
        }
        p { "Avec une lettre, ouvrez la page indiquée et tapez votre code, en majuscules ou non :" }
        (figure("code.png"))
        (figure("compte.png"))
        p {
            "Ensuite, connectez-vous sur " a href=(site) { (site) } " avec ce nom d'utilisateur et ce mot de passe. \
             Notez-les sur papier si cela vous aide : personne du Parti ne vous les demandera jamais."
        }
        h2 #espace { "2. Trouver l'espace de sa fédération" }
        p {
            "À gauche de l'écran, chaque icône ronde est un " strong { "espace" } ". Celui de votre fédération \
             s'appelle « Fédération … ». Cliquez dessus : ses salons apparaissent — discussion, annonces, votre \
             section. Les salons thématiques (commissions, groupes de campagne) s'y trouvent aussi : cliquez sur \
             « Explorer les salons » pour les rejoindre."
        }
        h2 #sondage { "3. Répondre à un sondage" }
        p {
            "Un sondage s'affiche dans la conversation avec ses réponses possibles. Cliquez sur votre réponse : \
             elle est enregistrée. Vous pouvez en changer jusqu'à la clôture. Pour un vote à bulletin secret, le \
             robot Relais vous envoie un lien personnel : ouvrez-le et suivez la page."
        }
        p {
            "Par courriel, chaque réponse est un lien : il ouvre une page qui montre votre choix. Rien n'est \
             enregistré tant que vous n'avez pas cliqué sur « Confirmer ma réponse »."
        }
        (figure("sondage-courriel.png"))
        (by_mail())
        h2 #mot-de-passe { "5. Mot de passe oublié" }
        p {
            "Votre compte n'a pas d'adresse de courriel attachée : la messagerie ne peut pas vous envoyer de lien \
             de réinitialisation. Demandez à votre " strong { "référent numérique" } " de fédération : il vous donne \
             un nouveau mot de passe provisoire, que vous changez à la connexion suivante."
        }
        h2 #chiffrement { "6. Les salons chiffrés" }
        p {
            "Certains salons sont chiffrés de bout en bout : seuls leurs membres peuvent lire les messages, pas même \
             le serveur. Les modérateurs d'un salon peuvent activer le chiffrement ; il ne peut plus être retiré \
             ensuite. Les messages d'un salon chiffré ne sont jamais envoyés par courriel."
        }
        h2 #sauvegarde-des-cles { "7. Sauvegarder ses clés" }
        p {
            "Pour relire les messages chiffrés sur un nouvel appareil, Element vous propose de sauvegarder vos clés \
             avec une " strong { "clé de récupération" } ". Acceptez, puis recopiez cette clé sur papier et gardez-la \
             chez vous : sans elle, les anciens messages chiffrés restent illisibles sur un nouvel appareil."
        }
        h2 #ordinateur { "8. Sur ordinateur et sur téléphone" }
        p {
            "Sur ordinateur, rien à installer : ouvrez " a href=(site) { (site) } " dans votre navigateur. Sur \
             téléphone, installez l'application " strong { "Element" } " depuis le magasin d'applications, puis \
             choisissez « Autre serveur » et saisissez l'adresse de la messagerie."
        }
        h2 #commandes { "9. Les commandes du robot Relais" }
        p { "Dans un salon, tapez une commande commençant par « ! ». " code { "!aide" } " affiche celles que vous pouvez utiliser là où vous êtes." }
        (commands())
        p { a href="/conditions" { "Conditions d'utilisation" } " · " a href="/confidentialite" { "Vos données personnelles" } }
    }
}

/// Mail instead of the chat, and the lists' archives.
fn by_mail() -> Markup {
    html! {
        h2 #courriel { "4. Recevoir un salon par courriel" }
        p {
            "Dans un salon, écrivez " code { "!courriel abonner" } " : vous recevrez ses messages par courriel, un \
             par un ou en résumé chaque jour, et vous pourrez répondre depuis votre messagerie habituelle. "
             code { "!courriel désabonner" } " arrête les envois ; chaque courriel a aussi un lien pour changer \
             d'avis. Ce lien ouvre la page de vos préférences, où chaque salon a son choix :"
        }
        (figure("courriels.png"))
        p {
            "Les messages échangés avant votre arrivée se lisent dans les " a href="/relais/archives" { "archives des listes" }
            " : connectez-vous avec votre compte, ou suivez le lien « Archives » d'un courriel de la liste. Depuis la \
             page de vos préférences de courriel, vous pouvez aussi recevoir les autres salons de votre fédération."
        }
    }
}

/// Every command the bots answer, as `!aide` lists them.
fn commands() -> Markup {
    html! {
        dl {
            @for command in relais_bots::messages::COMMANDS {
                dt { code { (command.usage) } }
                dd { (command.summary) }
            }
        }
    }
}
