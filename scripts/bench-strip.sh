#!/usr/bin/env bash
# Reply-stripping benchmark on adversarial input (docs/benchmarks.md).
# Usage: scripts/bench-strip.sh [REVISION] [N_BYTES]
#   REVISION: a git revision whose strip module (maildomain/src/strip/; before that
#   bridge/src/inbound/strip/, or strip.rs before it was split) is measured (default: the work tree).
#   N_BYTES: the small input size (default 16384); each shape is also measured at 4 × N_BYTES.
# Builds a small cargo project under target/bench-strip (outside the workspace): the module
# needs only mail-parser (its entity table), taken from the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-}"
n="${2:-16384}"
dir="target/bench-strip/${rev:-worktree}/src"
mkdir -p "$dir"
rm -rf "$dir/strip" "$dir/strip.rs"
if [ -z "$rev" ]; then
  cp -r maildomain/src/strip "$dir/strip"
elif git cat-file -e "$rev:maildomain/src/strip" 2>/dev/null; then
  mkdir -p "$dir/strip"
  git archive "$rev" maildomain/src/strip | tar -x -C "$dir/strip" --strip-components=3
elif git cat-file -e "$rev:bridge/src/inbound/strip.rs" 2>/dev/null; then
  git show "$rev:bridge/src/inbound/strip.rs" >"$dir/strip.rs"
else
  mkdir -p "$dir/strip"
  git archive "$rev" bridge/src/inbound/strip | tar -x -C "$dir/strip" --strip-components=4
fi
cp scripts/bench_strip.rs "$dir/main.rs"
mail_parser="$(sed -n 's/^mail-parser = "\([^"]*\)"/\1/p' Cargo.toml)"
cat >"$dir/../Cargo.toml" <<TOML
[package]
name = "bench-strip"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
mail-parser = "${mail_parser:-0.11}"

[profile.release]
codegen-units = 1
TOML
export CARGO_TARGET_DIR="$PWD/target/bench-strip/target"
cargo run --quiet --release --offline --manifest-path "$dir/../Cargo.toml" -- "$n" 2>/dev/null \
  || cargo run --quiet --release --manifest-path "$dir/../Cargo.toml" -- "$n"
