//! `relais`: the one binary of the Relais suite.
//!
//! Parses the command line, loads the configuration, and hands over to the crates. Errors are
//! printed as one readable message (what failed and what to do), never as a panic or backtrace.

use relais::{commands, congress, mail, provision, serve, stats};

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// Relais: the party's Matrix messaging, provisioned from the membership file, with polls,
/// broadcasts and a mail bridge for members who prefer email.
#[derive(Debug, Parser)]
#[command(name = "relais", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML); any key can also be set as RELAIS_<SECTION>__<KEY>.
    #[arg(long, short, global = true, env = "RELAIS_CONFIG", default_value = "relais.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the appservice registration YAML for Synapse (app_service_config_files).
    Registration,
    /// Run everything that listens: the appservice, the bots, the web pages.
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Ask the homeserver to ping Relais back: checks tokens, registration and reachability.
    Ping,
    /// Reconcile the membership file into spaces, rooms, moderators and email subscribers.
    Provision(provision::ProvisionArgs),
    /// Compare the homeserver with what provisioning recorded and repair manual changes.
    Drift(provision::DriftArgs),
    /// Show the audit log: every change provisioning applied (who, what, when, why).
    Audit {
        /// How many entries, newest first.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A member's data (GDPR): export everything stored about them, or erase it.
    Member {
        #[command(subcommand)]
        action: commands::MemberAction,
    },
    /// Polls: results of a poll, by the id of its start event.
    Poll {
        #[command(subcommand)]
        action: PollAction,
    },
    /// Congress mode: load the mandates file (delegates' mandates and proxies).
    Congres {
        #[command(subcommand)]
        action: CongressAction,
    },
    /// Statistics of the newest broadcasts: rooms, readers, reactions, clicks, mails (counts only).
    Stats {
        /// How many broadcasts, newest first.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print CSV (one line per broadcast).
        #[arg(long)]
        csv: bool,
    },
    /// The mail bridge: lists, digests, the outbox.
    Mail {
        #[command(subcommand)]
        action: MailAction,
    },
    /// Inspect the intake queue: events waiting, failed, and retrying failed ones.
    Queue {
        #[command(subcommand)]
        action: commands::QueueAction,
    },
}

#[derive(Debug, Subcommand)]
enum PollAction {
    /// The count of a poll (as closed, or so far): answers, turnout, ignored responses, quorum.
    Results {
        /// The poll's start event id ($…).
        event_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print CSV (answer;count).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// The signed minutes of a congress vote (closed or so far).
    Minutes { event_id: String },
    /// The public key that signs minutes, to publish.
    MinutesKey,
    /// Check signed minutes against this installation's key.
    Verify { file: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
enum CongressAction {
    /// Check and load the mandates file (`N° adhérent;Mandats;Procuration de`); replaces the
    /// previous one, or changes nothing if a line is wrong.
    Mandats {
        file: std::path::PathBuf,
        /// Most proxies one delegate may carry.
        #[arg(long, default_value_t = 2)]
        max_procurations: usize,
    },
}

#[derive(Debug, Subcommand)]
enum MailAction {
    /// Open the daily and weekly digests of everything not digested yet, and send them.
    Digest {
        /// Required: digests otherwise go out at [mail] digest_time by `relais serve`.
        #[arg(long)]
        now: bool,
    },
    /// Send what is due in the outbox now (`relais serve` does it continuously).
    Send,
    /// The lists, their addresses, and the outbox counts.
    Lists,
    /// Send mail again to a member whose address was suspended after bounces (once it is fixed).
    Reactivate { member_id: String },
    /// Print the mail to postmaster@ kept for an operator ([mail] postmaster unset, or its
    /// server refused the forward), oldest first.
    Postmaster {
        /// Then delete the mail printed.
        #[arg(long)]
        erase: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    install_panic_hook();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = relais_core::Config::load(&cli.config)?;
    let done = match cli.command {
        Command::Provision(args) => return provision::run(&config, args).await,
        Command::Drift(args) => return provision::drift(&config, args).await,
        Command::Registration => {
            print!("{}", relais_appservice::registration::registration_yaml(&config));
            Ok(())
        }
        Command::Serve => serve::run(config).await,
        Command::Migrate => commands::migrate(&config).await,
        Command::Ping => commands::ping(&config).await,
        Command::Queue { action } => commands::queue(&config, action).await,
        Command::Audit { limit, json } => commands::audit(&config, limit, json).await,
        Command::Member { action } => relais::member::member(&config, action).await,
        Command::Poll { action: PollAction::Results { event_id, json, csv } } => {
            commands::poll_results(&config, &event_id, json, csv).await
        }
        Command::Poll { action: PollAction::Minutes { event_id } } => {
            congress::print_minutes(&config, &event_id).await
        }
        Command::Poll { action: PollAction::MinutesKey } => {
            println!(
                "{}",
                relais_bots::poll::minutes::public_key(config.key(relais_core::KeyPurpose::Minutes).expose(),)
            );
            Ok(())
        }
        Command::Poll { action: PollAction::Verify { file } } => congress::verify(&config, &file),
        Command::Congres { action: CongressAction::Mandats { file, max_procurations } } => {
            congress::load(&config, &file, max_procurations).await
        }
        Command::Stats { limit, csv } => stats::run(&config, limit, csv).await,
        Command::Mail { action } => {
            let store = commands::open_store(&config).await?;
            let result = match action {
                MailAction::Digest { now: true } => mail::digest_now(&config, &store).await,
                MailAction::Digest { now: false } => Err(anyhow::anyhow!(
                    "digests go out at [mail] digest_time by `relais serve`; use --now to send them at once"
                )),
                MailAction::Send => mail::send_now(&config, &store).await,
                MailAction::Lists => mail::show_lists(&config, &store).await,
                MailAction::Postmaster { erase } => {
                    mail::show_postmaster(&relais_bridge::store::MailStore::new(store.clone()), erase).await
                }
                MailAction::Reactivate { member_id } => {
                    match relais_bridge::store::MailStore::new(store.clone()).address_reset(&member_id).await
                    {
                        Ok(0) => {
                            Err(anyhow::anyhow!("no suspended or bouncing address for member {member_id}"))
                        }
                        Ok(_) => {
                            println!("mail to member {member_id} resumes");
                            Ok(())
                        }
                        Err(e) => Err(e.into()),
                    }
                }
            };
            store.close().await;
            result
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// Panics are logged through tracing with where they happened and on which thread, and their
/// message only when it is a literal: a formatted one may hold members' data (a mail, an
/// address), so it is withheld unless `RELAIS_LOG_PANIC_MESSAGES=1` (see
/// [`relais_core::panic`]). Replaces std's hook, which prints every message to stderr.
fn install_panic_hook() {
    let reveal = relais_core::panic::reveal_from_env();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let report = relais_core::panic::report(info.payload(), info.location(), thread.name(), reveal);
        tracing::error!(target: "relais::panic", "{report}");
    }));
}

/// Logs go to stderr; `RELAIS_LOG` sets the filter (default `info`). The crypto machine's own
/// logs name the members whose keys it handles: kept to warnings unless asked for by name.
fn init_logging() {
    let mut directives = std::env::var("RELAIS_LOG").unwrap_or_else(|_| "info".to_owned());
    if !directives.contains("matrix_sdk") {
        directives.push_str(",matrix_sdk_crypto=warn,matrix_sdk_common=warn,matrix_sdk_sqlite=warn");
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
