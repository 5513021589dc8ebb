#!/usr/bin/env bash
# Plan benchmark (docs/benchmarks.md): the user-facing command, `relais provision FILE
# --dry-run` with and without `--json`, on synthetic national files of growing size; wall time
# and peak resident memory of the whole process (GNU time), against the limits of the issue.
#   bash scripts/bench-plan.sh [MEMBERS...]   (default 10000 50000 100000 200000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 50000 100000 200000)
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
cargo build --release --locked --quiet --features bench --bin relais --bin relais-bench
relais="$root/target/release/relais"
bench="$root/target/release/relais-bench"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM
sed -e "s|sqlite://relais.db|sqlite://$work/relais.db|" relais.example.toml > "$work/relais.toml"

# measure NAME ARGS...: prints "NAME seconds peak_MB" (the best of three runs by time).
measure() {
  local name=$1 best="" best_mb="" s mb
  shift
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }
    s=$(cut -d' ' -f1 "$work/time"); mb=$(( $(cut -d' ' -f2 "$work/time") / 1024 ))
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then best=$s; best_mb=$mb; fi
  done
  echo "$name $best $best_mb $(stat -c %s "$work/out")"
}

echo "members variant seconds peak_MB stdout_bytes"
for n in "${sizes[@]}"; do
  # The national shape (50,000 members: 100 federations, 1,000 sections, 3,000 cells), scaled.
  "$bench" membership-file --members "$n" --federations 100 --sections $(( n / 50 )) --cells $(( n * 3 / 50 )) \
    > "$work/members.csv"
  measure "$n text" "$relais" --config "$work/relais.toml" provision "$work/members.csv" --dry-run
  measure "$n json" "$relais" --config "$work/relais.toml" provision "$work/members.csv" --dry-run --json
done
