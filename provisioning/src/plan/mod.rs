//! The plan: what to change so the homeserver and the store match the file. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};

use crate::{
    desired::{Desired, Openness, RoomKind, RoomSpec, desired},
    model::MemberRow,
    reader::ReadReport,
};

/// What Relais recorded after the previous imports.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    pub rooms: BTreeMap<String, RoomSpec>,
    pub access: BTreeMap<(String, String), OwnedUserId>,
    pub moderators: BTreeMap<String, BTreeSet<OwnedUserId>>,
    pub subscriptions: BTreeSet<(String, String)>,
    /// Member id → the row last applied (absent members are kept, inactive).
    pub members: BTreeMap<String, MemberRow>,
    /// Members recorded before their rooms were (`MemberRooms`): saved again by the next plan.
    pub unkeyed: BTreeSet<String>,
    /// Member id → the account they created from an invitation (the file has no Matrix id).
    pub linked: BTreeMap<String, OwnedUserId>,
    /// Member id → expiry (ms) of their pending, unused invitation.
    pub invitations: BTreeMap<String, i64>,
    /// The moderators' bans that stand: a banned user is never invited where the ban covers.
    pub banned: crate::moderation::Bans,
    /// The federations' thematic rooms, as their referents made them.
    pub themes: Vec<crate::theme::Theme>,
}

/// What a plan takes besides the file and the record.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub national_name: String,
    /// Whether to invite members without an account by email (mail and registration configured).
    pub invitations: bool,
    /// The current time (ms), for invitation expiry.
    pub now_ms: i64,
    /// A federation's own export: only its members are planned (federation key, see
    /// [`crate::desired::federation_key`]); everyone else keeps what they have.
    pub scope: Option<String>,
    /// The public spaces to provision beside the members-only hierarchy.
    pub public: relais_core::config::PublicConfig,
    /// The national team, in the referents' network with the file's digital referents.
    pub national_team: Vec<OwnedUserId>,
}

impl PlanOptions {
    fn in_scope(&self, row: &MemberRow) -> bool {
        self.scope.as_ref().is_none_or(|key| *key == crate::desired::federation_key(&row.federation))
    }
}

/// One change. Homeserver writes: create, rename, set moderators, invite, kick. The others only
/// update what Relais records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    CreateRoom {
        room: String,
        kind: RoomKind,
        name: String,
        parent: Option<String>,
        /// How a public room is entered (absent for members-only rooms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        open: Option<Openness>,
    },
    RenameRoom {
        room: String,
        name: String,
    },
    SetModerators {
        room: String,
        moderators: Vec<OwnedUserId>,
    },
    Invite {
        room: String,
        member_id: String,
        user_id: OwnedUserId,
    },
    /// Entry to a restricted room through the federation space: nothing to send.
    Grant {
        room: String,
        member_id: String,
        user_id: OwnedUserId,
    },
    Kick {
        room: String,
        member_id: String,
        user_id: OwnedUserId,
        reason: String,
    },
    Subscribe {
        room: String,
        member_id: String,
    },
    Unsubscribe {
        room: String,
        member_id: String,
    },
    SaveMember {
        member: MemberRow,
    },
    /// Email a single-use link to create an account (member with no Matrix id who chose the chat).
    SendInvitation {
        member_id: String,
        email: String,
        first_name: String,
        federation: String,
    },
}

impl Action {
    /// The name used in summaries and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CreateRoom { .. } => "create_room",
            Self::RenameRoom { .. } => "rename_room",
            Self::SetModerators { .. } => "set_moderators",
            Self::Invite { .. } => "invite",
            Self::Grant { .. } => "grant",
            Self::Kick { .. } => "kick",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::SaveMember { .. } => "save_member",
            Self::SendInvitation { .. } => "send_invitation",
        }
    }

    /// The journal rows of `actions`: each with the room whose queue runs it, and its JSON.
    pub fn journal(actions: &[Self]) -> Vec<(Option<String>, String)> {
        actions
            .iter()
            .map(|a| {
                // Plain data with string keys: serializing it cannot fail.
                let json = serde_json::to_string(a).expect("an action serializes");
                (a.room().map(str::to_owned), json)
            })
            .collect()
    }

    /// The room whose serial queue runs this action (`None`: store only, no room).
    pub fn room(&self) -> Option<&str> {
        match self {
            Self::CreateRoom { room, .. }
            | Self::RenameRoom { room, .. }
            | Self::SetModerators { room, .. }
            | Self::Invite { room, .. }
            | Self::Grant { room, .. }
            | Self::Kick { room, .. }
            | Self::Subscribe { room, .. }
            | Self::Unsubscribe { room, .. } => Some(room),
            Self::SaveMember { .. } | Self::SendInvitation { .. } => None,
        }
    }

    /// Whether applying it only changes what Relais records (no homeserver, no mail).
    pub fn is_store_only(&self) -> bool {
        !self.writes_homeserver() && !matches!(self, Self::SendInvitation { .. })
    }

    /// Whether applying it writes to the homeserver.
    pub fn writes_homeserver(&self) -> bool {
        matches!(
            self,
            Self::CreateRoom { .. }
                | Self::RenameRoom { .. }
                | Self::SetModerators { .. }
                | Self::Invite { .. }
                | Self::Kick { .. }
        )
    }
}

/// A plan and the figures the safety guard needs.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Active members recorded before this import.
    pub recorded_active: usize,
    /// Of those, how many this plan would take out (lapsed, left the file).
    pub removed_active: usize,
    /// Distinct members who would lose any access: a room or space, a moderator right, a mail
    /// subscription, or their active status. The safety guard counts these.
    pub losing_access: usize,
    /// Active members with no Matrix account who asked for the chat (to onboard).
    pub awaiting_account: usize,
    /// Members the file lets into a room a moderator banned them from: not invited.
    pub kept_out: usize,
}

impl Plan {
    /// Counts per action kind.
    pub fn summary(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for action in &self.actions {
            *counts.entry(action.kind()).or_default() += 1;
        }
        counts
    }

    /// Whether more than `max_percent` % of the active members would lose some access.
    pub fn exceeds_removal_limit(&self, max_percent: u32) -> bool {
        self.recorded_active > 0 && self.losing_access * 100 > self.recorded_active * max_percent as usize
    }
}

/// Why a member loses access to a room, as the member reads it in the kick event.
mod reasons {
    pub const LAPSED: &str = "Cotisation non à jour : accès suspendu jusqu'au renouvellement.";
    pub const LEFT: &str = "N'apparaît plus dans le fichier des adhérents.";
    pub const MOVED: &str =
        "Changement de fédération, de section ou de cellule dans le fichier des adhérents.";
    pub const NEW_ID: &str = "Identifiant Matrix modifié dans le fichier des adhérents.";
    pub const NOT_REFERENT: &str = "N'est plus référent·e numérique dans le fichier des adhérents.";
    pub const NOT_TEAM: &str = "Ne fait plus partie de l'équipe nationale dans la configuration.";
}

/// The rows to apply: valid rows, plus the recorded state of members whose rows are bad, plus
/// members absent from the file, kept as inactive.
fn effective_rows(report: &ReadReport, recorded: &Recorded, options: &PlanOptions) -> Vec<MemberRow> {
    let mut rows: BTreeMap<String, MemberRow> =
        report.rows.iter().map(|r| (r.member_id.clone(), r.clone())).collect();
    // An account created from an invitation stands for the Matrix id the file does not have.
    for (id, row) in rows.iter_mut() {
        if row.matrix_id.is_none() {
            row.matrix_id = recorded.linked.get(id).cloned();
        }
    }
    for (id, member) in &recorded.members {
        if rows.contains_key(id) {
            continue;
        }
        let mut kept = member.clone();
        // Absent from the file: out, unless their row was bad or they belong to another
        // federation than the one this export covers.
        if !report.frozen_ids.contains(id) && options.in_scope(member) {
            kept.active = false;
        }
        rows.insert(id.clone(), kept);
    }
    rows.into_values().collect()
}

/// Plans the changes from `recorded` to what `report` asks for.
pub fn plan(report: &ReadReport, recorded: &Recorded, options: &PlanOptions) -> Plan {
    let rows = effective_rows(report, recorded, options);
    let want =
        desired(&rows, &options.national_name, &options.public, &options.national_team, &recorded.themes);
    let by_id: BTreeMap<&str, &MemberRow> = rows.iter().map(|r| (r.member_id.as_str(), r)).collect();
    let mut actions = Vec::new();
    plan_rooms(&want, recorded, &mut actions);
    let kept_out = plan_access(&want, recorded, &by_id, &mut actions);
    plan_subscriptions(&want, recorded, &mut actions);
    for row in &rows {
        let mut row = row.clone();
        row.line = 0;
        // A member recorded before their rooms were is saved again by a run that covers them
        // (never by a welcome's or another federation's, which leave the others as they are).
        let stale = recorded.unkeyed.contains(&row.member_id)
            && !report.frozen_ids.contains(&row.member_id)
            && options.in_scope(&row);
        if stale || recorded.members.get(&row.member_id) != Some(&row) {
            actions.push(Action::SaveMember { member: row });
        }
    }
    if options.invitations {
        plan_invitations(&rows, recorded, options.now_ms, &mut actions);
    }
    if options.scope.is_some() {
        // The national team is the national import's to change, never a federation's export.
        actions.retain(|action| !national_team_change(action));
    }
    let recorded_active = recorded.members.values().filter(|m| m.active && options.in_scope(m)).count();
    let lapsing: BTreeSet<&str> = recorded
        .members
        .values()
        .filter(|m| {
            m.active && options.in_scope(m) && !by_id.get(m.member_id.as_str()).is_some_and(|r| r.active)
        })
        .map(|m| m.member_id.as_str())
        .collect();
    let removed_active = lapsing.len();
    let losing_access = losing_access(&actions, recorded, lapsing);
    let awaiting_account = rows
        .iter()
        .filter(|r| r.active && r.matrix_id.is_none() && r.contact == crate::model::Contact::Chat)
        .count();
    Plan { actions, recorded_active, removed_active, losing_access, awaiting_account, kept_out }
}

/// Distinct members who lose something in `actions` (a room or space, a moderator right, a
/// subscription), together with `lapsing` (active members who become inactive).
fn losing_access(actions: &[Action], recorded: &Recorded, lapsing: BTreeSet<&str>) -> usize {
    let owners: BTreeMap<&str, &str> = recorded
        .members
        .values()
        .filter_map(|m| Some((m.matrix_id.as_deref()?.as_str(), m.member_id.as_str())))
        .chain(recorded.linked.iter().map(|(id, user)| (user.as_str(), id.as_str())))
        .collect();
    let mut losing: BTreeSet<&str> = lapsing;
    for action in actions {
        match action {
            Action::Kick { member_id, .. } | Action::Unsubscribe { member_id, .. } => {
                losing.insert(member_id);
            }
            Action::SetModerators { room, moderators } => {
                let demoted =
                    recorded.moderators.get(room).into_iter().flatten().filter(|u| !moderators.contains(u));
                losing
                    .extend(demoted.map(|user| owners.get(user.as_str()).copied().unwrap_or(user.as_str())));
            }
            _ => {}
        }
    }
    losing.len()
}

/// A change of the national team's place: its entries in the referents' network, or the
/// moderators of a national room.
fn national_team_change(action: &Action) -> bool {
    match action {
        Action::Invite { member_id, .. } | Action::Kick { member_id, .. } => {
            member_id.starts_with(crate::desired::TEAM_PREFIX)
        }
        Action::SetModerators { room, .. } => crate::moderation::room_scope(room) == crate::desired::NATIONAL,
        _ => false,
    }
}

fn plan_invitations(rows: &[MemberRow], recorded: &Recorded, now_ms: i64, actions: &mut Vec<Action>) {
    for row in rows {
        let wants_chat = row.active && row.contact == crate::model::Contact::Chat && row.matrix_id.is_none();
        let pending = recorded.invitations.get(&row.member_id).is_some_and(|expires| *expires > now_ms);
        if let (true, false, Some(email)) = (wants_chat, pending, &row.email) {
            actions.push(Action::SendInvitation {
                member_id: row.member_id.clone(),
                email: email.clone(),
                first_name: row.first_name.clone(),
                federation: row.federation.clone(),
            });
        }
    }
}

fn plan_rooms(want: &Desired, recorded: &Recorded, actions: &mut Vec<Action>) {
    let mut specs: Vec<&RoomSpec> = want.rooms.values().collect();
    specs.sort_by_key(|s| (s.kind.level(s.parent.is_some()), s.key.clone()));
    for spec in specs {
        match recorded.rooms.get(&spec.key) {
            None => actions.push(Action::CreateRoom {
                room: spec.key.clone(),
                kind: spec.kind,
                name: spec.name.clone(),
                parent: spec.parent.clone(),
                open: spec.open,
            }),
            Some(old) if old.name != spec.name => {
                actions.push(Action::RenameRoom { room: spec.key.clone(), name: spec.name.clone() });
            }
            Some(_) => {}
        }
    }
    let empty = BTreeSet::new();
    for key in want.rooms.keys() {
        let wanted = want.moderators.get(key).unwrap_or(&empty);
        let had = recorded.moderators.get(key).unwrap_or(&empty);
        if wanted != had {
            actions.push(Action::SetModerators {
                room: key.clone(),
                moderators: wanted.iter().cloned().collect(),
            });
        }
    }
}

/// Plans invitations and removals; returns how many members a ban kept out of a room the file
/// lets them into.
fn plan_access(
    want: &Desired,
    recorded: &Recorded,
    rows: &BTreeMap<&str, &MemberRow>,
    actions: &mut Vec<Action>,
) -> usize {
    // Space → the rooms entered through it that keep no entries of their own.
    let mut through_space: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (key, spec) in want.rooms.iter().filter(|(_, r)| r.kind.admits_the_space()) {
        if let Some(parent) = &spec.parent {
            through_space.entry(parent.as_str()).or_default().push(key);
        }
    }
    for ((room, member_id), user_id) in &recorded.access {
        let still = want.access.get(&(room.clone(), member_id.clone()));
        if still == Some(user_id) || keeps_room(want, room, user_id) {
            continue;
        }
        // A ban already keeps them out of it (and the homeserver cannot kick a banned user); the
        // access stays recorded, and goes once the ban is lifted.
        if crate::moderation::is_banned_in(&recorded.banned, user_id, room) {
            continue;
        }
        let reason = match rows.get(member_id.as_str()) {
            _ if still.is_some() => reasons::NEW_ID,
            None if member_id.starts_with(crate::desired::TEAM_PREFIX) => reasons::NOT_TEAM,
            Some(row) if row.active && room == crate::desired::REFERENTS => reasons::NOT_REFERENT,
            Some(row) if !row.active && report_has(row) => reasons::LAPSED,
            Some(row) if row.active => reasons::MOVED,
            _ => reasons::LEFT,
        };
        actions.push(Action::Kick {
            room: room.clone(),
            member_id: member_id.clone(),
            user_id: user_id.clone(),
            reason: reason.to_owned(),
        });
        // Out of the space, out of the rooms entered through it that keep no entries of their own.
        for theme in through_space.get(room.as_str()).into_iter().flatten() {
            actions.push(Action::Kick {
                room: (*theme).clone(),
                member_id: member_id.clone(),
                user_id: user_id.clone(),
                reason: reason.to_owned(),
            });
        }
    }
    let mut kept_out = BTreeSet::new();
    for ((room, member_id), user_id) in &want.access {
        if recorded.access.get(&(room.clone(), member_id.clone())) == Some(user_id) {
            continue;
        }
        if crate::moderation::is_banned_in(&recorded.banned, user_id, room) {
            kept_out.insert(member_id.as_str());
            continue;
        }
        let restricted = want.rooms.get(room).is_some_and(|r| r.kind.is_restricted());
        let (room, member_id, user_id) = (room.clone(), member_id.clone(), user_id.clone());
        actions.push(if restricted {
            Action::Grant { room, member_id, user_id }
        } else {
            Action::Invite { room, member_id, user_id }
        });
    }
    kept_out.len()
}

/// Whether `user` keeps `room` by another entry (a referent of the file who is also of the
/// national team keeps the network when they lose the role). Asked only of removals: the room's
/// entries are walked, never the whole access list copied.
fn keeps_room(want: &Desired, room: &str, user: &OwnedUserId) -> bool {
    want.access
        .range((room.to_owned(), String::new())..)
        .take_while(|((r, _), _)| r == room)
        .any(|(_, u)| u == user)
}

/// A row that came from the file (line > 0) rather than from the record of an absent member.
fn report_has(row: &MemberRow) -> bool {
    row.line > 0
}

fn plan_subscriptions(want: &Desired, recorded: &Recorded, actions: &mut Vec<Action>) {
    for (room, member_id) in recorded.subscriptions.difference(&want.subscriptions) {
        actions.push(Action::Unsubscribe { room: room.clone(), member_id: member_id.clone() });
    }
    for (room, member_id) in want.subscriptions.difference(&recorded.subscriptions) {
        actions.push(Action::Subscribe { room: room.clone(), member_id: member_id.clone() });
    }
}

/// What recorded state becomes once `actions` are all applied (used by tests and dry runs).
pub fn apply_to_record(recorded: &mut Recorded, action: &Action) {
    match action {
        Action::CreateRoom { room, kind, name, parent, open } => {
            let spec = RoomSpec {
                key: room.clone(),
                kind: *kind,
                name: name.clone(),
                parent: parent.clone(),
                open: *open,
            };
            recorded.rooms.insert(room.clone(), spec);
        }
        Action::RenameRoom { room, name } => {
            if let Some(spec) = recorded.rooms.get_mut(room) {
                spec.name = name.clone();
            }
        }
        Action::SetModerators { room, moderators } => {
            recorded.moderators.insert(room.clone(), moderators.iter().cloned().collect());
        }
        Action::Invite { room, member_id, user_id } | Action::Grant { room, member_id, user_id } => {
            recorded.access.insert((room.clone(), member_id.clone()), user_id.clone());
        }
        Action::Kick { room, member_id, user_id, .. } => {
            let key = (room.clone(), member_id.clone());
            if recorded.access.get(&key) == Some(user_id) {
                recorded.access.remove(&key);
            }
        }
        Action::Subscribe { room, member_id } => {
            recorded.subscriptions.insert((room.clone(), member_id.clone()));
        }
        Action::Unsubscribe { room, member_id } => {
            recorded.subscriptions.remove(&(room.clone(), member_id.clone()));
        }
        Action::SaveMember { member } => {
            recorded.unkeyed.remove(&member.member_id);
            recorded.members.insert(member.member_id.clone(), member.clone());
        }
        Action::SendInvitation { member_id, .. } => {
            recorded.invitations.insert(member_id.clone(), i64::MAX);
        }
    }
}

mod scope;
pub use scope::scope_report;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod theme_tests;
