//! Test harness: a real Synapse from PyPI, the real `relais` binary, and a member client that
//! speaks the client-server API over HTTP without any Relais code.
//!
//! Each test starts its own Synapse and Relais on free loopback ports, owns its users and rooms,
//! and waits on readiness probes (never a fixed sleep).

#![allow(dead_code)]

pub mod e2ee;
pub mod mail;
pub mod member;
pub mod nio;
pub mod relais;
pub mod smtp;
pub mod synapse;

use std::{future::Future, time::Duration};

pub use member::Member;
pub use relais::{Relais, RelaisOptions};
pub use synapse::Synapse;

/// A free TCP port on loopback (bound then released; the OS does not hand it out again at once).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
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

    /// The bot's own view of the homeserver (the appservice token): it is in every provisioned
    /// room, so tests read what Relais posted there without joining.
    pub fn bot(&self) -> Member {
        Member::new(&self.synapse.url, &self.relais.bot(), &self.relais.as_token)
    }
}
