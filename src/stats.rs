//! `relais stats`: what the newest broadcasts achieved (rooms, readers, reactions, clicks, mails,
//! local notes) and how they were corrected (edits, withdrawal), as a table or CSV. Counts only:
//! nothing here names a member.

use relais_bots::store::{BotStore, stats::BroadcastStats};
use relais_core::{Config, time::format_paris};

use crate::commands::open_store;

/// A CSV field, quoted when it needs to be.
fn field(text: &str) -> String {
    if text.contains([';', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn excerpt(s: &BroadcastStats) -> String {
    relais_bots::proposal::stored_excerpt(s.content.as_ref())
}

pub async fn run(config: &Config, limit: i64, csv: bool) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let all = BotStore::new(store.clone()).broadcast_stats(None, limit).await;
    store.close().await;
    let all = all?;
    if csv {
        println!(
            "broadcast;sent_at;excerpt;rooms_targeted;rooms_delivered;readers;reactions;clicks;mails;notes;edits;withdrawn_at;unsubscribes"
        );
        for s in &all {
            println!(
                "{};{};{};{};{};{};{};{};{};{};{};{};{}",
                s.broadcast_id,
                format_paris(s.send_at),
                field(&excerpt(s)),
                s.rooms_targeted,
                s.rooms_delivered,
                s.readers,
                s.reactions,
                s.clicks,
                s.mails,
                s.notes,
                s.edits,
                s.withdrawn_at.map(format_paris).unwrap_or_default(),
                s.unsubscribes
            );
        }
        return Ok(());
    }
    if all.is_empty() {
        println!("no broadcast yet");
    }
    for s in &all {
        println!(
            "#{} {} «{}»: rooms {}/{}, readers {}, reactions {}, clicks {}, mails {}, unsubscribes {}, notes {}, edits {}{}",
            s.broadcast_id,
            format_paris(s.send_at),
            excerpt(s),
            s.rooms_delivered,
            s.rooms_targeted,
            s.readers,
            s.reactions,
            s.clicks,
            s.mails,
            s.unsubscribes,
            s.notes,
            s.edits,
            s.withdrawn_at.map(|at| format!(", withdrawn {}", format_paris(at))).unwrap_or_default()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(super::field("simple"), "simple");
        assert_eq!(super::field("a;b \"c\""), "\"a;b \"\"c\"\"\"");
    }
}
