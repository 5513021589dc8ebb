#!/usr/bin/env bash
# Reply-stripping benchmark on adversarial input (docs/benchmarks.md).
# Usage: scripts/bench-strip.sh [REVISION] [N_BYTES]
#   REVISION: a git revision whose bridge/src/inbound/strip.rs is measured (default: the work tree).
#   N_BYTES: the small input size (default 16384); each shape is also measured at 4 × N_BYTES.
# Builds with rustc -O alone (strip.rs uses only the standard library): no cargo build needed.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-}"
n="${2:-16384}"
dir="target/bench-strip/${rev:-worktree}"
mkdir -p "$dir"
if [ -n "$rev" ]; then
  git show "$rev:bridge/src/inbound/strip.rs" >"$dir/strip.rs"
else
  cp bridge/src/inbound/strip.rs "$dir/strip.rs"
fi
cp scripts/bench_strip.rs "$dir/main.rs"
rustc --edition 2024 -C opt-level=3 -C codegen-units=1 --cap-lints allow -o "$dir/bench" "$dir/main.rs"
"$dir/bench" "$n"
