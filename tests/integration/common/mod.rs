//! Test harness: a real Synapse from PyPI, the real `relais` binary, and a member client that
//! speaks the client-server API over HTTP without any Relais code.
//!
//! Each test starts its own Synapse and Relais on free loopback ports, owns its users and rooms,
//! and waits on readiness probes (never a fixed sleep).

#![allow(dead_code)]

pub mod e2ee;
pub mod federation;
pub mod mail;
pub mod member;
pub mod nio;
pub mod postgres;
pub mod relais;
pub mod smtp;
pub mod synapse;
pub mod workers;

use std::{future::Future, time::Duration};

pub use member::Member;
pub use relais::{Relais, RelaisOptions};
pub use synapse::Synapse;

/// Ports handed out for servers that bind them themselves (Synapse, Relais, the SMTP sinks):
/// below Linux's ephemeral range (32768-60999), where the kernel also picks the local ports of
/// outgoing connections — one of those took a port between its release here and the server's
/// bind. Handed out once per run, from a random start so two runs on one machine rarely meet.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A TCP port on loopback that no other test of this run was given and that is free now.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = PORTS.end - PORTS.start;
    let _ = NEXT.compare_exchange(0, 1 + rand::random::<u16>() % span, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let port = PORTS.start + NEXT.fetch_add(1, Ordering::SeqCst) % span;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {PORTS:?}")
}

/// Polls `probe` until it returns `Some`, failing the test with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A random lowercase suffix for user names and ids owned by one test.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:08x}", rand::random::<u32>())
}

/// A stack: one Synapse with Relais registered, and Relais serving.
pub struct Stack {
    pub synapse: Synapse,
    pub relais: Relais,
}

impl Stack {
    /// Starts Synapse with Relais's registration, then Relais with `options`.
    pub async fn start(options: RelaisOptions) -> Self {
        let mut relais = Relais::prepare(options);
        let synapse = Synapse::start(&relais.registration()).await;
        relais.point_at(&synapse);
        relais.start().await;
        Self { synapse, relais }
    }

    /// [`Stack::start`], with a Synapse administrator account made for Relais
    /// (`[homeserver] admin_token`).
    pub async fn start_with_admin(options: RelaisOptions) -> Self {
        let mut relais = Relais::prepare(options);
        let synapse = Synapse::start(&relais.registration()).await;
        let admin = synapse.admin().await;
        relais.set_env("RELAIS_HOMESERVER__ADMIN_TOKEN", &admin.token);
        relais.point_at(&synapse);
        relais.start().await;
        Self { synapse, relais }
    }

    /// The bot's own view of the homeserver (the appservice token): it is in every provisioned
    /// room, so tests read what Relais posted there without joining.
    pub fn bot(&self) -> Member {
        Member::new(&self.synapse.url, &self.relais.bot(), &self.relais.as_token)
    }
}
