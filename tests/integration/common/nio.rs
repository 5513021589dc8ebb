//! matrix-nio (an independent Python client) as a member uses it: log in, join, read.

use serde_json::Value;

use super::{Member, Stack, synapse::python};

/// The message bodies `member` reads in `alias` with matrix-nio (joining it first).
pub async fn read(stack: &Stack, member: &Member, alias: &str) -> Vec<String> {
    texts(&run_reader(stack, member, alias).await, "bodies")
}

/// What a client shows `member` in `alias`: edits applied, redacted messages gone.
pub async fn shown(stack: &Stack, member: &Member, alias: &str) -> Vec<String> {
    texts(&run_reader(stack, member, alias).await, "shown")
}

fn texts(seen: &Value, key: &str) -> Vec<String> {
    seen[key].as_array().into_iter().flatten().filter_map(|b| b.as_str().map(str::to_owned)).collect()
}

async fn run_reader(stack: &Stack, member: &Member, alias: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/nio_reader.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args([stack.synapse.url.as_str(), member.user_id.as_str(), &member.password(), alias])
        .output()
        .await
        .expect("run nio");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nio: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).expect("nio output")
}
