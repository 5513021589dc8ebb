//! The keys of the mail a deployment sends: [`relais_maildomain::keys`], keyed from its
//! configuration.

pub use relais_maildomain::keys::*;

/// The keys of this deployment: `[mail] secret` when set (deployments that predate the master
/// key keep their addresses valid), else the master key's mail-address key.
pub fn from_config(config: &relais_core::Config) -> Keys {
    match &config.mail.secret {
        Some(secret) => Keys::new(secret.expose().as_bytes()),
        None => Keys::new(config.key(relais_core::KeyPurpose::MailAddresses).expose().as_bytes()),
    }
}
