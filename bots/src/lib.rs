//! The bots: commands typed in rooms (`!aide`, `!ping`, and later polls and broadcasts).
//!
//! The command language is parsed by pure code ([`command`]); the French texts members read live
//! in one place ([`messages`]); [`BotHandler`] is the appservice event handler that joins rooms
//! the bot is invited to and answers commands. Its data (polls, ballots, broadcasts, proposals,
//! statistics) is its own ([`store`]); what it knows of members and rooms comes from
//! provisioning's directory; it reaches the homeserver through the appservice's client.

pub mod broadcast;
pub mod charter;
pub mod command;
mod handler;
pub mod links;
pub mod messages;
pub mod moderation;
pub mod poll;
pub mod proposal;
pub mod service;
pub mod stats;
pub mod store;
pub mod theme;
pub mod welcome;

pub use handler::BotHandler;
