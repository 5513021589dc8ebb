#!/usr/bin/env bash
# Our HTML-to-text pass against html5ever's tokenizer and mail-parser's html_to_text, on the
# adversarial shapes of scripts/bench-strip.sh (docs/benchmarks.md, "html5ever").
# Usage: scripts/bench-html-libs.sh [N_BYTES]   (inputs are 4 × N_BYTES, default N = 16384)
# Builds a small cargo project under target/bench-html-libs from the registry (offline if the
# crates are already fetched), outside the workspace: Relais itself does not depend on html5ever.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-16384}"
dir="target/bench-html-libs"
mail_parser="$(sed -n 's/^mail-parser = { version = "\([^"]*\)".*/\1/p; s/^mail-parser = "\([^"]*\)"/\1/p' Cargo.toml)"
mkdir -p "$dir/src"
rm -rf "$dir/src/strip"
cp -r maildomain/src/strip "$dir/src/strip"
cp scripts/bench_html_libs.rs "$dir/src/main.rs"
cat >"$dir/Cargo.toml" <<TOML
[package]
name = "bench-html-libs"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
html5ever = "0.39"
mail-parser = "${mail_parser:-0.11}"

[profile.release]
codegen-units = 1
TOML
cargo run --quiet --release --offline --manifest-path "$dir/Cargo.toml" -- "$n" 2>/dev/null \
  || cargo run --quiet --release --manifest-path "$dir/Cargo.toml" -- "$n"
