//! Incoming mail: the SMTP/LMTP listener and the worker that posts replies into rooms. What a
//! mail says (its sender's authentication, its reply text, a bounce) is read by the pure
//! functions of `relais_maildomain`.

pub mod listener;
pub mod process;
pub mod smtp;
