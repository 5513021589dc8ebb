//! Conversions between the store's shapes and the planner's.

use std::collections::BTreeSet;

use ruma::{OwnedUserId, UserId};

use crate::store::{Effect, RoomRecord, Snapshot};

use crate::{
    desired::{RoomKind, RoomSpec},
    model::MemberRow,
    plan::{Action, Recorded},
};

/// Parses what the store holds into the planner's view. Unreadable records are skipped with a
/// log line, never taken for empty ones: a corrupt row must not stop every later import, and
/// the plan writes what it skipped again (a member in the file is recorded anew, a room's
/// moderators are set again).
pub fn recorded(snapshot: &Snapshot) -> Recorded {
    let mut rec = Recorded::default();
    for room in &snapshot.rooms {
        let Ok(kind) = serde_json::from_value::<RoomKind>(serde_json::Value::String(room.kind.clone()))
        else {
            tracing::warn!(room = %room.key, "unknown room kind in the record; skipped");
            continue;
        };
        rec.rooms.insert(
            room.key.clone(),
            RoomSpec {
                key: room.key.clone(),
                kind,
                name: room.name.clone(),
                parent: room.parent_key.clone(),
                open: None,
            },
        );
        match serde_json::from_str::<BTreeSet<OwnedUserId>>(&room.moderators) {
            Ok(moderators) if moderators.is_empty() => {}
            Ok(moderators) => {
                rec.moderators.insert(room.key.clone(), moderators);
            }
            Err(_) => tracing::warn!(room = %room.key, "unreadable moderators in the record; set again"),
        }
    }
    for (id, json, keyed) in &snapshot.members {
        match serde_json::from_str::<MemberRow>(json) {
            Ok(row) => {
                if !keyed {
                    rec.unkeyed.insert(id.clone());
                }
                rec.members.insert(id.clone(), row);
            }
            Err(_) => tracing::warn!("unreadable member record skipped"),
        }
    }
    for (room, member, user) in &snapshot.access {
        match UserId::parse(user) {
            Ok(user) => {
                rec.access.insert((room.clone(), member.clone()), user);
            }
            Err(_) => tracing::warn!(%room, "unreadable Matrix id in the record of a room's access; skipped"),
        }
    }
    rec.subscriptions = snapshot.subscriptions.iter().cloned().collect();
    rec.banned = snapshot.bans.clone();
    rec.themes = snapshot.themes.clone();
    for invitation in &snapshot.invitations {
        match invitation.user_id.as_deref().map(UserId::parse) {
            Some(Ok(user)) => {
                rec.linked.insert(invitation.member_id.clone(), user);
            }
            _ if invitation.used_at.is_none() => {
                rec.invitations.insert(invitation.member_id.clone(), invitation.expires_at);
            }
            _ => {}
        }
    }
    rec
}

/// What completing `action` changes in the record. `room_id` is the id of the room a
/// `CreateRoom` made (unused for the other actions).
pub fn effect_of(action: &Action, room_id: &str) -> Effect {
    match action {
        Action::CreateRoom { room, kind, name, parent, .. } => Effect::Room(RoomRecord {
            key: room.clone(),
            kind: kind.as_str().to_owned(),
            name: name.clone(),
            parent_key: parent.clone(),
            room_id: room_id.to_owned(),
            moderators: "[]".into(),
        }),
        Action::RenameRoom { room, name } => Effect::Rename { key: room.clone(), name: name.clone() },
        Action::SetModerators { room, moderators } => Effect::Moderators {
            key: room.clone(),
            moderators: serde_json::to_string(moderators).unwrap_or_else(|_| "[]".into()),
        },
        Action::Invite { room, member_id, user_id } | Action::Grant { room, member_id, user_id } => {
            Effect::Grant {
                room_key: room.clone(),
                member_id: member_id.clone(),
                user_id: user_id.to_string(),
            }
        }
        Action::Kick { room, member_id, user_id, .. } => Effect::Revoke {
            room_key: room.clone(),
            member_id: member_id.clone(),
            user_id: user_id.to_string(),
        },
        Action::Subscribe { room, member_id } => {
            Effect::Subscribe { room_key: room.clone(), member_id: member_id.clone() }
        }
        Action::Unsubscribe { room, member_id } => {
            Effect::Unsubscribe { room_key: room.clone(), member_id: member_id.clone() }
        }
        Action::SendInvitation { member_id, .. } => Effect::InvitationSent { member_id: member_id.clone() },
        Action::SaveMember { member } => Effect::Member {
            member_id: member.member_id.clone(),
            record: serde_json::to_string(member).unwrap_or_default(),
            active: member.active,
            matrix_id: member.matrix_id.as_ref().map(ToString::to_string),
            email: member.email.clone(),
            rooms: crate::store::MemberRooms::of(member),
        },
    }
}

/// Audit wording: the target and the why of an action, without personal data beyond ids.
pub fn describe(action: &Action) -> (String, String) {
    match action {
        Action::CreateRoom { room, name, .. } => (format!("room {room}"), format!("created \"{name}\"")),
        Action::RenameRoom { room, name } => (format!("room {room}"), format!("renamed \"{name}\"")),
        Action::SetModerators { room, moderators } => {
            (format!("room {room}"), format!("{} moderators", moderators.len()))
        }
        Action::Invite { room, member_id, .. } => {
            (format!("room {room} member {member_id}"), "invited".into())
        }
        Action::Grant { room, member_id, .. } => {
            (format!("room {room} member {member_id}"), "allowed through the space".into())
        }
        Action::Kick { room, member_id, reason, .. } => {
            (format!("room {room} member {member_id}"), reason.clone())
        }
        Action::Subscribe { room, member_id } => {
            (format!("room {room} member {member_id}"), "email subscriber".into())
        }
        Action::Unsubscribe { room, member_id } => {
            (format!("room {room} member {member_id}"), "no longer email subscriber".into())
        }
        Action::SendInvitation { member_id, .. } => {
            (format!("member {member_id}"), "invitation to create an account emailed".into())
        }
        Action::SaveMember { member } => (
            format!("member {}", member.member_id),
            if member.active { "recorded as active".into() } else { "recorded as inactive".into() },
        ),
    }
}
