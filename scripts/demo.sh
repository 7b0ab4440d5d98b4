#!/usr/bin/env bash
# Starts a throw-away etcd with the v2 API on loopback, runs the demo
# program against it and stops etcd again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-etcd.sh 3.4
etcd_bin=$(bash scripts/etcd-bin.sh 3.4)

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}
client_port=$(free_port)
peer_port=$(free_port)
data_dir=$(mktemp -d)
"$etcd_bin" --name demo --enable-v2 --data-dir "$data_dir" \
  --listen-client-urls "http://127.0.0.1:$client_port" --advertise-client-urls "http://127.0.0.1:$client_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "demo=http://127.0.0.1:$peer_port" >"$data_dir/etcd.log" 2>&1 &
etcd_pid=$!
follow_pid=""
cleanup() {
  if [ -n "$follow_pid" ]; then kill "$follow_pid" 2>/dev/null || true; fi
  kill "$etcd_pid" 2>/dev/null || true
  wait "$etcd_pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT
echo "started etcd (pid $etcd_pid) on http://127.0.0.1:$client_port"
go run ./examples/demo -endpoints "http://127.0.0.1:$client_port"

# The v2keys tool: migrate a v2 subtree into the v3 keyspace of the same
# etcd, following changes until stopped, then verify.
echo
echo "== v2keys migrate: v2 /demo-app -> v3 /v3/demo-app"
(cd cmd/v2keys && go build -o "$data_dir/v2keys" .)
v2keys() { timeout 30 "$data_dir/v2keys" --endpoints "http://127.0.0.1:$client_port" "$@"; }
v2keys set /demo-app/config/db "postgres://db:5432" >/dev/null
v2keys set /demo-app/config/mode "blue" >/dev/null
v2keys set --ttl 120 /demo-app/leader "node-1" >/dev/null
v2keys mkdir /demo-app/empty-dir
echo "-- v2 side:"
v2keys ls --sort --recursive -p /demo-app

"$data_dir/v2keys" --endpoints "http://127.0.0.1:$client_port" migrate --follow --prefix /v3 /demo-app \
  >"$data_dir/follow.out" 2>"$data_dir/follow.err" &
follow_pid=$!
# Wait (bounded) until the copy is done: the key is in v3.
for _ in $(seq 1 100); do
  if v2keys v3-get /v3/demo-app/config/mode >/dev/null 2>&1; then break; fi
  sleep 0.1
done
echo "-- change a v2 key while migrate --follow runs: mode=green, remove leader"
v2keys set /demo-app/config/mode "green" >/dev/null
v2keys rm /demo-app/leader >/dev/null
v2keys set --ttl 60 /demo-app/leader "node-2" >/dev/null
for _ in $(seq 1 100); do
  if [ "$(v2keys v3-get /v3/demo-app/config/mode 2>/dev/null)" = "/v3/demo-app/config/mode = green" ]; then break; fi
  sleep 0.1
done
sleep 0.3
echo "-- v3 side (v2keys v3-get --prefix /v3/demo-app):"
v2keys v3-get --prefix /v3/demo-app
echo "-- stop the follow (SIGINT):"
kill -INT "$follow_pid"
wait "$follow_pid" || true
follow_pid=""
cat "$data_dir/follow.out"
echo "-- verify:"
v2keys migrate --verify --prefix /v3 /demo-app
echo "-- v2 side:"
for k in /demo-app/config/db /demo-app/config/mode /demo-app/leader; do
  printf '%s = %s\n' "$k" "$(v2keys get "$k")"
done
echo "-- v3 side:"
v2keys v3-get --prefix /v3/demo-app

# onv3: the same v2 KeysAPI, served from the v3 keyspace that migrate wrote.
echo
echo "== onv3: the v2 KeysAPI on the v3 copy (v3 keys under /v3)"
(cd onv3 && go run ./examples/demo -endpoints "http://127.0.0.1:$client_port" -prefix /v3 -key /demo-app)
