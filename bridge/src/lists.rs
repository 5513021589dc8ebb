//! Which rooms are lists: the provisioned announcements and section rooms, plus rooms a
//! moderator turned on with `!courriel activer`.

use relais_core::store::StoreError;
use relais_provisioning::{
    desired::RoomKind,
    directory::{Directory, DirectoryRoom},
};

use crate::store::{MailList, MailStore};

/// Local parts Relais keeps for itself.
const RESERVED: &[&str] = &["bounces", "tout", "relais", "postmaster", "abuse", "noreply"];
const MAX_LOCALPART: usize = 40;

/// A list local part from a provisioning room key (`nord.s.lille-centre` → `nord-lille-centre`)
/// or a room name: lowercase ASCII letters, digits and dashes.
pub fn localpart_for(key_or_name: &str) -> String {
    let parts: Vec<&str> = key_or_name.split('.').filter(|p| *p != "s" && *p != "c").collect();
    let mut out: String = relais_core::text::slug(&parts.join(" ")).chars().take(MAX_LOCALPART).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() || RESERVED.contains(&out.as_str()) {
        out = format!("liste-{out}");
    }
    out
}

/// A local part not used by another room.
async fn free_localpart(store: &MailStore, room_id: &str, wanted: String) -> Result<String, StoreError> {
    let mut candidate = wanted.clone();
    for n in 2.. {
        match store.list_by_localpart(&candidate).await? {
            Some(list) if list.room_id != room_id => candidate = format!("{wanted}-{n}"),
            _ => break,
        }
    }
    Ok(candidate)
}

/// Creates the lists of provisioned announcements and section rooms that have none yet.
/// Returns how many were created.
pub async fn sync_provisioned(store: &MailStore, directory: &Directory) -> Result<usize, StoreError> {
    let kinds = [RoomKind::Announcements, RoomKind::Section];
    let rooms = directory.rooms_of_kinds(&kinds).await?;
    let existing: std::collections::HashSet<String> =
        store.lists().await?.into_iter().map(|l| l.room_id).collect();
    let mut created = 0;
    for DirectoryRoom { key, name, room_id, .. } in rooms {
        let room_id = room_id.to_string();
        if existing.contains(&room_id) {
            continue;
        }
        let localpart = free_localpart(store, &room_id, localpart_for(&key)).await?;
        store.list_upsert(&MailList { room_id, localpart, name, room_key: Some(key), enabled: true }).await?;
        created += 1;
    }
    Ok(created)
}

/// Turns a room into a list (or back on); returns its local part.
pub async fn enable(store: &MailStore, room_id: &str, name: &str) -> Result<String, StoreError> {
    if let Some(list) = store.list(room_id).await? {
        store.list_set_enabled(room_id, true).await?;
        return Ok(list.localpart);
    }
    let localpart = free_localpart(store, room_id, localpart_for(name)).await?;
    store
        .list_upsert(&MailList {
            room_id: room_id.to_owned(),
            localpart: localpart.clone(),
            name: name.to_owned(),
            room_key: None,
            enabled: true,
        })
        .await?;
    Ok(localpart)
}

#[cfg(test)]
mod tests {
    use super::localpart_for;

    #[test]
    fn local_parts_are_plain_and_short() {
        assert_eq!(localpart_for("nord.annonces"), "nord-annonces");
        assert_eq!(localpart_for("nord.s.lille-centre"), "nord-lille-centre");
        assert_eq!(localpart_for("Comité de quartier Écoles"), "comite-de-quartier-ecoles");
        assert_eq!(localpart_for("tout"), "liste-tout");
        assert!(localpart_for(&"x".repeat(90)).len() <= 40);
    }
}
