//! `relais member export|forget`: a member's rights of access and erasure, across every feature
//! and the homeserver. Relais's own records are each feature's (provisioning's export and
//! erasure, run in one transaction with the others' erasers); what the homeserver keeps of the
//! member's accounts — the file's, an invitation's, a sympathiser's — and of the ghost that posts
//! their email replies is read and erased through Synapse's admin API with `[homeserver]
//! admin_token`.
//!
//! Erasure order: the homeserver first (deactivating an account is idempotent), then the
//! records — which name the accounts: a run cut short is run again, never left with accounts
//! nobody can name any more.

use std::time::Duration;

use anyhow::Context as _;
use ruma::{OwnedUserId, UserId};
use serde_json::{Value, json};

use relais_appservice::MatrixClient;
use relais_bots::store::BotStore;
use relais_bridge::store::MailStore;
use relais_core::{Config, Secret, store::lease::Lease};
use relais_provisioning::store::ProvisioningStore;

use crate::commands::{MemberAction, open_store};

/// What cannot be erased, as the erasure says it.
const NOT_ERASABLE: &str = "Messages the member sent stay on the devices of those who received them (and in \
    other homeservers' copies of federated rooms); Synapse marks them erased for anyone who joins later.";

pub async fn member(config: &Config, action: MemberAction) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let outcome = match action {
        MemberAction::Export { member_id } => export(config, &store, &member_id).await,
        MemberAction::Forget { member_id } => forget(config, &store, &member_id).await,
    };
    store.close().await;
    outcome
}

/// The member's accounts on this homeserver, the ghost that posts their email replies, and the
/// accounts their records name that are not theirs to erase: Relais's own users, the national
/// team's, or an id another member's record names too (a record's Matrix id comes from the
/// membership file: it proves nothing alone).
async fn accounts(
    config: &Config,
    records: &ProvisioningStore,
    member_id: &str,
) -> anyhow::Result<(Vec<OwnedUserId>, OwnedUserId, Vec<OwnedUserId>)> {
    let ours = &config.homeserver.server_name;
    let (mut theirs, mut withheld) = (Vec::new(), Vec::new());
    for user in records.member_accounts(member_id).await?.iter().filter_map(|u| UserId::parse(u).ok()) {
        if user.server_name() != ours {
            continue;
        }
        let shared = records.members_naming(user.as_str()).await?.iter().any(|m| m != member_id);
        if shared || config.is_own_user(&user) || config.provisioning.national_team.contains(&user) {
            withheld.push(user);
        } else {
            theirs.push(user);
        }
    }
    let localpart = format!("{}{}", config.mail.ghost_prefix, relais_bridge::keys::encode_member(member_id));
    let ghost = UserId::parse(format!("@{localpart}:{ours}")).context("the mail ghost's id")?;
    Ok((theirs, ghost, withheld))
}

fn client(config: &Config) -> anyhow::Result<MatrixClient> {
    Ok(MatrixClient::new(config, std::sync::Arc::new(relais_appservice::Metrics::default()))?)
}

async fn export(config: &Config, store: &relais_core::Store, member_id: &str) -> anyhow::Result<()> {
    let records = ProvisioningStore::new(store.clone());
    let mut export = records.member_export(member_id).await?;
    let (accounts, ghost, withheld) = accounts(config, &records, member_id).await?;
    export["homeserver_withheld"] = json!(withheld.iter().map(|u| u.as_str()).collect::<Vec<_>>());
    export["homeserver"] = match &config.homeserver.admin_token {
        None => {
            json!({ "not_read": "[homeserver] admin_token is not set: the homeserver's own data is not read" })
        }
        Some(token) => {
            let client = client(config)?;
            let mut read = Vec::new();
            for user in accounts.iter().chain(std::iter::once(&ghost)) {
                if let Some(account) = account_export(&client, token, user).await? {
                    read.push(account);
                }
            }
            json!({ "accounts": read })
        }
    };
    println!("{}", serde_json::to_string_pretty(&export)?);
    Ok(())
}

/// What the homeserver keeps of `user`: the fields a person recognises as theirs.
async fn account_export(
    client: &MatrixClient,
    token: &Secret,
    user: &UserId,
) -> anyhow::Result<Option<Value>> {
    let Some((account, rooms)) = client.admin_account(token, user).await? else { return Ok(None) };
    Ok(Some(json!({
        "user_id": user.as_str(),
        "display_name": account["displayname"],
        "avatar_url": account["avatar_url"],
        "created_at": account["creation_ts"],
        "deactivated": account["deactivated"],
        "threepids": account["threepids"],
        "rooms": rooms,
    })))
}

async fn forget(config: &Config, store: &relais_core::Store, member_id: &str) -> anyhow::Result<()> {
    let actor = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()));
    let records = ProvisioningStore::new(store.clone());
    // Never beside a provisioning run: it could write the member back from the jobs it already
    // read (or invite an account this erasure deactivates).
    let ttl = Duration::from_secs(u64::from(config.provisioning.lease_seconds));
    let waiting = |holder: &str| eprintln!("Waiting for a provisioning run to finish ({holder})…");
    let lease = Lease::acquire(store, relais_provisioning::apply::LEASE, &actor, ttl, None, waiting)
        .await?
        .context("the provisioning lease could not be taken")?;
    let deactivated = deactivate(config, &records, member_id).await;
    let removed = match &deactivated {
        Ok(_) => {
            // Every feature that keeps something about members erases it in the same transaction.
            let (mail, bots) = (MailStore::new(store.clone()), BotStore::new(store.clone()));
            Some(records.member_forget(lease.fence(), member_id, &actor, &[&mail, &bots]).await)
        }
        Err(_) => None,
    };
    lease.release().await?;
    let deactivated = deactivated?;
    let removed = removed.context("not erased")?.map_err(|error| match error {
        relais_core::StoreError::LeaseLost(_) => anyhow::anyhow!(
            "the provisioning lease was lost (the database was out of reach too long): nothing \
             was erased from Relais's records; run the command again"
        ),
        other => other.into(),
    })?;
    if removed == 0 {
        println!("Relais stores nothing about member {member_id}.");
    } else {
        println!("Erased {removed} records about member {member_id}.");
    }
    match deactivated {
        Some(users) if users.is_empty() => println!("No account of theirs on the homeserver."),
        Some(users) => println!("Deactivated and erased on the homeserver: {}.", users.join(", ")),
        None => println!(
            "The homeserver was not asked: [homeserver] admin_token is not set. Deactivate their account \
             there by hand (Synapse's admin API, with erase)."
        ),
    }
    println!("{NOT_ERASABLE}");
    Ok(())
}

/// Deactivates and erases the member's accounts and mail ghost on the homeserver; the ids done
/// (`None`: no admin token to do it with). The first failure stops the erasure before Relais's
/// records go, so that running the command again finds the accounts.
async fn deactivate(
    config: &Config,
    records: &ProvisioningStore,
    member_id: &str,
) -> anyhow::Result<Option<Vec<String>>> {
    let Some(token) = &config.homeserver.admin_token else { return Ok(None) };
    let client = client(config)?;
    let (accounts, ghost, withheld) = accounts(config, records, member_id).await?;
    for user in &withheld {
        eprintln!(
            "Not deactivated: {user} (Relais's own, the national team's, or named by another member's record too); \
             check it by hand."
        );
    }
    let mut done = Vec::new();
    for user in accounts.iter().chain(std::iter::once(&ghost)) {
        let existed = client.admin_deactivate(token, user).await.with_context(|| {
            format!("the homeserver did not deactivate {user}: nothing was erased; run again")
        })?;
        if existed {
            done.push(user.to_string());
        }
    }
    Ok(Some(done))
}
