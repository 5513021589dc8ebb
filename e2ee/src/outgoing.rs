//! What the crypto machine asks to send (its keys, key queries, one-time-key claims, to-device
//! messages), sent with the device's token and reported back to the machine.

use matrix_sdk_common::ruma::{
    OwnedTransactionId,
    api::client::{
        keys::{claim_keys, get_keys, upload_signatures},
        to_device::send_event_to_device,
    },
};
use matrix_sdk_crypto::types::requests::{AnyOutgoingRequest, ToDeviceRequest};

use relais_appservice::ClientError;

use crate::BotDevice;

/// The machine's store or state failed: reported as an outage, the caller retries.
pub(crate) fn machine_error(e: impl std::fmt::Display) -> ClientError {
    ClientError::Unreachable(format!("the bot's crypto machine: {e}"))
}

impl BotDevice {
    /// Sends every request the machine has queued. The caller holds `self.lock`.
    pub(crate) async fn send_outgoing(&self) -> Result<(), ClientError> {
        for request in self.machine.outgoing_requests().await.map_err(machine_error)? {
            let id = request.request_id();
            match request.request() {
                AnyOutgoingRequest::KeysUpload(upload) => {
                    let response = self.http.send(upload.clone()).await?;
                    self.machine.mark_request_as_sent(id, &response).await.map_err(machine_error)?;
                }
                AnyOutgoingRequest::KeysQuery(query) => {
                    let mut ruma = get_keys::v3::Request::new();
                    ruma.device_keys = query.device_keys.clone();
                    let response = self.http.send(ruma).await?;
                    self.machine.mark_request_as_sent(id, &response).await.map_err(machine_error)?;
                }
                AnyOutgoingRequest::KeysClaim(claim) => self.claim(id.to_owned(), claim).await?,
                AnyOutgoingRequest::ToDeviceRequest(to_device) => self.to_device(to_device).await?,
                AnyOutgoingRequest::SignatureUpload(signatures) => {
                    let ruma = upload_signatures::v3::Request::new(signatures.signed_keys.clone());
                    let response = self.http.send(ruma).await?;
                    self.machine.mark_request_as_sent(id, &response).await.map_err(machine_error)?;
                }
                // Interactive verification in rooms is not offered by the bot.
                AnyOutgoingRequest::RoomMessage(_) => {}
            }
        }
        Ok(())
    }

    /// Claims one-time keys to open Olm sessions with devices the bot has none with.
    pub(crate) async fn claim(
        &self,
        id: OwnedTransactionId,
        claim: &claim_keys::v3::Request,
    ) -> Result<(), ClientError> {
        let ruma = claim_keys::v3::Request::new(claim.one_time_keys.clone());
        let response = self.http.send(ruma).await?;
        self.machine.mark_request_as_sent(&id, &response).await.map_err(machine_error)
    }

    /// Sends to-device messages (Olm-encrypted room keys).
    pub(crate) async fn to_device(&self, request: &ToDeviceRequest) -> Result<(), ClientError> {
        let ruma = send_event_to_device::v3::Request::new_raw(
            request.event_type.clone(),
            request.txn_id.clone(),
            request.messages.clone(),
        );
        let response = self.http.send(ruma).await?;
        self.machine.mark_request_as_sent(&request.txn_id, &response).await.map_err(machine_error)
    }
}
