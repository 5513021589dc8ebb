//! The calls the features make, as typed helpers over [`MatrixClient::send`].

use std::time::Duration;

use ruma::{
    EventId, OwnedEventId, RoomId, TransactionId, UserId,
    api::client::{
        appservice::request_ping,
        membership::join_room_by_id,
        message::{get_message_events, send_message_event},
        redact::redact_event,
    },
    events::room::message::RoomMessageEventContent,
};

use super::{ClientError, MatrixClient};

impl MatrixClient {
    /// Joins `room_id` as `as_user` (the sender user when `None`); joining twice is harmless.
    pub async fn join_room(&self, room_id: &RoomId, as_user: Option<&UserId>) -> Result<(), ClientError> {
        self.send(join_room_by_id::v3::Request::new(room_id.to_owned()), as_user).await?;
        Ok(())
    }

    /// Sends a message; `txn_id` makes a resend after a crash a no-op on the homeserver.
    pub async fn send_message(
        &self,
        room_id: &RoomId,
        txn_id: &TransactionId,
        content: &RoomMessageEventContent,
        as_user: Option<&UserId>,
    ) -> Result<OwnedEventId, ClientError> {
        let sender = as_user.map_or_else(|| self.inner.bot.clone(), ToOwned::to_owned);
        let json = serde_json::to_value(content).map_err(|e| ClientError::Request(e.to_string()))?;
        if let Some(id) =
            self.send_encrypted(room_id, "m.room.message", txn_id.as_str(), &json, &sender).await?
        {
            return OwnedEventId::try_from(id).map_err(|e| ClientError::Response(e.to_string()));
        }
        let request = send_message_event::v3::Request::new(room_id.to_owned(), txn_id.to_owned(), content)
            .map_err(|e| ClientError::Request(e.to_string()))?;
        Ok(self.send(request, as_user).await?.event_id)
    }

    /// Redacts `event_id` in `room_id` as the sender user, with a caller-chosen transaction id (a
    /// retry after a crash is the same redaction); returns the redaction's event id.
    pub async fn redact(
        &self,
        room_id: &RoomId,
        event_id: &EventId,
        txn_id: &TransactionId,
        reason: Option<&str>,
    ) -> Result<OwnedEventId, ClientError> {
        let mut request =
            redact_event::v3::Request::new(room_id.to_owned(), event_id.to_owned(), txn_id.to_owned());
        request.reason = reason.map(str::to_owned);
        Ok(self.send(request, None).await?.event_id)
    }

    /// The ids of `sender`'s latest messages (and reactions, stickers, poll starts, encrypted
    /// events) in `room_id` not redacted yet, newest first, at most `limit`.
    pub async fn latest_messages_of(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        limit: u32,
    ) -> Result<Vec<OwnedEventId>, ClientError> {
        let mut request = get_message_events::v3::Request::backward(room_id.to_owned());
        // Messages already redacted come back too and are skipped: ask for more than the limit.
        request.limit = limit.saturating_mul(2).saturating_add(20).into();
        request.filter.senders = Some(vec![sender.to_owned()]);
        request.filter.types = Some(
            [
                "m.room.message",
                "m.reaction",
                "m.sticker",
                "m.room.encrypted",
                "m.poll.start",
                "org.matrix.msc3381.poll.start",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
        let response = self.send(request, None).await?;
        let mut ids = Vec::new();
        for raw in response.chunk {
            let Ok(Some(id)) = raw.get_field::<OwnedEventId>("event_id") else { continue };
            let redacted = raw
                .get_field::<serde_json::Value>("unsigned")
                .ok()
                .flatten()
                .is_some_and(|unsigned| unsigned.get("redacted_because").is_some());
            if !redacted && ids.len() < usize::try_from(limit).unwrap_or(usize::MAX) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Asks the homeserver to ping this appservice back (`POST /_matrix/client/v1/appservice/{id}/ping`);
    /// returns the round trip the homeserver measured.
    pub async fn ping_appservice(&self, appservice_id: &str) -> Result<Duration, ClientError> {
        let mut request = request_ping::v1::Request::new(appservice_id.to_owned());
        request.transaction_id = Some(TransactionId::new());
        Ok(self.send(request, None).await?.duration)
    }
}
