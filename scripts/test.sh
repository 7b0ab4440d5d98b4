#!/usr/bin/env bash
# The whole test suite: formatting, vet, the race-enabled tests against real
# etcd members that the tests start, through the version matrix below, the
# chaos tests (linearizability under randomized faults, internal/chaos), a
# short fuzz run of every decoder, and one run of every benchmark so that
# they cannot rot.
#
# The matrix (internal/etcdtest reads ETCDTEST_V2_VERSION for members that
# serve v2 and ETCDTEST_V3_VERSION for members that serve only v3):
#   library                 v2 on 3.4 and on 3.5
#   v2keys command          v2 3.4 + v3 3.4, and v2 3.5 + v3 3.6 (migrate's
#                           real upgrade path: a 3.5 v2 keyspace into 3.6);
#                           its v3 backend also against 3.7
#                           (both runs include the side-by-side test against
#                           Debian's etcdctl 3.4.23, which ensure-etcd.sh
#                           installs; under CI=true a missing etcdctl fails)
#   onv3                    v3 on 3.4, 3.6 and 3.7
#   internal/chaos          v2 and v3 on 3.4, onv3's claim also v3 on 3.6: one
#                           20 s run per claim, under 3 minutes in all (longer:
#                           CHAOS_DURATION=15m per claim with CHAOS_TIMEOUT=3h;
#                           replay: CHAOS_SEED=<seed>)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "etcd servers of the matrix (Debian 3.4; 3.5, 3.6, 3.7 built from the module proxy, cached)"
bash scripts/ensure-etcd.sh 3.4 3.5 3.6 3.7
for series in 3.4 3.5 3.6 3.7; do
  printf '%s: %s\n' "$series" "$(bash scripts/etcd-bin.sh "$series")"
done

# gotest DIR V2 V3 [ARGS...]: the race-enabled tests of the module in DIR
# with members of etcd V2 (v2 API) and V3 (v3 API only).
gotest() {
  local dir=$1 v2=$2 v3=$3
  shift 3
  step "go test -race in ${dir} (v2 on etcd ${v2}, v3 on etcd ${v3})"
  (cd "$dir" && ETCDTEST_V2_VERSION=$v2 ETCDTEST_V3_VERSION=$v3 go test -race -count=1 "$@")
}

step "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...
(cd bench && go vet ./...)
(cd cmd/v2keys && go vet ./...)
(cd internal/chaos && go vet ./...)
(cd onv3 && go vet ./...)

gotest . 3.4 3.4 -timeout 15m ./...
gotest . 3.5 3.5 -timeout 15m .
gotest cmd/v2keys 3.4 3.4 -timeout 10m ./...
gotest cmd/v2keys 3.5 3.6 -timeout 10m ./...
# The command's v3 backend on 3.7 too (the whole command ran on 3.4 and 3.6).
gotest cmd/v2keys 3.5 3.7 -timeout 5m -run 'TestBackend' .
gotest internal/chaos 3.4 3.4 -timeout "${CHAOS_TIMEOUT:-15m}" ./...
gotest internal/chaos 3.4 3.6 -timeout "${CHAOS_TIMEOUT:-15m}" -run TestChaosOnv3 ./...
# onv3: its differential tests compare with native v2 on 3.4.
gotest onv3 3.4 3.4 -timeout 10m ./...
gotest onv3 3.4 3.6 -timeout 10m ./...
gotest onv3 3.4 3.7 -timeout 10m ./...

step "fuzz (short run of each fuzz target)"
for target in $(go test -list '^Fuzz' . | grep '^Fuzz' || true); do
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZTIME:-20000x}" .
done
for target in $(cd onv3 && go test -list '^Fuzz' . | grep '^Fuzz' || true); do
  (cd onv3 && go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZTIME:-20000x}" .)
done

step "bench module: every benchmark once"
bash bench/compare.sh --smoke

step "done"
