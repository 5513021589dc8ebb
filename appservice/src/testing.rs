//! A recording homeserver double for in-process tests of the features (feature
//! `test-support`): an HTTP server on an ephemeral loopback port that answers the client-server
//! API calls Relais makes with what a test has set, and records every request, so a test can say
//! what a member would have seen in their room without running Synapse. The real-Synapse tests
//! stay the top layer; this is the middle one.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// One request the double received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// The path, percent-decoded (`/_matrix/client/v3/rooms/!r:pcf.test/send/…`).
    pub path: String,
    /// The query string as sent (the appservice's `user_id=` identity, …).
    pub query: String,
    /// The body as JSON (`Value::Null` when empty or not JSON).
    pub body: Value,
}

impl Recorded {
    /// Whether this is a message sent to `room` (`PUT …/rooms/{room}/send/m.room.message/{txn}`).
    pub fn is_message_to(&self, room: &str) -> bool {
        self.method == Method::PUT && self.path.contains(&format!("/rooms/{room}/send/m.room.message/"))
    }

    /// Whether this redacts `event` in `room` (`PUT …/rooms/{room}/redact/{event}/{txn}`).
    pub fn is_redaction_of(&self, room: &str, event: &str) -> bool {
        self.method == Method::PUT && self.path.contains(&format!("/rooms/{room}/redact/{event}/"))
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// (method, path) → (status, body) set by the test.
    answers: HashMap<(Method, String), (StatusCode, Value)>,
    /// Room state by path (`…/rooms/{room}/state/{type}/{key}`): the whole event.
    state: HashMap<String, Value>,
    sent: u64,
}

/// The double; dropping it stops nothing (its task ends with the test's runtime).
#[derive(Debug, Clone)]
pub struct RecordingHomeserver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl RecordingHomeserver {
    /// Starts a double on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(answer).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, inner })
    }

    /// The base URL to configure as `[homeserver] url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `method path` (path as the client sends it, percent-decoded) with `status` and
    /// `body` from now on.
    pub fn answer(&self, method: Method, path: &str, status: StatusCode, body: Value) {
        self.lock().answers.insert((method, path.to_owned()), (status, body));
    }

    /// Sets a room's state event `(event_type, state_key)`, sent by `sender`, to `content`:
    /// answered as its content, or as the whole event when the client asks `format=event`.
    pub fn set_state(&self, room: &str, event_type: &str, state_key: &str, sender: &str, content: Value) {
        let path = format!("/_matrix/client/v3/rooms/{room}/state/{event_type}/{state_key}");
        let event = json!({
            "type": event_type, "state_key": state_key, "sender": sender, "room_id": room,
            "event_id": format!("$state-{event_type}"), "origin_server_ts": 0, "content": content,
        });
        self.lock().state.insert(path, event);
    }

    /// Makes `room` a version-10 room created by `creator`, with `levels` as its
    /// `m.room.power_levels` content: what a moderator check reads.
    pub fn set_power_levels(&self, room: &str, creator: &str, levels: Value) {
        self.set_state(room, "m.room.create", "", creator, json!({ "room_version": "10" }));
        self.set_state(room, "m.room.power_levels", "", creator, levels);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The bodies of the messages sent to `room`, in order.
    pub fn messages_to(&self, room: &str) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.is_message_to(room)).map(|r| r.body).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn answer(State(inner): State<Arc<Mutex<Inner>>>, method: Method, uri: Uri, body: Bytes) -> Response {
    // Ids in paths are percent-encoded by the client: `%21r%3Apcf.test` → `!r:pcf.test`.
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy().into_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let body_json = body.clone();
    let mut inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
    let query = uri.query().unwrap_or("").to_owned();
    inner.requests.push(Recorded { method: method.clone(), path: path.clone(), query, body });
    if let Some((status, body)) = inner.answers.get(&(method.clone(), path.clone())) {
        return (*status, axum::Json(body.clone())).into_response();
    }
    if method == Method::GET
        && let Some(event) = inner.state.get(path.trim_end_matches('/')).or_else(|| inner.state.get(&path))
    {
        let whole = uri.query().is_some_and(|q| q.split('&').any(|p| p == "format=event"));
        return axum::Json(if whole { event.clone() } else { event["content"].clone() }).into_response();
    }
    // What a homeserver says by default: events are sent (and redactions, which are events),
    // state set, rooms created and joined, members invited, kicked or banned, the rest unknown.
    if method == Method::PUT && (path.contains("/send/") || path.contains("/redact/")) {
        inner.sent += 1;
        return axum::Json(json!({ "event_id": format!("$sent{}", inner.sent) })).into_response();
    }
    // State set by the client: kept, and read back by later GETs.
    if method == Method::PUT && path.contains("/state/") {
        inner.sent += 1;
        let event_id = format!("$sent{}", inner.sent);
        let event = json!({ "event_id": event_id, "content": body_json });
        inner.state.insert(path.trim_end_matches('/').to_owned(), event);
        return axum::Json(json!({ "event_id": event_id })).into_response();
    }
    if method == Method::POST && path.ends_with("/createRoom") {
        inner.sent += 1;
        return axum::Json(json!({ "room_id": format!("!created{}:pcf.test", inner.sent) })).into_response();
    }
    // Membership changes by a moderator: done.
    if method == Method::POST && ["/ban", "/unban", "/kick", "/invite"].iter().any(|end| path.ends_with(end))
    {
        return axum::Json(json!({})).into_response();
    }
    if method == Method::POST && path.ends_with("/join") {
        let room = path.split('/').rev().nth(1).unwrap_or_default().to_owned();
        return axum::Json(json!({ "room_id": room })).into_response();
    }
    let error = json!({ "errcode": "M_NOT_FOUND", "error": "not set by the test" });
    (StatusCode::NOT_FOUND, axum::Json(error)).into_response()
}
