//! Mail bridge: rooms mirrored to mailing lists, digests, and email replies posted back.
//!
//! Will own outgoing mail rendering and SMTP submission, the inbound SMTP/LMTP listener, and the
//! subscriber store. Not built yet: see the mail bridge issue. The crate exists so the workspace
//! layout and dependency rules are fixed.
