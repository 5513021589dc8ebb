//! Whole mails as our MTA hands them over (invented people), with what the bridge must make of
//! them: every case in tests/corpus/inbound, reported all at once.
//!
//! A case is `NAME.eml` (the raw mail, headers and MIME as received) next to `NAME.json`:
//!
//! ```json
//! {"rcpt": {"reply": {"list": "nord-lille", "seq": 12, "member": "1002"}},
//!  "mail_from": "jeanne@example.org",
//!  "expected": {"reply": {"list": "nord-lille", "seq": 12, "member": "1002",
//!               "from": "jeanne@example.org", "authenticated": true,
//!               "text": "Je serai là jeudi.", "attachments": [], "unsubscribe": false}}}
//! ```
//!
//! The recipient is described, not written, since our addresses carry an HMAC: `{"reply":
//! {list, seq, member}}`, `{"bounce": {"outbox_id"}}`, `{"unsubscribe": {list, member}}` are
//! signed with [`KEY`] at [`DOMAIN`]; `{"address": "x@y"}` is used as it is (unknown, tampered
//! or foreign addresses). `mail_from` is the envelope sender, `""` for the null sender.
//! `expected` is what [`examine`] returns, as [`verdict`] writes it.

mod common;

use std::path::Path;

use common::{corpus_files, file_name};

use relais_maildomain::{
    dsn::BounceKind,
    examine::{AuthPolicy, Examined, examine},
    keys::Keys,
};
use serde_json::{Value, json};

/// Fewer cases than this means the corpus went missing, not that it passes.
const MIN_CASES: usize = 16;

/// The key the corpus' addresses are signed with.
const KEY: &[u8] = b"inbound corpus key";

/// Our mail domain.
const DOMAIN: &str = "listes.pcf.test";

/// The authserv-id of our MTA's `Authentication-Results`.
const AUTHSERV_ID: &str = "mx.pcf.test";

#[test]
fn every_received_mail_gets_the_expected_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/inbound");
    let files = corpus_files(&dir);
    let keys = Keys::new(KEY);
    let auth = AuthPolicy::Upstream(AUTHSERV_ID.into());
    let mut cases = 0;
    let mut failures = Vec::new();
    for path in &files {
        let name = file_name(path);
        match path.extension().and_then(|e| e.to_str()) {
            Some("eml") => {}
            Some("json") => {
                if !files.contains(&path.with_extension("eml")) {
                    failures.push(format!(
                        "--- {name}: no {} next to it",
                        file_name(&path.with_extension("eml"))
                    ));
                }
                continue;
            }
            _ => continue,
        }
        cases += 1;
        match run_case(path, &keys, &auth) {
            Ok(None) => {}
            Ok(Some((expected, got))) => failures.push(format!(
                "--- {name}\nexpected: {}\ngot:      {}",
                pretty(&expected),
                pretty(&got)
            )),
            Err(problem) => failures.push(format!("--- {name}: {problem}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in {cases} case(s) of {}:\n\n{}",
        failures.len(),
        dir.display(),
        failures.join("\n\n")
    );
    assert!(cases >= MIN_CASES, "{} holds only {cases} cases, expected at least {MIN_CASES}", dir.display());
}

/// Runs the case of `eml`: `Ok(None)` when it passes, `Ok(Some((expected, got)))` when the
/// verdict differs, `Err` when the case itself is unusable.
fn run_case(eml: &Path, keys: &Keys, auth: &AuthPolicy) -> Result<Option<(Value, Value)>, String> {
    let raw = std::fs::read(eml).map_err(|e| format!("unreadable: {e}"))?;
    let json_path = eml.with_extension("json");
    let spec =
        std::fs::read_to_string(&json_path).map_err(|e| format!("missing {}: {e}", file_name(&json_path)))?;
    let spec: Value =
        serde_json::from_str(&spec).map_err(|e| format!("{} is not JSON: {e}", file_name(&json_path)))?;
    if let Some(unknown) = spec
        .as_object()
        .ok_or("not a JSON object")?
        .keys()
        .find(|k| !["rcpt", "mail_from", "expected"].contains(&k.as_str()))
    {
        return Err(format!("unknown field \"{unknown}\" in {}", file_name(&json_path)));
    }
    let rcpt = recipient(spec.get("rcpt").ok_or("no \"rcpt\"")?, keys)?;
    let mail_from = spec.get("mail_from").and_then(Value::as_str).ok_or("no \"mail_from\" string")?;
    let expected = spec.get("expected").ok_or("no \"expected\"")?;
    let got = verdict(&examine(&raw, &rcpt, mail_from, keys, DOMAIN, auth));
    Ok((got != *expected).then(|| (expected.clone(), got)))
}

/// The recipient address a case's `rcpt` describes.
fn recipient(rcpt: &Value, keys: &Keys) -> Result<String, String> {
    let str_of = |v: &Value, field: &str| {
        v.get(field).and_then(Value::as_str).map(str::to_owned).ok_or(format!("rcpt: no \"{field}\" string"))
    };
    let int_of = |v: &Value, field: &str| {
        v.get(field).and_then(Value::as_i64).ok_or(format!("rcpt: no \"{field}\" integer"))
    };
    let localpart = if let Some(r) = rcpt.get("reply") {
        keys.reply_localpart(&str_of(r, "list")?, int_of(r, "seq")?, &str_of(r, "member")?)
    } else if let Some(b) = rcpt.get("bounce") {
        keys.bounce_localpart(int_of(b, "outbox_id")?)
    } else if let Some(u) = rcpt.get("unsubscribe") {
        keys.unsubscribe_localpart(&str_of(u, "list")?, &str_of(u, "member")?)
    } else if let Some(address) = rcpt.get("address") {
        return address.as_str().map(str::to_owned).ok_or("rcpt: \"address\" is not a string".into());
    } else {
        return Err(format!("rcpt: unknown form {rcpt}"));
    };
    Ok(format!("{localpart}@{DOMAIN}"))
}

/// What `examine` returned, as the corpus writes it.
fn verdict(examined: &Examined) -> Value {
    match examined {
        Examined::Reply(reply) => json!({"reply": {
            "list": reply.list,
            "seq": reply.seq,
            "member": reply.member,
            "from": reply.from,
            "authenticated": reply.authenticated,
            "text": reply.text,
            "attachments": reply.attachments.iter().map(|a| json!({
                "name": a.name,
                "content_type": a.content_type,
                "bytes": a.data.len(),
            })).collect::<Vec<_>>(),
            "unsubscribe": reply.unsubscribe,
        }}),
        Examined::Bounce { outbox_id, kind } => {
            let kind = match kind {
                BounceKind::Hard => "hard",
                BounceKind::Soft => "soft",
            };
            json!({"bounce": {"outbox_id": outbox_id, "kind": kind}})
        }
        Examined::Unsubscribe { list, member } => json!({"unsubscribe": {"list": list, "member": member}}),
        Examined::Refuse(text) => json!({ "refuse": text }),
        Examined::Drop(reason) => json!({ "drop": reason }),
    }
}

/// `value` as indented JSON, invisible characters (no-break spaces, zero-width spaces, byte order
/// marks…) shown as `\u{..}` so that a difference in them can be seen.
fn pretty(value: &Value) -> String {
    let json = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let invisible = |c: char| {
        (c.is_whitespace() && !c.is_ascii()) || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}')
    };
    json.chars()
        .map(|c| if invisible(c) { format!("\\u{{{:x}}}", u32::from(c)) } else { c.to_string() })
        .collect()
}
