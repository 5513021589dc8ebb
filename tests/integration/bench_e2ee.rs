//! Benchmark (ignored by default): what end-to-end encryption costs a command. A member whose
//! client encrypts (matrix-nio with python-olm) sends `!ping` twenty times, one after the other,
//! in an encrypted room and in a clear room, each time waiting for the bot's answer; the times
//! are from sending to reading the (decrypted) answer in the member's client.
//!
//! cargo test --release --test integration bench_e2ee -- --ignored --nocapture

use std::time::Instant;

use crate::common::{RelaisOptions, Stack, e2ee::EncryptingMember, unique};
use serde_json::json;

const ROUNDS: usize = 20;

/// Seconds per `!ping` answered in `room`, sorted.
async fn round_trips(stack: &Stack, nio: &mut EncryptingMember, room: &str) -> Vec<f64> {
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let asked = nio.send(room, "!ping").await;
        let answer = nio.wait(json!({"room": room, "sender": stack.relais.bot(), "reply_to": asked})).await;
        times.push(started.elapsed().as_secs_f64());
        assert!(answer["source"]["content"]["body"].as_str().unwrap_or_default().starts_with("Pong"));
    }
    times.sort_by(f64::total_cmp);
    times
}

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn encrypted_commands_against_clear_ones() {
    let device = tempfile::tempdir().expect("device dir");
    let env = vec![("RELAIS_BOTS__E2EE_DIR".to_owned(), device.path().display().to_string())];
    let stack = Stack::start(RelaisOptions { env, ..Default::default() }).await;
    let alice = stack.synapse.register(&unique("alice")).await;
    let mut nio = EncryptingMember::start(&stack, &alice).await;
    let bot = stack.relais.bot();
    let encrypted = nio.create_encrypted_room("Chiffré", &[&bot]).await;
    let clear = alice.create_room("En clair", &[&bot]).await;
    stack.synapse.wait_joined(&alice, &encrypted, &bot).await;
    stack.synapse.wait_joined(&alice, &clear, &bot).await;
    for (name, room) in [("encrypted", &encrypted), ("clear", &clear), ("encrypted", &encrypted)] {
        let times = round_trips(&stack, &mut nio, room).await;
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{name}: {ROUNDS} commands, median {:.3} s, mean {mean:.3} s, max {:.3} s",
            times[ROUNDS / 2],
            times[ROUNDS - 1]
        );
    }
}
