#!/usr/bin/env bash
# The Debian package as an administrator meets it: built, installed with dpkg, its packaged
# configuration edited to point at a loopback Synapse, `relais serve` started as the `relais`
# user (as the systemd unit does; no systemd in the test container), /health checked, then
# removed and purged — and nothing of it left on the machine. Run by scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/lib.sh
bash scripts/setup-synapse.sh
# It installs, then purges: never on a machine where Relais is or was (its configuration,
# state or user would go with the purge).
if dpkg-query -W relais >/dev/null 2>&1 || [ -e /etc/relais ] || [ -e /var/lib/relais ] \
   || getent passwd relais >/dev/null || getent group relais >/dev/null; then
  echo "error: Relais is (or was) installed on this machine; check-deb.sh runs only where it is not" >&2
  exit 1
fi
deb="$(bash scripts/package-deb.sh "$@")"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  dpkg -P relais >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

dpkg -i "$deb"
test -x /usr/bin/relais && test -f /lib/systemd/system/relais.service
getent passwd relais >/dev/null
test "$(stat -c '%U:%G %a' /var/lib/relais)" = "relais:relais 750"
test "$(stat -c '%U:%G %a' /etc/relais/relais.toml)" = "root:relais 640"
# The first install made its own appservice tokens.
if grep -q change-me /etc/relais/relais.toml; then echo "error: the example's tokens were kept" >&2; exit 1; fi

hs_port=$(free_port); as_port=$(free_port); web_port=$(free_port)
secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
synapse_prepare "$work/synapse" "$hs_port" "$secret" pcf.test
# What an administrator edits in the packaged configuration.
sed -i -e "s|^url = \"http://127.0.0.1:8008\"|url = \"http://127.0.0.1:$hs_port\"|" \
    -e "s/127.0.0.1:9009/127.0.0.1:$as_port/g" -e "s/127.0.0.1:8080/127.0.0.1:$web_port/g" \
    /etc/relais/relais.toml
runuser -u relais -- /usr/bin/relais --config /etc/relais/relais.toml registration \
  > "$work/synapse/relais-registration.yaml"
.venv-synapse/bin/python -m synapse.app.homeserver -c "$work/synapse/homeserver.yaml" >"$work/synapse.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$hs_port/_matrix/client/versions" Synapse
(cd /var/lib/relais && exec runuser -u relais -- /usr/bin/relais --config /etc/relais/relais.toml serve) \
  2>"$work/relais.log" &
pids+=($!)
wait_http "http://127.0.0.1:$as_port/health" "the packaged relais" || { cat "$work/relais.log" >&2; exit 1; }
# Its state went where the package put it, owned by its user.
test "$(stat -c '%U' /var/lib/relais/relais.key)" = relais
test "$(stat -c '%U' /var/lib/relais/relais.db)" = relais
echo "the packaged relais serves (/health), its state in /var/lib/relais"

# SIGTERM to relais itself (runuser would answer a signal of its own with 128+n): it finishes
# what it was doing and exits 0, as under systemd.
kill -TERM "$(pgrep -u relais -x relais)"
wait "${pids[1]}" || { echo "relais did not stop cleanly" >&2; cat "$work/relais.log" >&2; exit 1; }
dpkg -r relais
test ! -e /usr/bin/relais && test -f /etc/relais/relais.toml && test -d /var/lib/relais
dpkg -P relais
test ! -e /etc/relais && test ! -e /var/lib/relais
if getent passwd relais >/dev/null || getent group relais >/dev/null; then
  echo "error: the purge left the relais user or group" >&2; exit 1
fi
echo "removed and purged: nothing of relais left"
