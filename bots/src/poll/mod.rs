//! Polls and votes: the `!sondage` command, MSC3381 events, and the count. Pure parts here;
//! the handler and the store do the I/O.

pub mod ballot_mail;
pub mod by_mail;
pub mod congress;
pub mod events;
pub mod mandates;
pub mod minutes;
pub mod proxy;
pub mod secret_ballot;
pub mod service;
pub mod spec;
pub mod tally;
