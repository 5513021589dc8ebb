//! Seeds for the bridge's tests (in-crate, and other crates' with the `test-support` feature):
//! one provisioned room mirrored as a list, with its members as provisioning records them.

use relais_provisioning::store::{Effect, ProvisioningStore, RoomRecord};

use super::{MailList, MailStore};

/// A member of the seeded room, subscribed to its list by provisioning.
#[derive(Debug, Clone)]
pub struct SeedMember {
    pub id: String,
    pub active: bool,
    pub matrix_id: Option<String>,
    pub email: Option<String>,
    /// Their record's JSON (names, roles), as provisioning keeps it.
    pub record: String,
}

impl SeedMember {
    /// An active member with an address and an empty record.
    pub fn new(id: &str, email: &str) -> Self {
        Self { id: id.into(), active: true, matrix_id: None, email: Some(email.into()), record: "{}".into() }
    }
}

/// Records `list`'s room (a section, key `list.room_key`) with `members` subscribed by
/// provisioning, and the list itself.
pub async fn seed_list(store: &MailStore, list: &MailList, members: &[SeedMember]) {
    let key = list.room_key.clone().expect("a seeded list has its room's key");
    let mut effects = vec![Effect::Room(RoomRecord {
        key: key.clone(),
        kind: "section".into(),
        name: list.name.clone(),
        parent_key: None,
        room_id: list.room_id.clone(),
        moderators: "[]".into(),
    })];
    for m in members {
        effects.push(Effect::Member {
            member_id: m.id.clone(),
            record: m.record.clone(),
            active: m.active,
            matrix_id: m.matrix_id.clone(),
            email: m.email.clone(),
            rooms: Default::default(),
        });
        effects.push(Effect::Subscribe { room_key: key.clone(), member_id: m.id.clone() });
    }
    ProvisioningStore::new(store.store.clone()).seed(&effects).await.expect("seed provisioning");
    store.list_upsert(list).await.expect("seed the list");
}

/// The list of the Lille section, `nord-lille`, enabled.
pub fn lille(room_id: &str) -> MailList {
    MailList {
        room_id: room_id.into(),
        localpart: "nord-lille".into(),
        name: "Section Lille (Nord)".into(),
        room_key: Some("nord.s.lille".into()),
        enabled: true,
    }
}
