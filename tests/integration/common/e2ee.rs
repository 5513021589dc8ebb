//! A member whose client encrypts (matrix-nio with python-olm, `tests/clients/nio_e2ee.py`),
//! kept running for a whole test so its device and Megolm sessions persist between steps.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

use super::{Member, Stack, synapse::python};

pub struct EncryptingMember {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pub device_id: String,
    _store: tempfile::TempDir,
}

impl EncryptingMember {
    /// Logs `member` in as a new encrypting device; invitations are accepted as they come.
    pub async fn start(stack: &Stack, member: &Member) -> Self {
        Self::start_at(&stack.synapse.url, member).await
    }

    /// [`EncryptingMember::start`] against the homeserver at `homeserver`.
    pub async fn start_at(homeserver: &str, member: &Member) -> Self {
        let store = tempfile::tempdir().expect("nio store");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/nio_e2ee.py");
        let mut child = Command::new(python())
            .arg(script)
            .args([homeserver, member.user_id.as_str(), &member.password()])
            .arg(store.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start nio");
        let stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = lines.next_line().await.expect("nio output").expect("nio started");
        let ready: Value = serde_json::from_str(&ready).expect("nio ready line");
        let device_id = ready["device_id"].as_str().expect("device id").to_owned();
        Self { child, stdin, lines, device_id, _store: store }
    }

    /// Sends one command, returns its answer; an error answer fails the test.
    pub async fn call(&mut self, command: Value) -> Value {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write to nio");
        let answer = self.lines.next_line().await.expect("read nio").expect("nio answered");
        let answer: Value = serde_json::from_str(&answer).expect("nio answer");
        assert!(answer.get("error").is_none(), "nio: {command} -> {answer}");
        answer
    }

    /// Creates an encrypted room inviting `invite`.
    pub async fn create_encrypted_room(&mut self, name: &str, invite: &[&str]) -> String {
        self.create_encrypted_room_with_alias(name, invite, None).await
    }

    /// Creates an encrypted room inviting `invite`, with the alias `#alias:…` when given.
    pub async fn create_encrypted_room_with_alias(
        &mut self,
        name: &str,
        invite: &[&str],
        alias: Option<&str>,
    ) -> String {
        let answer = self.call(json!({"op": "create", "name": name, "invite": invite, "alias": alias})).await;
        answer["room_id"].as_str().expect("room id").to_owned()
    }

    /// Invites `user` into `room`.
    pub async fn invite(&mut self, room: &str, user: &str) {
        self.call(json!({"op": "invite", "room": room, "user": user})).await;
    }

    /// Sends a text message (encrypted when the room is); returns its event id.
    pub async fn send(&mut self, room: &str, body: &str) -> String {
        let answer = self.call(json!({"op": "send", "room": room, "body": body})).await;
        answer["event_id"].as_str().expect("event id").to_owned()
    }

    /// Sends any event (encrypted when the room is); returns its event id.
    pub async fn send_raw(&mut self, room: &str, event_type: &str, content: Value) -> String {
        let answer =
            self.call(json!({"op": "send_raw", "room": room, "type": event_type, "content": content})).await;
        answer["event_id"].as_str().expect("event id").to_owned()
    }

    /// The first event this client received matching `filter` (see the script), waiting up to a
    /// minute: `{"source": the event as the client sees it, "decrypted": bool, "room_id": …}`.
    pub async fn wait(&mut self, mut filter: Value) -> Value {
        filter["op"] = json!("wait");
        if filter.get("timeout").is_none() {
            filter["timeout"] = json!(60);
        }
        self.call(filter).await
    }
}

impl Drop for EncryptingMember {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
