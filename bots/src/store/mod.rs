//! The bots' data: polls and their voters, secret ballots, congress mandates, broadcasts and
//! their statistics, proposals, welcomes and the bot's direct rooms. Only this crate reads or
//! writes these tables; what the bots need of members and rooms comes from provisioning's
//! [`Directory`](relais_provisioning::directory::Directory), and their mail goes through the
//! outbox.
//!
//! Rows are decoded here, once, into typed records; a row that cannot be read is an error
//! ([`StoreError::Corrupt`](relais_core::StoreError::Corrupt)), never an empty record.

pub mod broadcasts;
pub mod congress;
pub mod contacts;
pub mod corrections;
pub mod flood;
pub mod polls;
pub mod proposals;
pub mod secret_ballot;
pub mod stats;

use relais_core::Store;

/// The bots' tables over the shared pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct BotStore {
    store: Store,
}

impl BotStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    #[cfg(test)]
    fn core(&self) -> &Store {
        &self.store
    }
}

#[cfg(test)]
mod broadcasts_tests;
#[cfg(test)]
mod corrections_tests;
#[cfg(test)]
mod flood_tests;
#[cfg(test)]
mod polls_tests;
#[cfg(test)]
mod secret_ballot_tests;
#[cfg(test)]
mod stats_tests;
