//! Where a `!diffuser` goes: every federation's announcements room (`--toutes`), chosen
//! federations' (`--fédérations Nord,Isère`), their sections' rooms (`--sections Lille,Roubaix`
//! with `--fédérations`), or only the holders of an office (`--rôle référent|secrétaire|
//! secrétaire-de-section`, in chosen federations or all), each in their direct room with the bot.

use relais_appservice::ClientError;
use relais_core::text::{fold, slug};
use relais_provisioning::{desired::RoomKind, model::Role};

use super::{BroadcastError, Broadcasts};
use crate::{command::Options, messages::broadcast as text};

/// The rooms a broadcast goes to: (room id, federation or room name), and what is said of them.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    pub rooms: Vec<(String, String)>,
    /// Copies go to members' direct rooms (a broadcast by office), not to shared rooms.
    pub direct: bool,
    /// Office holders without a Matrix account, not reached.
    pub without_account: usize,
    /// Office holders whose direct room could not be opened now (their server refuses), not
    /// reached.
    pub unreachable: usize,
}

/// The offices `--rôle` names (accents and case aside).
fn roles_named(name: &str) -> Option<Vec<Role>> {
    Some(match fold(name).as_str() {
        "referent" | "referente" | "referents" | "referent-numerique" => vec![Role::DigitalReferent],
        "secretaire" | "secretaires" | "secretaire-federal" | "secretaire-federale" => {
            vec![Role::FederationSecretary]
        }
        "secretaire-de-section" | "secretaire-section" => vec![Role::SectionSecretary],
        "responsable" | "responsables" => {
            vec![Role::DigitalReferent, Role::FederationSecretary, Role::SectionSecretary]
        }
        _ => return None,
    })
}

/// The comma-separated names of an option's value.
fn names(list: &str) -> Vec<&str> {
    list.split(',').map(str::trim).filter(|w| !w.is_empty()).collect()
}

impl Broadcasts {
    /// The targets the options name; `Err` is the answer when they name nothing sendable.
    pub(crate) async fn targets(&self, options: &Options) -> Result<Result<Targets, String>, BroadcastError> {
        let all = options.flag("toutes") || options.flag("all");
        let federations = options.value("fédérations").or(options.value("federations")).map(names);
        if all == federations.is_some() {
            return Ok(Err(text::usage()));
        }
        if let Some(role) = options.value("rôle").or(options.value("role")) {
            if options.value("sections").is_some() {
                return Ok(Err(text::usage()));
            }
            let Some(roles) = roles_named(role) else { return Ok(Err(text::unknown_role(role))) };
            return self.office_holders(&roles, federations.as_deref()).await;
        }
        let announcements = self.directory.rooms_of_kinds(&[RoomKind::Announcements]).await?;
        let Some(federations) = federations else {
            let rooms = announcements.iter().map(|r| (r.room_id.to_string(), r.name.clone())).collect();
            return Ok(Ok(Targets { rooms, ..Targets::default() }));
        };
        let unknown: Vec<String> = federations
            .iter()
            .filter(|f| !announcements.iter().any(|r| r.key == format!("{}.annonces", slug(f))))
            .map(|f| (*f).to_owned())
            .collect();
        if !unknown.is_empty() {
            return Ok(Err(text::unknown_federations(&unknown)));
        }
        let Some(sections) = options.value("sections").map(names) else {
            let rooms = federations
                .iter()
                .filter_map(|f| announcements.iter().find(|r| r.key == format!("{}.annonces", slug(f))))
                .map(|r| (r.room_id.to_string(), r.name.clone()))
                .collect();
            return Ok(Ok(Targets { rooms, ..Targets::default() }));
        };
        let section_rooms = self.directory.rooms_of_kinds(&[RoomKind::Section]).await?;
        let mut rooms = Vec::new();
        let mut unknown = Vec::new();
        for section in sections {
            let found: Vec<_> = federations
                .iter()
                .filter_map(|f| {
                    section_rooms.iter().find(|r| r.key == format!("{}.s.{}", slug(f), slug(section)))
                })
                .collect();
            if found.is_empty() {
                unknown.push(section.to_owned());
            }
            rooms.extend(found.into_iter().map(|r| (r.room_id.to_string(), r.name.clone())));
        }
        if !unknown.is_empty() {
            return Ok(Err(text::unknown_sections(&unknown)));
        }
        Ok(Ok(Targets { rooms, ..Targets::default() }))
    }

    /// The direct rooms of the holders of `roles` (in `federations`, or everywhere), each made on
    /// first need.
    async fn office_holders(
        &self,
        roles: &[Role],
        federations: Option<&[&str]>,
    ) -> Result<Result<Targets, String>, BroadcastError> {
        let wanted: Option<Vec<String>> = federations.map(|f| f.iter().map(|f| slug(f)).collect());
        let holders: Vec<_> = self
            .directory
            .role_holders(roles)
            .await?
            .into_iter()
            .filter(|h| wanted.as_ref().is_none_or(|w| w.contains(&slug(&h.federation))))
            .collect();
        let mut targets = Targets { direct: true, ..Targets::default() };
        let bot = self.config.bot_user_id();
        for holder in holders {
            let Some(user) = holder.user_id else {
                targets.without_account += 1;
                continue;
            };
            match crate::service::private_direct_room(&self.store, &self.client, &bot, &user).await {
                Ok(room) => targets.rooms.push((room.to_string(), holder.federation)),
                // One holder out of reach (their server refuses, or a room for them could not
                // be made minutes ago) holds up nobody else; any other failure is the
                // command's, tried again.
                Err(
                    error @ (BroadcastError::DirectRoomTooSoon
                    | BroadcastError::Homeserver(ClientError::Matrix { status: 403 | 404, .. })),
                ) => {
                    tracing::warn!(%error, "an office holder's direct room could not be opened");
                    targets.unreachable += 1;
                }
                Err(other) => return Err(other),
            }
        }
        if targets.rooms.is_empty() {
            return Ok(Err(text::nobody_holds(targets.without_account, targets.unreachable)));
        }
        Ok(Ok(targets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offices_are_named_in_french_without_minding_accents() {
        assert_eq!(roles_named("référent"), Some(vec![Role::DigitalReferent]));
        assert_eq!(roles_named("Référente"), Some(vec![Role::DigitalReferent]));
        assert_eq!(roles_named("secrétaire"), Some(vec![Role::FederationSecretary]));
        assert_eq!(roles_named("secretaire-de-section"), Some(vec![Role::SectionSecretary]));
        assert_eq!(roles_named("responsables").map(|r| r.len()), Some(3));
        assert_eq!(roles_named("trésorier"), None);
        assert_eq!(names(" Nord, ,Isère "), ["Nord", "Isère"]);
    }
}
