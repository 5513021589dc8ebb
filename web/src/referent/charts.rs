//! What referents would rather look at than read: per section, how many members are on the
//! chat, reached by email, or not reached yet, as stacked bars drawn in SVG on the server (no
//! script, nothing fetched elsewhere), each bar also said in words for screen readers. Pure.

use std::collections::BTreeMap;

use maud::{Markup, html};

use relais_provisioning::model::MemberRow;

/// How a section's active members are reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub section: String,
    pub chat: usize,
    pub email: usize,
    pub unreached: usize,
}

impl Reach {
    fn total(&self) -> usize {
        self.chat + self.email + self.unreached
    }
}

/// `members` (with their mail subscriptions' count) by section, sections by name, members of
/// no section last.
pub fn reach_by_section(members: &[(MemberRow, i64)]) -> Vec<Reach> {
    let mut by: BTreeMap<(bool, String), Reach> = BTreeMap::new();
    for (member, subscriptions) in members.iter().filter(|(m, _)| m.active) {
        let name = member.section.clone().unwrap_or_else(|| "Sans section".to_owned());
        let reach = by
            .entry((member.section.is_none(), name.clone()))
            .or_insert_with(|| Reach { section: name, ..Reach::default() });
        if member.matrix_id.is_some() {
            reach.chat += 1;
        } else if *subscriptions > 0 {
            reach.email += 1;
        } else {
            reach.unreached += 1;
        }
    }
    by.into_values().collect()
}

/// The top of the referents' page: what waits for them, then the sections' reach.
pub fn overview(members: &[(MemberRow, i64)], sympathisers_waiting: usize, bouncing: usize) -> Markup {
    let unreached =
        members.iter().filter(|(m, subs)| m.active && m.matrix_id.is_none() && *subs == 0).count();
    let without_address =
        members.iter().filter(|(m, _)| m.active && m.matrix_id.is_none() && m.email.is_none()).count();
    html! {
        h2 { "En un coup d'œil" }
        ul {
            @if without_address > 0 {
                li { strong { (without_address) } " adhérent(s) sans adresse ni compte : " a href="#lettres" { "leur imprimer une lettre" } }
            }
            @if sympathisers_waiting > 0 {
                li { strong { (sympathisers_waiting) } " sympathisant(s) à recontacter" }
            }
            @if bouncing > 0 {
                li { strong { (bouncing) } " adresse(s) de courriel en échec" }
            }
            @if unreached == 0 && sympathisers_waiting == 0 && bouncing == 0 {
                li { "Rien n'attend : chaque adhérent actif est joint." }
            }
        }
        (reach_chart(&reach_by_section(members)))
    }
}

const COLORS: [(&str, &str); 3] =
    [("#2e7d32", "sur la messagerie"), ("#1565c0", "par courriel"), ("#b00000", "pas encore joints")];

/// The stacked bars of `reach`, one per section.
pub fn reach_chart(reach: &[Reach]) -> Markup {
    const WIDTH: usize = 300;
    const LABEL: usize = 110;
    const ROW: usize = 26;
    let height = reach.len() * ROW + 30;
    html! {
        @if !reach.is_empty() {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (LABEL + WIDTH + 40) " " (height) }
                width="100%" role="img" aria-labelledby="reach-title" {
                title #reach-title { "Adhérents joints, par section" }
                @for (i, r) in reach.iter().enumerate() {
                    @let y = i * ROW;
                    @let total = r.total().max(1);
                    @let widths = [r.chat * WIDTH / total, r.email * WIDTH / total, r.unreached * WIDTH / total];
                    @let starts = [LABEL, LABEL + widths[0], LABEL + widths[0] + widths[1]];
                    g {
                        title {
                            (r.section) " : " (r.chat) " sur la messagerie, " (r.email) " par courriel, "
                            (r.unreached) " pas encore joints"
                        }
                        text x="0" y=(y + 17) font-size="12" font-family="sans-serif" { (r.section) }
                        @for ((x, w), (color, _)) in starts.iter().zip(widths).zip(COLORS) {
                            rect x=(x) y=(y + 4) width=(w) height="18" fill=(color) {}
                        }
                        text x=(LABEL + WIDTH + 6) y=(y + 17) font-size="12" font-family="sans-serif" { (r.total()) }
                    }
                }
                @for (i, (color, label)) in COLORS.iter().enumerate() {
                    rect x=(i * 130) y=(height - 18) width="12" height="12" fill=(color) {}
                    text x=(i * 130 + 16) y=(height - 8) font-size="11" font-family="sans-serif" { (label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use relais_provisioning::model::{Contact, MemberRow};

    use super::*;

    fn member(id: &str, section: Option<&str>, account: bool, active: bool) -> MemberRow {
        MemberRow {
            line: 0,
            member_id: id.into(),
            first_name: id.into(),
            last_name: "X".into(),
            email: None,
            federation: "Nord".into(),
            section: section.map(str::to_owned),
            cell: None,
            roles: Vec::new(),
            active,
            matrix_id: account.then(|| format!("@{id}:pcf.test").try_into().expect("id")),
            contact: Contact::Chat,
        }
    }

    #[test]
    fn sections_count_chat_email_and_unreached_active_members() {
        let members = [
            (member("1", Some("Lille"), true, true), 1),
            (member("2", Some("Lille"), false, true), 2),
            (member("3", Some("Lille"), false, true), 0),
            (member("4", Some("Lille"), false, false), 0),
            (member("5", None, true, true), 0),
            (member("6", Some("Arras"), false, true), 0),
        ];
        let reach = reach_by_section(&members);
        let seen: Vec<(&str, usize, usize, usize)> =
            reach.iter().map(|r| (r.section.as_str(), r.chat, r.email, r.unreached)).collect();
        assert_eq!(seen, [("Arras", 0, 0, 1), ("Lille", 1, 1, 1), ("Sans section", 1, 0, 0)]);
        let svg = reach_chart(&reach).into_string();
        assert!(svg.starts_with("<svg") && svg.contains("role=\"img\""), "{svg}");
        assert!(svg.contains("Lille : 1 sur la messagerie, 1 par courriel, 1 pas encore joints"), "{svg}");
        assert!(reach_chart(&[]).into_string().is_empty());
    }
}
