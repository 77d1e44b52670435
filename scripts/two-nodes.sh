#!/usr/bin/env bash
# `make demo-nodes`: two parley-server nodes on one throwaway PostgreSQL database, alice on one
# node and bob on the other (offline delivery, a live push across nodes, a reply).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(swift build -c debug --show-bin-path)
PG=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
work=$(mktemp -d); chmod 755 "$work"; mkdir "$work/pg"
# PostgreSQL refuses to run as root: then it runs as nobody.
as_pg=(); if [ "$(id -u)" = 0 ]; then chown nobody "$work/pg"; as_pg=(runuser -u nobody --); fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  "${as_pg[@]}" env -C / "$PG/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

pgport=$(free_port)
say "A throwaway PostgreSQL on 127.0.0.1:$pgport"
"${as_pg[@]}" env -C / "$PG/initdb" -D "$work/pg/data" -A trust -U parley --no-sync >/dev/null
"${as_pg[@]}" env -C / "$PG/pg_ctl" -D "$work/pg/data" -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" \
  -l "$work/pg/log" -w start >/dev/null
"$PG/psql" -X -q -h 127.0.0.1 -p "$pgport" -U parley -d postgres -c "CREATE DATABASE parley"
url="postgresql://parley@127.0.0.1:$pgport/parley"

pa=$(free_port); pb=$(free_port)
say "Two nodes, one static key (clients pin it), one database: node-a on $pa, node-b on $pb"
mkdir -p "$work/a" "$work/b"
# The key is made once (0600) and every node is pointed at it; on real machines, copy the file
# to each node with `install -m 600`.
key="$work/cluster-static-key"
"$BIN/parley-server" --key-file "$key" --print-key >/dev/null
"$BIN/parley-server" --port "$pa" --data-dir "$work/a" --key-file "$key" --database "$url" --node-id node-a 2>"$work/a.log" & pids+=($!)
PARLEY_DATABASE_URL="$url" "$BIN/parley-server" --port "$pb" --data-dir "$work/b" --key-file "$key" --node-id node-b 2>"$work/b.log" & pids+=($!)
for _ in $(seq 1 100); do grep -q "] listening$" "$work/a.log" && grep -q "] listening$" "$work/b.log" && break; sleep 0.1; done
grep -h "] listening$" "$work/a.log" "$work/b.log" || { cat "$work/a.log" "$work/b.log"; exit 1; }

alice() { printf '%s\n' "alice-demo-password" | "$BIN/parley" --server "127.0.0.1:$pa" --home "$work/alice" --user alice --password-stdin "$@"; }
bob() { printf '%s\n' "bob-demo-password" | "$BIN/parley" --server "127.0.0.1:$pb" --home "$work/bob" --user bob --password-stdin "$@"; }
alice register alice
bob register bob
say "Alice (node-a) writes to Bob while he is offline; Bob receives on node-b"
alice send bob "hello across nodes"
bob receive --wait 3
bob accept alice
say "Bob waits on node-b while Alice sends on node-a: pushed through LISTEN/NOTIFY"
( bob receive --wait 8 > "$work/live.txt" 2>&1 ) & waiter=$!
sleep 3
alice send bob "pushed live from node-a"
wait "$waiter" || true
cat "$work/live.txt"
grep -q "pushed live from node-a" "$work/live.txt" || { echo "the live push did not arrive" >&2; exit 1; }
bob send alice "reply from node-b"
alice receive --wait 3
