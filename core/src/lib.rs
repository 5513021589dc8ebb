//! Shared foundation of Relais: configuration, the durable store and small domain types.
//!
//! This crate owns everything every other crate needs and nothing that talks to the homeserver,
//! the mail system or the network: it has no HTTP client or server. Other crates depend on it;
//! it depends on none of them.

pub mod ballot;
pub mod config;
pub mod html;
pub mod json;
pub mod keys;
pub mod panic;
pub mod secret;
pub mod store;
pub mod text;
pub mod time;

pub use config::{Config, ConfigError};
pub use keys::{KeyPurpose, MasterKey};
pub use secret::Secret;
pub use store::{Store, StoreError};
