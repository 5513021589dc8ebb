//! Reading the homeserver's real state of the provisioned rooms, for drift repair.

use std::{collections::BTreeMap, sync::Arc};

use ruma::{RoomId, UserId, events::room::power_levels::RoomPowerLevelsEventContent, int};
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
    for member in client.room_members(room).await? {
        let (Ok(user), Ok(sender)) = (UserId::parse(&member.user_id), UserId::parse(&member.sender)) else {
            continue;
        };
        observed.members.insert(user, Observed { membership: member.membership, sender });
    }
    // No power levels at all is a room without moderators; unreadable ones are an error, never
    // read as "nobody" (which would have every moderator set again, or removed).
    let levels = client.state_content::<RoomPowerLevelsEventContent>(room, "").await?;
    let moderator = int!(50);
    if let Some(levels) = levels {
        observed.event_levels = levels.events.clone();
        observed.moderators =
            levels.users.into_iter().filter(|(_, level)| *level == moderator).map(|(user, _)| user).collect();
    }
    Ok(observed)
}
