#!/usr/bin/env bash
# `make demo`: a real parley-server on a temporary data directory, and two real clients.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(swift build -c debug --show-bin-path)
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
server="127.0.0.1:$port"

say "Starting parley-server on $server (data in a temporary folder)"
"$BIN/parley-server" --port "$port" --data-dir "$work/server" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q listening "$work/server.log" 2>/dev/null && break; sleep 0.1; done
grep listening "$work/server.log" || { cat "$work/server.log"; exit 1; }

alice() { printf '%s\n' "alice-demo-password" | "$BIN/parley" --server "$server" --home "$work/alice" --user alice --password-stdin "$@"; }
bob() { printf '%s\n' "bob-demo-password" | "$BIN/parley" --server "$server" --home "$work/bob" --user bob --password-stdin "$@"; }

say "Registering alice and bob"
alice register alice
bob register bob

say "Alice writes to Bob while he is offline"
alice send bob "Hi Bob! This is end-to-end encrypted; the server only stores an opaque envelope."
python3 scripts/make_demo_png.py "$work/sunset.png"
echo "(the demo image carries a tEXt chunk with a fake GPS position; Parley strips it before sending)"
alice send-image bob "$work/sunset.png"

say "Bob comes online and receives"
bob receive --wait 5
bob requests
bob accept alice
bob send alice "Hi Alice, got your text and your picture. Safety numbers next?"

say "Alice receives the reply"
alice receive --wait 5

say "The conversation, as Alice sees it"
alice history bob
say "The conversation, as Bob sees it"
bob history alice

say "Bob's copy of the image: kept encrypted, previewed from memory, saved in clear only on request"
bob images alice
bob view alice 1
bob images alice --save

say "Safety numbers (compare them out of band)"
a=$(alice safety-number bob); b=$(bob safety-number alice)
echo "alice sees: $a"
echo "bob sees:   $b"
if [ "$a" = "$b" ]; then echo "They match."; else echo "They differ!"; exit 1; fi

say "Stopping the server cleanly"
kill -TERM "$server_pid"; wait "$server_pid"; server_pid=""
tail -n 2 "$work/server.log"
echo
echo "Try it yourself in two terminals:  make server   and   make client"
