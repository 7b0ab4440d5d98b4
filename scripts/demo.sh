#!/usr/bin/env bash
# Starts a throw-away etcd with the v2 API on loopback, runs the demo
# program against it and stops etcd again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-etcd.sh
etcd_bin="${ETCD_BIN:-etcd}"

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
trap 'kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; rm -rf "$data_dir"' EXIT
echo "started etcd (pid $etcd_pid) on http://127.0.0.1:$client_port"
go run ./examples/demo -endpoints "http://127.0.0.1:$client_port"
