//! Relais's mail domain, free of I/O (as Stalwart keeps its protocol crates): what the mail
//! bridge knows about mail, as pure functions tested without a runtime.
//!
//! - [`keys`]: the signed addresses and tokens a subscriber's mail carries (reply, bounce,
//!   unsubscribe, preferences, media), checked in constant time.
//! - [`strip`]: the new text of a reply — quotes, attributions and signatures set aside, HTML
//!   to text, `format=flowed` — in linear time on hostile input.
//! - [`auth_results`]: who sent a mail, as the site's MTA verified it (RFC 8601).
//! - [`dsn`]: what a bounce says about the failed recipient (RFC 3464, RFC 3463, text).
//! - [`examine`]: the verdict on one received mail, before anything is looked up.
//! - [`refusal`]: why a mail was not posted, as its sender reads it.
//!
//! The bridge (`relais-bridge`) does the I/O around it: the SMTP listener, the store, the
//! homeserver.

pub mod auth_results;
pub mod dsn;
pub mod examine;
pub mod keys;
pub mod refusal;
pub mod strip;
