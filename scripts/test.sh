#!/usr/bin/env bash
# The whole test suite: formatting, vet, the race-enabled tests against real
# etcd members that the tests start, a short fuzz run of every decoder, and
# one run of every benchmark so that they cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-etcd.sh

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...
(cd bench && go vet ./...)
(cd cmd/v2keys && go vet ./...)

step "go test -race (library, against real etcd)"
go test -race -count=1 -timeout 15m ./...

step "go test -race (the v2keys command, against real etcd)"
(cd cmd/v2keys && go test -race -count=1 -timeout 10m ./...)

step "fuzz (short run of each fuzz target)"
for target in $(go test -list '^Fuzz' . | grep '^Fuzz' || true); do
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZTIME:-10s}" .
done

step "bench module: every benchmark once"
bash bench/compare.sh --smoke
