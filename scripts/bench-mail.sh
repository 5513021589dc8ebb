#!/usr/bin/env bash
# Mail bridge benchmark: fan-out beside Postfix's smtp-source, daily digest, inbound.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null; then
  echo "Installing Debian's postfix package for smtp-sink and smtp-source..."
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix
fi
PATH="$PATH:/usr/sbin"
cargo build --release --locked --features bench
target/release/relais-bench mail "$@"
