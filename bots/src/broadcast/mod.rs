//! `!diffuser [--fédérations Nord,Paris | --toutes] [--sections Lille] [--rôle référent]
//! [--à "18:30"]`, typed as a reply to a message in the national communication room by one of
//! its moderators: the message is copied into the announcements room of each targeted
//! federation (and so to their email subscribers), into chosen sections' rooms, or to the holders
//! of an office in their direct rooms with the bot (`targets`), now or at the given time. Each copy is recorded once it is sent; a copy's transaction id derives
//! from the broadcast and the room, so a retry never posts twice.

mod correction;
mod targets;

use std::{collections::BTreeMap, sync::Arc};

use ruma::{OwnedRoomId, RoomId, UserId};
use serde_json::Value;
use tokio::task::JoinSet;

use relais_appservice::{ClientError, MatrixClient};
use relais_core::{
    Config, Store,
    text::slug,
    time::{DAY_MS, format_paris, now_ms, paris_local_ms, paris_to_utc, parse_paris},
};

use relais_provisioning::{desired::RoomKind, directory::Directory};

use crate::{
    command::split_options,
    links::rewrite_links,
    messages::Allowed,
    service::{configured_room, is_moderator, redirect_base},
    store::{
        BotStore,
        broadcasts::{BroadcastOrigin, DueDelivery, NewBroadcast},
    },
};

pub use crate::service::ServiceError as BroadcastError;

/// Announcements rooms sent to at once (copies within one room stay in order).
const DELIVERY_CONCURRENCY: usize = 8;

#[derive(Debug, Clone)]
pub struct Broadcasts {
    pub store: BotStore,
    pub directory: Directory,
    pub client: MatrixClient,
    pub config: Arc<Config>,
}

impl Broadcasts {
    pub fn new(store: &Store, client: MatrixClient, config: Arc<Config>) -> Self {
        Self { store: BotStore::new(store.clone()), directory: Directory::new(store.clone()), client, config }
    }
}

/// `--à`: `HH:MM` (today, or tomorrow if passed), `AAAA-MM-JJ HH:MM`, or a delay (`30min`).
pub fn parse_when(text: &str, now: i64) -> Option<i64> {
    if let Some(at) = parse_paris(text) {
        return Some(at);
    }
    if let Some((h, m)) = text.trim().split_once(':') {
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        if !(0..24).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        let today = paris_local_ms(now).div_euclid(DAY_MS) * DAY_MS;
        let at = paris_to_utc(today + h * 3_600_000 + m * 60_000);
        return Some(if at > now { at } else { paris_to_utc(today + DAY_MS + h * 3_600_000 + m * 60_000) });
    }
    crate::poll::spec::duration_ms(text).map(|d| now + d)
}

/// The message content to copy: without its reply relation, marked as a broadcast for
/// statistics.
pub(crate) fn copy_of(content: &Value, broadcast_hint: &str) -> Value {
    let mut copy = content.clone();
    if let Some(obj) = copy.as_object_mut() {
        obj.remove("m.relates_to");
        obj.insert("fr.pcf.relais.broadcast".into(), Value::String(broadcast_hint.to_owned()));
    }
    copy
}

impl Broadcasts {
    /// Whether `sender` may broadcast from `room_id` (a moderator of the national room).
    pub async fn may_broadcast(&self, room_id: &RoomId, sender: &UserId) -> Result<bool, ClientError> {
        Ok(self.national_room().await?.as_deref() == Some(room_id)
            && is_moderator(&self.client, room_id, sender).await?)
    }

    /// What `sender` may do in `room_id`, for `!aide`.
    pub async fn allowed(&self, room_id: &RoomId, sender: &UserId) -> Result<Allowed, BroadcastError> {
        // The room's power levels read once: broadcasting and selecting are a moderator's rights
        // in the configured rooms.
        let moderator = is_moderator(&self.client, room_id, sender).await?;
        Ok(Allowed {
            moderator,
            broadcast: moderator && self.national_room().await?.as_deref() == Some(room_id),
            selection: moderator && self.selection_room().await?.as_deref() == Some(room_id),
        })
    }

    pub(crate) async fn national_room(&self) -> Result<Option<OwnedRoomId>, ClientError> {
        configured_room(&self.client, self.config.bots.national_room.as_deref()).await
    }

    /// Handles `!diffuser`; returns the notice for the national room.
    pub async fn command(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        command_event: &str,
        reply_to: Option<&str>,
        words: &[String],
    ) -> Result<String, BroadcastError> {
        use crate::messages::broadcast as text;
        if self.national_room().await?.as_deref() != Some(room_id) {
            return Ok(text::wrong_room());
        }
        if !is_moderator(&self.client, room_id, sender).await? {
            return Ok(text::refused());
        }
        let Some(source) = reply_to else { return Ok(text::not_a_reply()) };
        let Ok(options) = split_options(words, &["toutes", "all"]) else { return Ok(text::usage()) };
        let known =
            ["toutes", "all", "fédérations", "federations", "sections", "rôle", "role", "à", "a", "at"];
        if let Some(name) = options.unknown(&known) {
            return Ok(format!("{}\n{}", crate::messages::unknown_option(name), text::usage()));
        }
        let now = now_ms();
        let send_at = match options.value("à").or(options.value("a")).or(options.value("at")) {
            Some(when) => match parse_when(when, now) {
                Some(at) => at,
                None => return Ok(text::bad_time()),
            },
            None => now,
        };
        let original = self.client.room_event(room_id, source).await?;
        if original["type"] == "m.room.encrypted" {
            return Ok(crate::messages::unreadable_original());
        }
        // Last, as a broadcast by office makes the direct rooms it needs.
        let targets = match self.targets(&options).await? {
            Ok(targets) => targets,
            Err(answer) => return Ok(answer),
        };
        let mut content = copy_of(&original["content"], command_event);
        let links = rewrite_links(&mut content, &redirect_base(&self.config), command_event);
        let broadcast = NewBroadcast {
            origin: BroadcastOrigin::Copy,
            command_event: command_event.to_owned(),
            source_room: room_id.to_string(),
            source_event: source.to_owned(),
            sender: sender.to_string(),
            content: content.to_string(),
            send_at,
            targets: targets.rooms.clone(),
            links,
        };
        let id = self.store.broadcast_create(&broadcast).await?;
        let answer = if send_at <= now {
            self.deliver_due(now).await?;
            let (total, delivered) = self.store.broadcast_progress(id).await?;
            if targets.direct { text::sent_direct(delivered, total) } else { text::sent(delivered, total) }
        } else {
            text::scheduled(targets.rooms.len(), &format_paris(send_at))
        };
        let mut answer = answer;
        if targets.without_account > 0 {
            answer = format!("{answer} {}", text::without_account(targets.without_account));
        }
        if targets.unreachable > 0 {
            answer = format!("{answer} {}", text::unreachable(targets.unreachable));
        }
        Ok(answer)
    }

    /// (room id, federation) of every federation's announcements room.
    pub(crate) async fn all_targets(&self) -> Result<Vec<(String, String)>, BroadcastError> {
        let rooms = self.directory.rooms_of_kinds(&[RoomKind::Announcements]).await?;
        Ok(rooms.into_iter().map(|r| (r.room_id.to_string(), r.name)).collect())
    }

    /// Sends every copy that is due; returns how many went out. Rooms are served in parallel
    /// ([`DELIVERY_CONCURRENCY`] at a time), each room's copies in order (a selection's heading
    /// before its items).
    pub async fn deliver_due(&self, now: i64) -> Result<usize, BroadcastError> {
        let due = self.store.broadcast_due(now).await?;
        let count = due.len();
        self.per_room(
            due,
            |d| d.room_id.clone(),
            |this, copies| async move { this.deliver_room(copies).await },
        )
        .await?;
        Ok(count)
    }

    /// Runs `work` over each room's items, [`DELIVERY_CONCURRENCY`] rooms at a time, each room's
    /// items in the order given.
    pub(crate) async fn per_room<T, F, Fut>(
        &self,
        items: Vec<T>,
        room_of: impl Fn(&T) -> String,
        work: F,
    ) -> Result<(), BroadcastError>
    where
        T: Send + 'static,
        F: Fn(Self, Vec<T>) -> Fut,
        Fut: Future<Output = Result<(), BroadcastError>> + Send + 'static,
    {
        let mut by_room: BTreeMap<String, Vec<T>> = BTreeMap::new();
        for item in items {
            by_room.entry(room_of(&item)).or_default().push(item);
        }
        let mut rooms = by_room.into_values();
        let mut running = JoinSet::new();
        loop {
            while running.len() < DELIVERY_CONCURRENCY {
                let Some(batch) = rooms.next() else { break };
                running.spawn(work(self.clone(), batch));
            }
            match running.join_next().await {
                Some(done) => done.map_err(|e| {
                    ClientError::Request(format!("delivery task {}", relais_core::panic::task_end(&e)))
                })??,
                None => return Ok(()),
            }
        }
    }

    async fn deliver_room(&self, copies: Vec<DueDelivery>) -> Result<(), BroadcastError> {
        let bot = self.config.bot_user_id();
        for delivery in copies {
            let room_id =
                RoomId::parse(&delivery.room_id).map_err(|e| ClientError::Request(e.to_string()))?;
            let content = &delivery.content;
            let txn = format!("bcast.{}.{}", delivery.broadcast_id, slug(&delivery.room_id));
            let event_id =
                self.client.send_raw_event(&room_id, "m.room.message", &txn, content, &bot).await?;
            self.store
                .broadcast_delivered(delivery.broadcast_id, &delivery.room_id, &event_id, delivery.revision)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_dates_and_delays() {
        let now = parse_paris("2026-11-24 09:00").expect("now");
        assert_eq!(parse_when("18:30", now), parse_paris("2026-11-24 18:30"));
        assert_eq!(parse_when("08:00", now), parse_paris("2026-11-25 08:00"), "passed today: tomorrow");
        assert_eq!(parse_when("2026-12-01 10:00", now), parse_paris("2026-12-01 10:00"));
        assert_eq!(parse_when("30min", now), Some(now + 1_800_000));
        assert_eq!(parse_when("25:00", now), None);
        assert_eq!(parse_when("bientôt", now), None);
    }

    #[test]
    fn copies_lose_their_reply_relation() {
        let content =
            serde_json::json!({"msgtype": "m.text", "body": "Appel", "m.relates_to": {"m.in_reply_to": {}}});
        let copy = copy_of(&content, "$cmd");
        assert_eq!(
            copy,
            serde_json::json!({"msgtype": "m.text", "body": "Appel", "fr.pcf.relais.broadcast": "$cmd"})
        );
    }
}
