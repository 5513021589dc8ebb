//! The appservice's own users other than the bot (mail ghosts): registration and profile.

use ruma::{
    UserId,
    api::{
        client::profile::{ProfileFieldValue, set_profile_field},
        error::ErrorCode,
    },
};
use serde_json::{Value, json};

use super::{ClientError, MatrixClient};

impl MatrixClient {
    /// Registers `localpart` in the appservice namespace; an existing user is success.
    pub async fn register_appservice_user(&self, localpart: &str) -> Result<(), ClientError> {
        let url = format!("{}/_matrix/client/v3/register", self.inner.base_url);
        let body =
            json!({"type": "m.login.application_service", "username": localpart, "inhibit_login": true});
        let request = self.inner.http.post(&url).bearer_auth(self.inner.as_token.expose()).json(&body);
        match self.raw(request).await {
            Ok(_) => Ok(()),
            Err(ClientError::Matrix { errcode: Some(ErrorCode::UserInUse), .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sets the display name of one of the appservice's users.
    pub async fn set_display_name(&self, user_id: &UserId, name: &str) -> Result<(), ClientError> {
        let request = set_profile_field::v3::Request::new(
            user_id.to_owned(),
            ProfileFieldValue::DisplayName(name.to_owned()),
        );
        self.send(request, Some(user_id)).await?;
        Ok(())
    }

    /// Uploads media as `as_user`; returns its `mxc://` URI.
    pub async fn upload_media(
        &self,
        as_user: &UserId,
        content_type: &str,
        file_name: &str,
        data: Vec<u8>,
    ) -> Result<String, ClientError> {
        let url = format!(
            "{}/_matrix/media/v3/upload?user_id={}&filename={}",
            self.inner.base_url,
            urlencode(as_user.as_str()),
            urlencode(file_name)
        );
        let request = self
            .inner
            .http
            .post(&url)
            .bearer_auth(self.inner.as_token.expose())
            .header("content-type", content_type)
            .body(data);
        let answer: Value = self.raw(request).await?;
        answer["content_uri"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Response("no content_uri in the upload answer".into()))
    }

    /// Downloads media (authenticated media API, as the appservice); returns the bytes and the
    /// content type. Refuses a file larger than `max_bytes` without reading past the limit.
    pub async fn download_media(
        &self,
        mxc: &ruma::MxcUri,
        max_bytes: u64,
    ) -> Result<(Vec<u8>, String), ClientError> {
        let mut media = self.open_media(mxc, max_bytes).await?;
        let mut data = Vec::new();
        while let Some(chunk) =
            media.response.chunk().await.map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?
        {
            if (data.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            data.extend_from_slice(&chunk);
        }
        Ok((data, media.content_type))
    }

    /// Starts downloading media, for a caller that streams it on: only a valid
    /// `mxc://server/id` is fetched, each part encoded, so a crafted URI cannot reach any other
    /// endpoint with the appservice's token. A file announced larger than `max_bytes` is
    /// refused; the caller stops reading at `max_bytes` when the size was not announced.
    pub async fn open_media(&self, mxc: &ruma::MxcUri, max_bytes: u64) -> Result<MediaDownload, ClientError> {
        let url = self.media_download_url(mxc)?;
        self.inner.metrics.client_requests.inc();
        let response = self
            .inner
            .http
            .get(&url)
            .bearer_auth(self.inner.as_token.expose())
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if status >= 400 {
            return Err(ClientError::matrix(status, "", "media download"));
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        Ok(MediaDownload { content_type, response })
    }

    /// `/_matrix/client/v1/media/download/{server}/{id}` for a valid `mxc://` URI only.
    fn media_download_url(&self, mxc: &ruma::MxcUri) -> Result<String, ClientError> {
        let (server, media_id) =
            mxc.parts().map_err(|e| ClientError::Request(format!("not a valid mxc:// URI: {e}")))?;
        if media_id.is_empty() {
            return Err(ClientError::Request("not a valid mxc:// URI: no media id".into()));
        }
        Ok(format!(
            "{}/_matrix/client/v1/media/download/{}/{}",
            self.inner.base_url,
            urlencode(server.as_str()),
            urlencode(media_id)
        ))
    }

    /// One event of a room, as the bot sees it (decrypted when it can).
    pub async fn room_event(&self, room_id: &ruma::RoomId, event_id: &str) -> Result<Value, ClientError> {
        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/event/{}",
            self.inner.base_url,
            urlencode(room_id.as_str()),
            urlencode(event_id)
        );
        let event = self.raw(self.inner.http.get(&url).bearer_auth(self.inner.as_token.expose())).await?;
        Ok(self.decrypted(room_id, event).await)
    }

    /// Sends any event content as `as_user` with a caller-chosen transaction id (idempotent).
    pub async fn send_raw_event(
        &self,
        room_id: &ruma::RoomId,
        event_type: &str,
        txn_id: &str,
        content: &Value,
        as_user: &UserId,
    ) -> Result<String, ClientError> {
        if let Some(event_id) = self.send_encrypted(room_id, event_type, txn_id, content, as_user).await? {
            return Ok(event_id);
        }
        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/send/{}/{}?user_id={}",
            self.inner.base_url,
            urlencode(room_id.as_str()),
            urlencode(event_type),
            urlencode(txn_id),
            urlencode(as_user.as_str())
        );
        let request = self.inner.http.put(&url).bearer_auth(self.inner.as_token.expose()).json(content);
        let answer = self.raw(request).await?;
        answer["event_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Response("no event_id in the send answer".into()))
    }
}

/// Media being downloaded: its type, and the response to read its body from.
#[derive(Debug)]
pub struct MediaDownload {
    pub content_type: String,
    pub response: reqwest::Response,
}

fn too_large() -> ClientError {
    ClientError::Response("media larger than the limit".into())
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
