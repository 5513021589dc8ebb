//! Incoming mail: the SMTP/LMTP listener, authentication results, reply text extraction, and the
//! worker that posts replies into rooms.

pub mod auth_results;
pub mod dsn;
pub mod examine;
pub mod listener;
pub mod process;
pub mod smtp;
pub mod strip;
