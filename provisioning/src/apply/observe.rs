//! Reading the homeserver's real state of the provisioned rooms, for drift repair.

use std::{collections::BTreeMap, sync::Arc};

use ruma::{OwnedUserId, RoomId};
use tokio::{sync::Semaphore, task::JoinSet};

use relais_appservice::MatrixClient;

use super::Failure;
use crate::{
    drift::{Observed, ObservedRoom},
    plan::Recorded,
};

/// Observes every recorded room (`room_ids`: key → Matrix room id), `concurrency` at a time.
pub async fn observe(
    client: &MatrixClient,
    room_ids: &BTreeMap<String, String>,
    recorded: &Recorded,
    concurrency: usize,
) -> Result<BTreeMap<String, ObservedRoom>, Failure> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for key in recorded.rooms.keys() {
        let Some(id) = room_ids.get(key).and_then(|id| RoomId::parse(id).ok()) else { continue };
        let (client, permits, key) = (client.clone(), permits.clone(), key.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            observe_room(&client, &id).await.map(|room| (key, room))
        });
    }
    let mut observed = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((key, room))) => {
                observed.insert(key, room);
            }
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(Failure::Transient(format!(
                    "observation task {}",
                    relais_core::panic::task_end(&e)
                )));
            }
        }
    }
    Ok(observed)
}

async fn observe_room(client: &MatrixClient, room: &RoomId) -> Result<ObservedRoom, Failure> {
    let mut observed = ObservedRoom::default();
    for event in client.member_events(room).await? {
        let (Some(user), Some(sender), Some(membership)) = (
            event["state_key"].as_str().and_then(|u| OwnedUserId::try_from(u).ok()),
            event["sender"].as_str().and_then(|u| OwnedUserId::try_from(u).ok()),
            event["content"]["membership"].as_str(),
        ) else {
            continue;
        };
        observed.members.insert(user, Observed { membership: membership.to_owned(), sender });
    }
    let levels = client.state(room, "m.room.power_levels", "").await?.unwrap_or_default();
    if let Some(users) = levels["users"].as_object() {
        observed.moderators = users
            .iter()
            .filter(|(_, level)| level.as_i64() == Some(50))
            .filter_map(|(user, _)| OwnedUserId::try_from(user.as_str()).ok())
            .collect();
    }
    Ok(observed)
}
