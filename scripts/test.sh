#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing (PostgreSQL if stopped or
# absent, Synapse in .venv-synapse), then rustfmt, clippy, unit and integration tests against the
# real Synapse, SQLite and PostgreSQL, a real SMTP server, matrix-nio and headless Chromium,
# then the homeserver-facing integration tests again against Synapse in worker mode
# (tests/synapse/workers/), the demo in check mode, and finally the Debian package installed,
# started and purged. Screenshots land in test-artifacts/screenshots/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

for tool in cargo python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required (Rust toolchain, Python 3)" >&2; exit 1; }
done
bash scripts/ensure-postgres.sh
bash scripts/setup-synapse.sh
# Browser tests: Debian's Chromium driven by playwright-core (no browser download).
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Chromium (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
# Synapse in worker mode: Redis for its replication, nginx as its router; openssl for the
# federating homeservers' CA; adduser and pgrep for the Debian package's check.
missing=()
for pair in redis-server:redis-server nginx:nginx-light openssl:openssl adduser:adduser pgrep:procps; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "error: Node.js is required for the browser tests" >&2; exit 1; }
npm ci --prefix tests/browser --no-audit --no-fund --silent
export RELAIS_TEST_POSTGRES_URL="${RELAIS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
echo "== tests"
cargo test --workspace --all-features --locked
echo "== integration tests against Synapse in worker mode (the homeserver-facing modules)"
RELAIS_TEST_SYNAPSE=workers cargo test --all-features --locked --test integration -- \
  provisioning:: polls:: broadcasts:: mail_bridge::
echo "== demo (check mode)"
bash scripts/demo.sh --check
echo "== Debian package (built, installed, started, purged)"
bash scripts/check-deb.sh
