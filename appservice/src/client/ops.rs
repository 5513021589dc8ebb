//! The calls the features make, as typed helpers over [`MatrixClient::send`].

use std::time::Duration;

use ruma::{
    EventId, OwnedEventId, RoomId, TransactionId, UserId,
    api::client::{
        appservice::request_ping, membership::join_room_by_id, message::send_message_event,
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

    /// Asks the homeserver to ping this appservice back (`POST /_matrix/client/v1/appservice/{id}/ping`);
    /// returns the round trip the homeserver measured.
    pub async fn ping_appservice(&self, appservice_id: &str) -> Result<Duration, ClientError> {
        let mut request = request_ping::v1::Request::new(appservice_id.to_owned());
        request.transaction_id = Some(TransactionId::new());
        Ok(self.send(request, None).await?.duration)
    }
}
