#!/usr/bin/env bash
# Runs Relais locally on the embedded defaults: a local Synapse (SQLite) with Relais registered,
# `relais serve` (SQLite), and a sample member who can log in with any Matrix client.
#   bash scripts/demo.sh          run until Ctrl-C (state kept in .demo/)
#   bash scripts/demo.sh --check  start everything on free ports, prove it works, stop
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
check=false
[ "${1:-}" = "--check" ] && check=true

bash scripts/setup-synapse.sh
echo "Building relais..." >&2
cargo build --locked --quiet
relais="$root/target/debug/relais"
py="$root/.venv-synapse/bin/python"
source "$root/scripts/lib.sh"

if $check; then
  demo="$(mktemp -d)"
  hs_port=$(free_port); as_port=$(free_port); web_port=$(free_port)
else
  demo="$root/.demo"
  hs_port=${DEMO_SYNAPSE_PORT:-8008}; as_port=${DEMO_APPSERVICE_PORT:-9009}; web_port=${DEMO_WEB_PORT:-8080}
fi
mkdir -p "$demo"
server_name="pcf.test"

if [ ! -f "$demo/relais.toml" ] || $check; then
  secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  sed -e "s/^url = \"http:\/\/127.0.0.1:8008\"/url = \"http:\/\/127.0.0.1:$hs_port\"/" \
      -e "s/127.0.0.1:9009/127.0.0.1:$as_port/g" -e "s/127.0.0.1:8080/127.0.0.1:$web_port/g" \
      -e "s/change-me-as-0123456789abcdef/as_$(python3 -c 'import secrets; print(secrets.token_hex(24))')/" \
      -e "s/change-me-hs-0123456789abcdef/hs_$(python3 -c 'import secrets; print(secrets.token_hex(24))')/" \
      -e "s|sqlite://relais.db|sqlite://$demo/relais.db|" \
      relais.example.toml > "$demo/relais.toml"
  synapse_prepare "$demo/synapse" "$hs_port" "$secret" "$server_name"
  echo "$secret" > "$demo/synapse/shared_secret"
fi
secret=$(cat "$demo/synapse/shared_secret")
# The bot's end-to-end-encryption device: it answers in encrypted rooms and DMs too.
export RELAIS_BOTS__E2EE_DIR="$demo/e2ee"
"$relais" --config "$demo/relais.toml" registration > "$demo/synapse/relais-registration.yaml"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if $check; then rm -rf "$demo"; fi
}
trap cleanup EXIT INT TERM

# Mail is captured in a local maildir by a real SMTP server instead of being delivered.
smtp_port=$(free_port)
"$py" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$demo/mail" 2>"$demo/smtp.log" &
pids+=($!)
export RELAIS_MAIL__SMTP_URL="smtp://127.0.0.1:$smtp_port"
export RELAIS_HOMESERVER__REGISTRATION_SHARED_SECRET="$secret"

echo "Starting Synapse on 127.0.0.1:$hs_port..." >&2
"$py" -m synapse.app.homeserver -c "$demo/synapse/homeserver.yaml" >"$demo/synapse/stderr.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$hs_port/_matrix/client/versions" Synapse
echo "Starting relais serve..." >&2
"$relais" --config "$demo/relais.toml" serve 2>"$demo/relais.log" &
pids+=($!)
wait_http "http://127.0.0.1:$as_port/health" Relais
"$relais" --config "$demo/relais.toml" ping

# The sample members who use the chat get an account (the others are email subscribers).
for name in camille karim ines paul; do
  "$root/.venv-synapse/bin/register_new_matrix_user" -u "$name" -p "relais-demo-$name" --no-admin -k "$secret" \
    "http://127.0.0.1:$hs_port" >/dev/null 2>&1 || true
done
echo "Provisioning the sample membership file tests/data/members.csv..." >&2
"$relais" --config "$demo/relais.toml" provision tests/data/members.csv
invitation=$(for _ in $(seq 1 50); do
  grep -l "lucie.garnier" "$demo"/mail/new/* 2>/dev/null | head -n 1 && break; sleep 0.2; done)
if [ -z "$invitation" ]; then echo "error: the invitation email was not captured" >&2; exit 1; fi
link=$(sed -e ':a' -e '/=$/N; s/=\n//; ta' "$invitation" | grep -oE "http://[^ ]*/inscription/[0-9a-f]{64}" | head -n 1)
password="relais-demo-camille"
"$py" scripts/demo_member.py "http://127.0.0.1:$hs_port" camille "$password" "@relais:$server_name"

cat <<INFO

Relais is running.
  Matrix homeserver:  http://127.0.0.1:$hs_port   (server name $server_name)
  Sample members:     camille / $password  (also karim, ines, paul: password relais-demo-<name>)
  Referents' page:    http://127.0.0.1:$web_port/relais/referent  (camille is Nord's digital referent:
                      sign in as @camille:$server_name / $password, upload tests/data/members.csv)
  Mail captured in:   $demo/mail/new  (Lucie has no account yet: her invitation is there;
                      open $link
                      to create her account as she would)
  Relais metrics:     http://127.0.0.1:$as_port/metrics
Log in with any Matrix client (Element Desktop, or Element Web served locally): choose
"Edit homeserver", enter http://127.0.0.1:$hs_port, then sign in as camille: she is in the
"Fédération Nord" space with its rooms and her section, and can type !aide to talk to the bot
(also in an encrypted room or DM: the bot has its own encryption device).
INFO
if $check; then
  python3 -c "import urllib.request,sys; assert 'Créer votre compte' in urllib.request.urlopen(sys.argv[1]).read().decode()" "$link"
  python3 -c "import urllib.request,sys; assert 'Espace référents' in urllib.request.urlopen(sys.argv[1]).read().decode()" \
    "http://127.0.0.1:$web_port/relais/referent"
  echo "Demo check passed." >&2
  exit 0
fi
echo "Press Ctrl-C to stop." >&2
wait
