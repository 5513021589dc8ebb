//! The application service: what Synapse calls, and how Relais calls Synapse back.
//!
//! Owns the Application Service API endpoints (typed with ruma and routed from ruma's metadata),
//! the durable intake of transactions and the event queue it owns ([`queue`]), the dispatcher that hands stored events to the features
//! (bots, mail bridge, provisioning drift) through [`EventHandler`], the client-server
//! [`MatrixClient`] that acts as the appservice's users, `/health` and `/metrics`.
//! It knows no feature: features implement [`EventHandler`] and are registered by the binary.

mod api;
mod auth;
pub mod client;
pub mod dispatch;
mod error;
mod extract;
pub mod health;
mod intake;
pub mod metrics;
pub mod queue;
pub mod registration;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use api::{AppState, router};
pub use client::{ClientError, MatrixClient, Outlook};
pub use dispatch::{DispatchedEvent, Dispatcher, EventHandler, HandlerError};
pub use error::ApiError;
pub use metrics::Metrics;
