#!/usr/bin/env bash
# ensure-etcd.sh [SERIES...]: makes sure the etcd servers of the given series
# (default: 3.4) are available, installing Debian's etcd-server or building
# from the Go module proxy as scripts/etcd-bin.sh does, and that Debian's
# etcdctl 3.4.23 (package etcd-client, the reference for the v2keys
# command's output) is installed. Prints nothing on success but what the
# installs and builds print on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then set -- 3.4; fi
for series in "$@"; do
  bash scripts/etcd-bin.sh "$series" >/dev/null
done
if ! command -v etcdctl >/dev/null 2>&1; then
  echo "ensure-etcd.sh: installing Debian's etcd-client (etcdctl)" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq etcd-client; } >&2
  command -v etcdctl >/dev/null
fi
