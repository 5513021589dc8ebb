//! `/conditions` (terms of use) and `/confidentialite` (what is stored about members, for how
//! long, and how to use their GDPR rights). The durations are read from the configuration, so
//! the page says what this deployment does, not what a default would. Element's config points
//! here (`terms_and_conditions_links`, `privacy_policy_url`).

use std::sync::Arc;

use axum::{Router, extract::State, routing::get};
use maud::{Markup, html};

use relais_core::Config;

use crate::{WebState, page::page};

pub fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/conditions", get(conditions)).route("/confidentialite", get(privacy))
}

async fn conditions(State(state): State<Arc<WebState>>) -> Markup {
    let charter = state.config.public.charter.is_some();
    let body = html! {
        p {
            "La messagerie du Parti est un outil militant réservé à ses adhérents — et, dans ses espaces publics, \
             aux sympathisants qui s'y inscrivent. En l'utilisant, vous acceptez ces conditions."
        }
        h2 { "Qui a accès à quoi" }
        p {
            "Le fichier des adhérents de votre fédération décide des salons où vous entrez : fédération, section, \
             cellule. Un adhérent dont la cotisation n'est plus à jour perd l'accès aux salons réservés, jusqu'au \
             renouvellement. Les espaces publics sont ouverts à tous."
        }
        h2 { "Règles de conduite" }
        @if charter {
            p {
                "Les échanges suivent la " a href="/relais/charte" { "charte des espaces de discussion" }
                ", que vous acceptez en créant votre compte (et de nouveau quand elle change)."
            }
        } @else {
            p { "Respect des personnes, pas d'injure, de harcèlement ni de contenu illégal ; les débats restent fraternels." }
        }
        p {
            "Les modérateurs — secrétaires, référents numériques, et ceux qu'ils désignent — peuvent retirer un \
             message, exclure ou bannir une personne des salons de la fédération ; chaque décision est enregistrée \
             avec sa raison. Chacun peut signaler un message avec " code { "!signaler" } " en réponse à celui-ci."
        }
        h2 { "Votre compte" }
        p {
            "Gardez votre mot de passe pour vous. En cas d'oubli, votre référent numérique vous en donne un \
             nouveau. Vous pouvez quitter un salon quand vous le voulez ; pour supprimer votre compte et vos \
             données, voyez " a href="/confidentialite" { "vos données personnelles" } "."
        }
        p { a href="/aide" { "Aide — premiers pas" } }
    };
    page("Conditions d'utilisation", body)
}

async fn privacy(State(state): State<Arc<WebState>>) -> Markup {
    page("Vos données personnelles", privacy_body(&state.config))
}

fn privacy_body(config: &Config) -> Markup {
    let mail_days = config.mail.retention_days;
    let invitation_days = config.provisioning.invitation_days;
    let confirm_hours = relais_provisioning::sympathiser::CONFIRM_HOURS;
    html! {
        p {
            "Cette page dit ce que la messagerie conserve sur vous, combien de temps, et comment exercer vos droits \
             (règlement général sur la protection des données, RGPD). Tout est hébergé sur les serveurs du Parti ; \
             rien n'est transmis à un tiers, ni à des fins publicitaires ni pour mesurer l'audience."
        }
        h2 { "Ce qui est conservé" }
        ul {
            li {
                strong { "Votre fiche d'adhérent" } ", limitée à ce dont la messagerie a besoin : numéro, nom, prénom, \
                 adresse de courriel, fédération, section, cellule, responsabilités, cotisation à jour, identifiant \
                 Matrix et préférence de contact. Les autres colonnes du fichier ne sont jamais enregistrées."
            }
            li { strong { "Votre compte" } " : nom d'utilisateur, nom affiché, salons, et vos messages, gardés par le serveur de messagerie." }
            li {
                strong { "Les courriels des listes" } " : une copie des messages des salons suivis par courriel, \
                 pour les résumés, gardée " (mail_days) " jours ; les adresses qui rejettent nos envois sont notées \
                 pour cesser d'écrire à une boîte fermée."
            }
            li {
                strong { "Les votes" } " : votre réponse aux sondages ordinaires ; pour un vote à bulletin secret, \
                 seulement le fait que vous avez voté — le bulletin est conservé sans rien qui vous relie à lui."
            }
            li {
                strong { "Les statistiques des diffusions" } " : lectures et réactions comptées sous une empreinte \
                 chiffrée, jamais sous votre nom ; aucune mesure d'ouverture des courriels."
            }
            li {
                strong { "Les liens d'invitation" } " : valables " (invitation_days) " jours ; "
                strong { "les inscriptions de sympathisants" } " non confirmées sont effacées au bout de "
                (confirm_hours) " heures."
            }
            li { strong { "Le journal des actions" } " : qui a fait quoi (imports, modération), pour pouvoir en répondre." }
        }
        h2 { "Vos droits" }
        p {
            "Vous pouvez obtenir une copie de tout ce qui est conservé sur vous (droit d'accès), le faire corriger \
             (en général dans le fichier des adhérents de votre fédération), ou le faire effacer (droit à \
             l'effacement) : la fiche, l'accès aux salons, les abonnements et les réponses données par courriel ; \
             demandez en même temps la fermeture de votre compte de messagerie. Les messages que vous avez écrits restent dans les appareils des personnes qui les ont \
             reçus : la messagerie ne peut pas les reprendre."
        }
        p {
            "Pour exercer ces droits, écrivez à "
            @match config.web.privacy_contact.as_deref() {
                Some(contact) => strong { (contact) },
                None => "votre référent numérique de fédération",
            }
            ". Vous pouvez aussi saisir la CNIL (www.cnil.fr)."
        }
        p { a href="/conditions" { "Conditions d'utilisation" } " · " a href="/aide" { "Aide — premiers pas" } }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_privacy_page_says_this_deployments_durations_and_contact() {
        let mut config = relais_core::Config::for_tests("http://127.0.0.1:9", "");
        config.mail.retention_days = 45;
        config.provisioning.invitation_days = 9;
        let page = super::privacy_body(&config).into_string();
        assert!(page.contains("gardée 45 jours") && page.contains("valables 9 jours"), "{page}");
        assert!(page.contains("votre référent numérique de fédération"));
        config.web.privacy_contact = Some("dpo@pcf.fr <script>".into());
        let page = super::privacy_body(&config).into_string();
        assert!(page.contains("dpo@pcf.fr &lt;script&gt;"), "escaped: {page}");
    }
}
