//! Congress mode at work: voters and weights from the loaded mandates file, and the signed
//! minutes posted in the room at closing.

use std::collections::HashMap;

use ruma::{RoomId, UserId};
use serde_json::json;

use relais_appservice::ClientError;
use relais_core::time::format_paris;

use super::{
    mandates::{self, Mandates},
    minutes,
    service::{PollError, Polls},
    spec::PollSpec,
    tally::PollResult,
};
use crate::store::polls::PollRecord;

impl Polls {
    /// The loaded mandates file.
    async fn mandates_file(&self) -> Result<Mandates, PollError> {
        let (mandates, proxies) = self.store.congress_file().await?;
        Ok(Mandates { mandates, proxies })
    }

    /// The Matrix users among `users` who vote in congress mode, with their weights.
    pub(super) async fn congress_voters(&self, users: &[String]) -> Result<Vec<(String, i64)>, PollError> {
        let by_matrix = self.directory.members_by_matrix_id().await?;
        let pairs: Vec<(String, String)> = users
            .iter()
            .filter_map(|u| {
                by_matrix.get(<&UserId>::try_from(u.as_str()).ok()?).map(|m| (u.clone(), m.clone()))
            })
            .collect();
        Ok(mandates::weights(&pairs, &self.mandates_file().await?))
    }

    /// Weights of email-only members (`member:ID` voters) in congress mode.
    pub(super) async fn congress_mail_voters(
        &self,
        members: &[String],
    ) -> Result<Vec<(String, i64)>, PollError> {
        let pairs: Vec<(String, String)> =
            members.iter().map(|m| (format!("member:{m}"), m.clone())).collect();
        Ok(mandates::weights(&pairs, &self.mandates_file().await?))
    }

    /// Voter → weight of a congress poll, as the tally takes it; `None` outside congress mode.
    pub(super) async fn weights_of(
        &self,
        poll: &PollRecord,
        spec: &PollSpec,
    ) -> Result<Option<HashMap<String, u64>>, PollError> {
        if !spec.congress {
            return Ok(None);
        }
        let weights = self.store.poll_weights(&poll.poll_id).await?;
        Ok(Some(weights.into_iter().map(|(v, w)| (v, u64::try_from(w).unwrap_or(0))).collect()))
    }

    /// The signed minutes of a closed congress poll.
    pub async fn minutes(
        &self,
        poll: &PollRecord,
        spec: &PollSpec,
        result: &PollResult,
    ) -> Result<String, PollError> {
        let room = self.directory.room_name(&poll.room_id).await?.unwrap_or_else(|| poll.room_id.to_string());
        let closed = poll.closed_at.map(format_paris).unwrap_or_else(|| "(non clos)".into());
        let ctx = minutes::Context {
            poll_id: &poll.poll_id,
            room: &room,
            opened: &format_paris(poll.created_at),
            closed: &closed,
        };
        Ok(minutes::sign(
            self.config.key(relais_core::KeyPurpose::Minutes).expose(),
            &minutes::text(spec, result, &ctx),
        ))
    }

    /// Posts the signed minutes in the poll's room as a text file (idempotent).
    pub(super) async fn post_minutes(
        &self,
        poll: &PollRecord,
        spec: &PollSpec,
        result: &PollResult,
    ) -> Result<(), PollError> {
        let signed = self.minutes(poll, spec, result).await?;
        let bot = self.config.bot_user_id();
        let name = "proces-verbal.txt";
        let size = signed.len();
        let mxc =
            self.client.upload_media(&bot, "text/plain; charset=utf-8", name, signed.into_bytes()).await?;
        let room_id = RoomId::parse(&poll.room_id).map_err(|e| ClientError::Request(e.to_string()))?;
        let content = json!({"msgtype": "m.file", "body": name, "url": mxc,
            "info": {"mimetype": "text/plain", "size": size},
            "m.relates_to": {"m.in_reply_to": {"event_id": poll.poll_id}}});
        let txn = format!("minutes.{}", poll.poll_id.trim_start_matches('$'));
        self.client.send_raw_event(&room_id, "m.room.message", &txn, &content, &bot).await?;
        Ok(())
    }
}
