#!/usr/bin/env bash
# Apply benchmark (docs/benchmarks.md): `relais provision` against a real Synapse, side by side
# with a plain script making the same calls with the same parallelism.
#   bash scripts/bench-apply.sh [MEMBERS]   (default 2000; shape scaled from the national one)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
members=${1:-2000}
source scripts/lib.sh
bash scripts/setup-synapse.sh
cargo build --release --locked --quiet --features bench
relais="$root/target/release/relais"
bench="$root/target/release/relais-bench"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

scale=$(( members * 1000 / 50000 ))
"$bench" membership-file --members "$members" --federations $(( scale > 10 ? scale / 10 : 1 )) \
  --sections $(( scale > 1 ? scale : 1 )) --cells $(( scale * 3 > 1 ? scale * 3 : 1 )) > "$work/members.csv"
concurrency=$(grep -E '^concurrency' relais.example.toml | grep -oE '[0-9]+')

# run_side MODE: a fresh Synapse and Relais, then one side of the benchmark.
run_side() {
  local mode=$1 dir="$work/$1" hs_port as_port web_port secret as_token
  hs_port=$(free_port); as_port=$(free_port); web_port=$(free_port)
  secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  as_token="as_$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  synapse_prepare "$dir/synapse" "$hs_port" "$secret" pcf.test
  sed -e "s/^url = \"http:\/\/127.0.0.1:8008\"/url = \"http:\/\/127.0.0.1:$hs_port\"/" \
      -e "s/127.0.0.1:9009/127.0.0.1:$as_port/g" -e "s/127.0.0.1:8080/127.0.0.1:$web_port/g" \
      -e "s/change-me-as-0123456789abcdef/$as_token/" \
      -e "s/change-me-hs-0123456789abcdef/hs_$(python3 -c 'import secrets; print(secrets.token_hex(24))')/" \
      -e "s|sqlite://relais.db|sqlite://$dir/relais.db|" relais.example.toml > "$dir/relais.toml"
  "$relais" --config "$dir/relais.toml" registration > "$dir/synapse/relais-registration.yaml"
  .venv-synapse/bin/python -m synapse.app.homeserver -c "$dir/synapse/homeserver.yaml" >"$dir/synapse.log" 2>&1 &
  local synapse_pid=$!
  pids+=($synapse_pid)
  wait_http "http://127.0.0.1:$hs_port/_matrix/client/versions" Synapse
  "$relais" --config "$dir/relais.toml" serve 2>"$dir/relais.log" &
  local relais_pid=$!
  pids+=($relais_pid)
  wait_http "http://127.0.0.1:$as_port/health" Relais
  python3 scripts/bench_apply.py "$mode" "http://127.0.0.1:$hs_port" "$secret" "$as_token" "$work/members.csv" \
    "$relais" "$dir/relais.toml" "$concurrency" pcf.test
  kill -TERM "$relais_pid" "$synapse_pid"; wait "$relais_pid" "$synapse_pid" 2>/dev/null || true
}
run_side plain
run_side relais
