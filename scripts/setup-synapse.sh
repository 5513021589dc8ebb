#!/usr/bin/env bash
# Installs the pinned Synapse (tests/synapse/requirements.txt) into .venv-synapse, once.
# Re-running is cheap: the virtualenv is reused while the pinned version matches.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-synapse"
req="$root/tests/synapse/requirements.txt"
stamp="$venv/.requirements"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
  exit 0
fi
python="${PYTHON:-python3}"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "Installing Python's venv module (apt-get)..." >&2
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi
if ! command -v pg_config >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1 || ! command -v python3-config >/dev/null 2>&1; then
  echo "Installing libpq's headers and a C compiler for psycopg2 (apt-get)..." >&2
  apt-get update -qq && apt-get install -y -qq libpq-dev python3-dev gcc >/dev/null
fi
echo "Installing Synapse into $venv (first run only)..." >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r "$req"
cp "$req" "$stamp"
"$venv/bin/python" -c 'import synapse; print("Synapse", synapse.__version__, "ready")' >&2
