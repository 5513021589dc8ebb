//! What the crypto machine asks to send (its keys, key queries, one-time-key claims, to-device
//! messages), sent with the device's token and reported back to the machine.

use matrix_sdk_common::ruma::{
    OwnedTransactionId,
    api::client::{
        keys::{claim_keys, get_keys, upload_signatures, upload_signing_keys},
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

    /// Publishes the bot's cross-signing identity and signs the device with it, so that clients
    /// which only trust devices their owner verified (MSC4153) still encrypt for it. The keys go
    /// up as the appservice, which Synapse asks for no interactive authentication, also when they
    /// replace those of a device whose store was lost.
    pub(crate) async fn cross_sign(&self) -> Result<(), ClientError> {
        let requests = self.machine.bootstrap_cross_signing(false).await.map_err(machine_error)?;
        if let Some(upload) = requests.upload_keys_req
            && let AnyOutgoingRequest::KeysUpload(keys) = upload.request()
        {
            let response = self.http.send(keys.clone()).await?;
            self.machine.mark_request_as_sent(upload.request_id(), &response).await.map_err(machine_error)?;
        }
        let keys = requests.upload_signing_keys_req;
        let mut signing = upload_signing_keys::v3::Request::new();
        signing.master_key = keys.master_key.map(|k| k.to_raw());
        signing.self_signing_key = keys.self_signing_key.map(|k| k.to_raw());
        signing.user_signing_key = keys.user_signing_key.map(|k| k.to_raw());
        self.http.send_as_appservice(signing).await?;
        self.http.send(requests.upload_signatures_req).await?;
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
