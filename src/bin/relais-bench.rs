//! `relais-bench`: the figures of docs/benchmarks.md (built with `--features bench`, never part
//! of the production binary). Needs no configuration: each benchmark makes its own store,
//! listeners and synthetic data.

use std::process::ExitCode;

use clap::Parser;

/// Benchmarks of Relais (figures for docs/benchmarks.md).
#[derive(Debug, Parser)]
#[command(name = "relais-bench", version, about = "Benchmarks of Relais: the figures of docs/benchmarks.md", long_about = None)]
struct Cli {
    #[command(flatten)]
    bench: relais::bench::BenchArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RELAIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(relais::bench::run(cli.bench)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
