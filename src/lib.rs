//! Relais as a library: everything the `relais` binary runs — the services (`serve`), the
//! operator's commands, the web pages, and (with the `bench` feature) the benchmarks — so that tests and other binaries use the
//! same code in-process. `src/main.rs` only parses the command line and hands over.

pub mod app;
#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "bench")]
mod bench_archive;
#[cfg(feature = "bench")]
mod bench_intake;
#[cfg(feature = "bench")]
mod bench_listener;
#[cfg(feature = "bench")]
mod bench_mail;
#[cfg(feature = "bench")]
mod bench_poll;
pub mod commands;
pub mod congress;
pub mod http;
pub mod mail;
pub mod member;
pub mod provision;
pub mod serve;
pub mod stats;
mod supervise;
