//! A member's Matrix client: plain client-server API calls over HTTP, independent of Relais.

use std::time::Duration;

use serde_json::{Value, json};

use super::eventually;

pub struct Member {
    pub user_id: String,
    pub token: String,
    base: String,
    http: reqwest::Client,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The password the harness registers `localpart` with.
pub fn password_for(localpart: &str) -> String {
    format!("pw-{localpart}-Relais!")
}

impl Member {
    /// The password this member was registered with (for clients that log in themselves).
    pub fn password(&self) -> String {
        password_for(self.user_id.trim_start_matches('@').split(':').next().unwrap_or_default())
    }

    pub fn new(base: &str, user_id: &str, token: &str) -> Self {
        Self { user_id: user_id.into(), token: token.into(), base: base.into(), http: reqwest::Client::new() }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req =
            self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let json: Value = resp.json().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path} as {}: {status} {json}", self.user_id);
        json
    }

    /// POSTs `body` to `path` (a client-server API path), failing the test on an error.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// PUTs `body` to `path` (a client-server API path), failing the test on an error.
    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    /// Tries to join a room by id or alias; returns the HTTP status.
    pub async fn try_join(&self, room: &str) -> u16 {
        let path = format!("/_matrix/client/v3/join/{}", enc(room));
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&json!({}))
            .send()
            .await
            .expect("join request");
        resp.status().as_u16()
    }

    /// The room an alias points to.
    pub async fn resolve(&self, alias: &str) -> String {
        let path = format!("/_matrix/client/v3/directory/room/{}", enc(alias));
        let json = self.call(reqwest::Method::GET, &path, None).await;
        json["room_id"].as_str().expect("room_id").to_owned()
    }

    /// A PUT on the client-server API; returns the HTTP status instead of failing.
    pub async fn try_put(&self, path: &str, body: Value) -> u16 {
        let resp =
            self.http.put(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body).send().await;
        resp.expect("put request").status().as_u16()
    }

    /// The room an alias points to, if it points anywhere yet.
    pub async fn try_resolve(&self, alias: &str) -> Option<String> {
        let path = format!("/_matrix/client/v3/directory/room/{}", enc(alias));
        let resp =
            self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.ok()?;
        let json: Value = resp.json().await.ok()?;
        json["room_id"].as_str().map(str::to_owned)
    }

    /// Leaves `room`.
    pub async fn leave(&self, room: &str) {
        let path = format!("/_matrix/client/v3/rooms/{}/leave", enc(room));
        self.call(reqwest::Method::POST, &path, Some(serde_json::json!({}))).await;
    }

    /// The rooms this member has joined.
    pub async fn joined_rooms(&self) -> Vec<String> {
        let json = self.call(reqwest::Method::GET, "/_matrix/client/v3/joined_rooms", None).await;
        let rooms = json["joined_rooms"].as_array().cloned().unwrap_or_default();
        rooms.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect()
    }

    /// The rooms this member is invited to, from an initial sync.
    pub async fn invites(&self) -> Vec<String> {
        let json = self.call(reqwest::Method::GET, "/_matrix/client/v3/sync?timeout=0", None).await;
        json["rooms"]["invite"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// Sends a text message; returns the HTTP status instead of failing.
    pub async fn try_send_text(&self, room: &str, body: &str) -> u16 {
        let txn = format!("t{:016x}", rand::random::<u64>());
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", enc(room));
        let resp = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"msgtype": "m.text", "body": body}))
            .send()
            .await
            .expect("send request");
        resp.status().as_u16()
    }

    /// A state event's content, as this client may read it.
    pub async fn state(&self, room: &str, event_type: &str, state_key: &str) -> Value {
        let path = format!("/_matrix/client/v3/rooms/{}/state/{event_type}/{}", enc(room), enc(state_key));
        self.call(reqwest::Method::GET, &path, None).await
    }

    /// The rooms of a space, as the space hierarchy API lists them.
    pub async fn hierarchy(&self, space: &str) -> Vec<Value> {
        let path = format!("/_matrix/client/v1/rooms/{}/hierarchy?limit=100", enc(space));
        let json = self.call(reqwest::Method::GET, &path, None).await;
        json["rooms"].as_array().cloned().unwrap_or_default()
    }

    /// Creates a private room inviting `invite`; returns its id.
    pub async fn create_room(&self, name: &str, invite: &[&str]) -> String {
        let body = json!({"name": name, "preset": "private_chat", "invite": invite});
        let json = self.call(reqwest::Method::POST, "/_matrix/client/v3/createRoom", Some(body)).await;
        json["room_id"].as_str().expect("room_id").to_owned()
    }

    /// Sends a text message; returns its event id.
    pub async fn send_text(&self, room: &str, body: &str) -> String {
        let txn = format!("t{:016x}", rand::random::<u64>());
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", enc(room));
        let content = json!({"msgtype": "m.text", "body": body});
        let json = self.call(reqwest::Method::PUT, &path, Some(content)).await;
        json["event_id"].as_str().expect("event_id").to_owned()
    }

    /// A GET on the client-server API (`path` from `/_matrix`).
    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Uploads a file to the media repository; returns its `mxc://` URI.
    pub async fn upload(&self, data: Vec<u8>, content_type: &str, name: &str) -> String {
        let url = format!("{}/_matrix/media/v3/upload?filename={}", self.base, enc(name));
        let resp = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(data)
            .send()
            .await
            .expect("upload");
        let json: Value = resp.json().await.expect("upload json");
        json["content_uri"].as_str().expect("content_uri").to_owned()
    }

    /// Sends any `m.room.message` content; returns its event id.
    pub async fn send_content(&self, room: &str, content: Value) -> String {
        self.send_content_of(room, "m.room.message", content).await
    }

    /// Sends an event of `event_type` (a reaction, a poll response…); returns its event id.
    pub async fn send_content_of(&self, room: &str, event_type: &str, content: Value) -> String {
        let txn = format!("t{:016x}", rand::random::<u64>());
        let path = format!("/_matrix/client/v3/rooms/{}/send/{event_type}/{txn}", enc(room));
        let json = self.call(reqwest::Method::PUT, &path, Some(content)).await;
        json["event_id"].as_str().expect("event_id").to_owned()
    }

    /// Downloads media (authenticated media API).
    pub async fn download(&self, mxc: &str) -> Vec<u8> {
        let path = mxc.trim_start_matches("mxc://");
        let url = format!("{}/_matrix/client/v1/media/download/{path}", self.base);
        let resp = self.http.get(url).bearer_auth(&self.token).send().await.expect("download");
        assert!(resp.status().is_success(), "download {mxc}: {}", resp.status());
        resp.bytes().await.expect("bytes").to_vec()
    }

    /// Redacts one of the room's events.
    pub async fn redact(&self, room: &str, event_id: &str) {
        let txn = format!("r{:016x}", rand::random::<u64>());
        let path = format!("/_matrix/client/v3/rooms/{}/redact/{}/{txn}", enc(room), enc(event_id));
        self.call(reqwest::Method::PUT, &path, Some(json!({"reason": "retiré"}))).await;
    }

    /// The user ids joined to `room`.
    pub async fn joined_members(&self, room: &str) -> Vec<String> {
        let path = format!("/_matrix/client/v3/rooms/{}/joined_members", enc(room));
        let json = self.call(reqwest::Method::GET, &path, None).await;
        json["joined"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// The latest `limit` timeline events of `room`, oldest first.
    pub async fn messages(&self, room: &str, limit: u32) -> Vec<Value> {
        let path = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit={limit}", enc(room));
        let json = self.call(reqwest::Method::GET, &path, None).await;
        let mut events = json["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        events
    }

    /// Notices sent by `sender` in reply to `event_id`.
    pub async fn replies_to(&self, room: &str, sender: &str, event_id: &str) -> Vec<Value> {
        self.messages(room, 500)
            .await
            .into_iter()
            .filter(|e| e["sender"] == sender && e["type"] == "m.room.message")
            .filter(|e| e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == event_id)
            .collect()
    }

    /// Waits for the first reply by `sender` to `event_id` and returns its body.
    pub async fn wait_reply(&self, room: &str, sender: &str, event_id: &str) -> String {
        eventually(&format!("a reply to {event_id}"), Duration::from_secs(60), || async {
            let replies = self.replies_to(room, sender, event_id).await;
            replies.first().and_then(|e| e["content"]["body"].as_str().map(str::to_owned))
        })
        .await
    }
}
