#!/usr/bin/env bash
# etcd-bin.sh VERSION: prints the absolute path of an etcd server binary of
# that version, ready to run, or exits non-zero with a message on stderr.
#
# VERSION is exact (3.5.35) or a series (3.4, 3.5, 3.6, 3.7: the version
# pinned below for that series).
#   3.4.23      Debian's etcd-server package (installed if missing).
#   3.5.x-3.7.x built from the Go module proxy: a throw-away module that
#               requires go.etcd.io/etcd/server/v3 at that version and runs
#               "go build go.etcd.io/etcd/server/v3" (its package main).
#               "go install ...@version" is refused because the server's
#               go.mod has replace directives; a requiring module ignores them.
# Built binaries are cached in .cache/etcd/VERSION/etcd of the checkout (or
# $V2KEYS_ETCD_CACHE), so a second call is instant. Concurrent calls for one
# version wait for each other (flock) instead of building twice.
set -euo pipefail

# The pinned versions, the one place they are named: the newest release of
# each series that the Go module proxy serves (checked 2026-12-01).
PIN_34=3.4.23
PIN_35=3.5.35
PIN_36=3.6.16
PIN_37=3.7.3

die() { echo "etcd-bin.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: etcd-bin.sh VERSION (3.4, 3.5, 3.6, 3.7 or an exact x.y.z)"
want=$1
case "$want" in
  3.4) want=$PIN_34 ;;
  3.5) want=$PIN_35 ;;
  3.6) want=$PIN_36 ;;
  3.7) want=$PIN_37 ;;
  pins) echo "$PIN_34 $PIN_35 $PIN_36 $PIN_37"; exit 0 ;;
esac
[[ "$want" =~ ^3\.[0-9]+\.[0-9]+$ ]] || die "version \"$1\" is neither a series (3.4 .. 3.7) nor an exact 3.y.z"

root=$(cd "$(dirname "$0")/.." && pwd)

# reported prints the version a binary says it is, or nothing.
reported() { "$1" --version 2>/dev/null | sed -n 's/^etcd Version: *//p' | head -n1; }

if [ "${want%.*}" = 3.4 ]; then
  [ "$want" = "$PIN_34" ] || die "etcd $want: only $PIN_34 (Debian's etcd-server) is available for 3.4"
  if ! [ -x /usr/bin/etcd ] || [ "$(reported /usr/bin/etcd)" != "$want" ]; then
    echo "etcd-bin.sh: installing Debian's etcd-server for etcd $want" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq etcd-server; } >&2 ||
      die "apt-get could not install etcd-server"
    # The package starts a system service where systemd runs; the tests
    # start their own members on free ports.
    $sudo systemctl stop etcd >/dev/null 2>&1 || true
    $sudo systemctl disable etcd >/dev/null 2>&1 || true
  fi
  got=$(reported /usr/bin/etcd)
  [ "$got" = "$want" ] || die "Debian's etcd-server is $got, not $want"
  echo /usr/bin/etcd
  exit 0
fi

case "${want%.*}" in
  3.5|3.6|3.7) ;;
  *) die "etcd $want: only the 3.4 (Debian) and 3.5-3.7 (module proxy) series are supported" ;;
esac

cache=${V2KEYS_ETCD_CACHE:-$root/.cache/etcd}
dir=$cache/$want
bin=$dir/etcd
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -x "$bin" ] && [ "$(reported "$bin")" = "$want" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH; it is needed to build etcd $want"
echo "etcd-bin.sh: building etcd $want from the Go module proxy (a minute or two)" >&2
start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/go.mod" <<MOD
module v2keys.local/etcdbuild

go 1.24
MOD
# A blank import keeps the server module required by "go mod tidy".
cat >"$work/tools.go" <<'GO'
//go:build tools

package etcdbuild

import _ "go.etcd.io/etcd/server/v3"
GO
(
  cd "$work"
  export GOFLAGS=-mod=mod
  go get "go.etcd.io/etcd/server/v3@v$want" >&2
  CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" go.etcd.io/etcd/server/v3 >&2
) || { rm -f "$bin.tmp"; die "building etcd $want failed (see above)"; }
got=$(reported "$bin.tmp")
[ "$got" = "$want" ] || { rm -f "$bin.tmp"; die "the binary built for $want says it is \"$got\""; }
mv "$bin.tmp" "$bin"
echo "etcd-bin.sh: built etcd $want in $(( $(date +%s) - start ))s" >&2
echo "$bin"
