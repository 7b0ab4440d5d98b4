#!/usr/bin/env bash
# Makes sure an etcd binary is available: $ETCD_BIN, or etcd on PATH, or
# Debian's etcd-server package installed now.
set -euo pipefail
etcd_bin="${ETCD_BIN:-etcd}"
if command -v "$etcd_bin" >/dev/null 2>&1; then
  exit 0
fi
echo "etcd not found; installing Debian's etcd-server" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq etcd-server >/dev/null
# The package starts a system service where systemd runs; the tests start
# their own members on free ports, so stop it if it is running.
$sudo systemctl stop etcd >/dev/null 2>&1 || true
command -v "$etcd_bin" >/dev/null
