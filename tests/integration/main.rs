//! The integration tests, in one binary (one link on a 2-core machine instead of one per file):
//! the real `relais` binary against a real Synapse, PostgreSQL and SQLite, a real SMTP server,
//! matrix-nio and headless Chromium, over the harness in [`common`]. One module per feature
//! or listener; `cargo test --test integration provisioning::` runs one of them.

mod common;

mod appservice_api;
mod bench_broadcast;
mod bench_e2ee;
mod bench_import;
mod broadcasts;
mod browser;
mod cli;
mod congress;
mod element_config;
mod encrypted_rooms;
mod federated;
mod inclusion;
mod independent_client;
mod load;
mod mail_bridge;
mod mail_polls;
mod moderation;
mod nodes;
mod onboarding;
mod polls;
mod proposals;
mod provisioning;
mod public;
mod referents;
mod secret_ballot;
mod synapse_stack;
mod themes;
mod workers;
