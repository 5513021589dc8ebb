//! Congress mode from the command line: loading the mandates file, printing and checking the
//! signed minutes of a vote.

use std::{collections::HashSet, path::Path, sync::Arc};

use anyhow::Context;
use relais_bots::poll::{mandates, minutes, service::Polls};
use relais_bots::store::BotStore;
use relais_core::Config;
use relais_provisioning::directory::Directory;

use crate::commands::open_store;

/// `relais congres mandats FILE`: checks every line, then replaces the mandates and proxies.
pub async fn load(config: &Config, file: &Path, max_proxies: usize) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text =
        String::from_utf8(bytes).context("the mandates file must be UTF-8 (export it as CSV UTF-8)")?;
    let store = open_store(config).await?;
    let known: HashSet<String> = Directory::new(store.clone()).member_ids().await?.into_iter().collect();
    let parsed = mandates::parse(&text, &known, max_proxies);
    let result = match parsed {
        Ok(file) => {
            BotStore::new(store.clone()).congress_replace(&file.mandates, &file.proxies).await?;
            let total: i64 = file.mandates.iter().map(|(_, w)| w).sum();
            println!(
                "mandates loaded: {} delegates, {total} mandates, {} proxies",
                file.mandates.len(),
                file.proxies.len()
            );
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                if e.line == 0 {
                    eprintln!("{}", e.message);
                } else {
                    eprintln!("line {}: {}", e.line, e.message);
                }
            }
            Err(anyhow::anyhow!("{} error(s): nothing was loaded; fix the file and run again", errors.len()))
        }
    };
    store.close().await;
    result
}

/// `relais poll minutes EVENT_ID`: the signed minutes of a congress poll.
pub async fn print_minutes(config: &Config, event_id: &str) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let poll = BotStore::new(store.clone())
        .poll(event_id)
        .await?
        .with_context(|| format!("no poll with the event id {event_id}"))?;
    let client =
        relais_appservice::MatrixClient::new(config, Arc::new(relais_appservice::Metrics::default()))?;
    let polls = Polls::new(&store, client, Arc::new(config.clone()));
    let (spec, result) = polls.count(&poll).await?.context("the poll's record is unreadable")?;
    anyhow::ensure!(
        spec.congress,
        "this poll was not opened in congress mode (--congrès): it has no minutes"
    );
    let signed = polls.minutes(&poll, &spec, &result).await?;
    store.close().await;
    print!("{signed}");
    Ok(())
}

/// `relais poll verify FILE`: checks minutes against this installation's key.
pub fn verify(config: &Config, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let key = minutes::public_key(config.key(relais_core::KeyPurpose::Minutes).expose());
    // Only the master key's: the appservice token signs nothing any more, so whoever holds it
    // (Synapse's registration file and its backups) cannot forge minutes. Minutes signed before
    // the master key are checked against the public key published then (docs/security.md).
    minutes::verify(&text, &key)?;
    println!("valid: signed by this Relais (public key {key})");
    Ok(())
}
