//! Provisioning: the membership file reconciled into spaces, rooms and who may enter them.
//!
//! [`reader`] turns the CSV export into validated rows (pure). The planner compares the file's
//! desired state with the state Relais recorded and produces a plan (pure); the executor applies
//! a plan through the appservice client with a durable journal.

pub mod apply;
pub mod desired;
pub mod directory;
pub mod drift;
pub mod model;
pub mod moderation;
pub mod onboarding;
pub mod plan;
pub mod reader;
pub mod run;
pub mod store;
pub mod sympathiser;
pub mod synth;
pub mod text;
pub mod theme;
