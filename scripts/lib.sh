# Shared shell helpers for demo.sh and bench-apply.sh (sourced, not run).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL WHAT: polls URL until it answers (readiness probe, 120 s at most).
wait_http() {
  for _ in $(seq 1 600); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "error: $2 did not start" >&2; return 1
}

# synapse_prepare DIR PORT SECRET SERVER_NAME: writes a loopback Synapse config from the
# templates in tests/synapse/ (shared with the Rust test harness) and a fresh signing key.
synapse_prepare() {
  local dir=$1 port=$2 secret=$3 server_name=$4 root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  mkdir -p "$dir"
  for t in homeserver.yaml log.yaml; do
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@SECRET@|$secret|g" \
        -e "s|@SERVER_NAME@|$server_name|g" "$root/tests/synapse/$t.in" > "$dir/$t"
  done
  python3 -c 'import os,base64; print("ed25519 a_relais " + base64.b64encode(os.urandom(32)).decode().rstrip("="))' \
    > "$dir/signing.key"
}
