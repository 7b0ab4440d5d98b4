#!/usr/bin/env bash
# compare.sh: compare the v2keys client with upstream (go.etcd.io/etcd/client/v2)
# and plain net/http in the same run.
#
# Usage:
#   ./compare.sh [--rounds N] [--benchtime D] [--bench REGEX] [--large] [--no-rss] [--rss-keys N]
#   ./compare.sh --smoke
#   ./compare.sh --migrate [--migrate-keys N] [--migrate-rounds R]
#   ./compare.sh --onv3 [--rounds N] [--benchtime D] [--bench REGEX] [--no-watch]
#
# Full mode builds the benchmark binary once, runs it --rounds times (default 6)
# with -count 1, rotating which client goes first in every round (BENCH_ROUND),
# then measures peak RSS (median of 5 rounds) of one recursive GET of
# --rss-keys keys (default 1M) per client in separate processes (/usr/bin/time
# -v, "Maximum resident set size"), against a fixtureserver process whose
# memory does not count. It
# prints the median per client and the ratio v2keys/upstream for ns/op, B/op,
# allocs/op, MB/s and peak RSS. Raw output stays in $OUT (default: a temp dir).
#
# --smoke (CI): vet, all tests, every benchmark once (-benchtime 1x, no 1M
# sizes; BenchmarkMigrate on 2000 keys), the RSS tools on 10k keys and the
# ratio table; exits non-zero on any failure.
#
# --migrate: only BenchmarkMigrate, `v2keys migrate` against raw clientv3
# batch writers of the same keys on one etcd, --migrate-rounds alternating
# rounds (default 3) of --migrate-keys keys (default 100000; 1000000 for
# the 1M figure, with the migrate process's peak RSS).
#
# --onv3: onv3 (the v2 KeysAPI on etcd's v3 API) beside raw clientv3 and
# native v2 on one etcd 3.4 with --enable-v2: BenchmarkOnV3 (one-key Get,
# Set, CAS at 1 and 16 goroutines), BenchmarkOnV3RecursiveGet (100k
# keys) and BenchmarkOnV3WriteInDir (writes into a directory of 10 and of
# 100k keys) in --rounds alternating rounds (default 5), then one run of
# BenchmarkOnV3WatchBurst (20,000 writes; --no-watch skips it). Prints the
# medians with the ratios onv3/clientv3, onv3/v3txn and v2/clientv3, and the 1-minute
# load average before each round.
set -euo pipefail
cd "$(dirname "$0")"

rounds=6 benchtime=1s bench=. large=0 rss=1 rss_keys=1000000 smoke=0 rss_rounds=5
migrate=0 migrate_keys=100000 migrate_rounds=3 onv3=0 watch=1 rounds_set=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 ;;
	--rounds) rounds=$2; rounds_set=1; shift ;;
	--benchtime) benchtime=$2; shift ;;
	--bench) bench=$2; shift ;;
	--large) large=1 ;;
	--no-rss) rss=0 ;;
	--rss-keys) rss_keys=$2; shift ;;
	--migrate) migrate=1 ;;
	--migrate-keys) migrate_keys=$2; shift ;;
	--migrate-rounds) migrate_rounds=$2; shift ;;
	--onv3) onv3=1 ;;
	--no-watch) watch=0 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
if [ $smoke = 1 ]; then
	rounds=1 benchtime=1x large=0 rss_keys=10000 rss_rounds=1
	export BENCH_WATCH_WRITES=${BENCH_WATCH_WRITES:-300} BENCH_SMOKE=1
fi

if [ $onv3 = 1 ]; then
	export BENCH_ONV3=1
	rss=0
	[ "$bench" != . ] || bench='^BenchmarkOnV3(RecursiveGet|WriteInDir)?$'
	[ $rounds_set = 1 ] || rounds=5
fi

out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

echo "== build (output in $out)" >&2
go build -o "$out/bin/" ./cmd/...
(cd ../cmd/v2keys && go build -o "$out/bin/v2keys" .)
export V2KEYS_BIN="$out/bin/v2keys"
go test -c -o "$out/bin/bench.test" .

if [ $migrate = 1 ]; then
	echo "== BenchmarkMigrate: $migrate_keys keys, $migrate_rounds rounds" >&2
	BENCH_MIGRATE=1 BENCH_MIGRATE_KEYS=$migrate_keys BENCH_MIGRATE_ROUNDS=$migrate_rounds \
		"$out/bin/bench.test" -test.run '^$' -test.bench '^BenchmarkMigrate$' -test.benchtime 1x \
		-test.timeout 120m | tee "$out/migrate.txt"
	if grep -q -e '^--- FAIL' -e '^FAIL' "$out/migrate.txt"; then exit 1; fi
	exit 0
fi

if [ $smoke = 1 ]; then
	echo "== vet and tests" >&2
	go vet ./...
	go test -count=1 ./...
fi

export BENCH_LARGE=$large
: >"$out/bench.txt"
: >"$out/load.txt"
for round in $(seq 1 "$rounds"); do
	load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
	echo "round $round: load $load" >>"$out/load.txt"
	echo "== benchmarks, round $round/$rounds (1-minute load $load)" >&2
	# The test binary runs in a fresh process per round; a failing
	# benchmark makes it exit non-zero, which stops the script.
	BENCH_ROUND=$round "$out/bin/bench.test" -test.run '^$' -test.bench "$bench" \
		-test.benchtime "$benchtime" -test.count 1 -test.timeout 60m | tee "$out/round-$round.txt" >&2
	grep '^Benchmark' "$out/round-$round.txt" >>"$out/bench.txt" || true
	if grep -q -e '^--- FAIL' -e '^FAIL' "$out/round-$round.txt"; then
		echo "compare.sh: benchmark failure in round $round" >&2
		exit 1
	fi
done

: >"$out/rss.txt"
if [ $rss = 1 ]; then
	echo "== peak RSS of one recursive GET of $rss_keys keys" >&2
	"$out/bin/fixtureserver" -keys "$rss_keys" >"$out/fixtureserver.url" 2>"$out/fixtureserver.log" &
	server_pid=$!
	for _ in $(seq 1 600); do
		[ -s "$out/fixtureserver.url" ] && break
		kill -0 "$server_pid" 2>/dev/null || { cat "$out/fixtureserver.log" >&2; exit 1; }
		sleep 0.1
	done
	url=$(head -n1 "$out/fixtureserver.url")
	[ -n "$url" ] || { echo "compare.sh: fixtureserver did not start" >&2; exit 1; }
	if [ $rss_keys -ge 1000000 ]; then label="$((rss_keys / 1000000))M"; else label="$((rss_keys / 1000))k"; fi
	impls=(v2keys upstream raw)
	for round in $(seq 1 "$rss_rounds"); do
		for i in 0 1 2; do
			im=${impls[$(((i + round) % 3))]}
			log="$out/rss-$im-$round.log"
			if [ -x /usr/bin/time ]; then
				/usr/bin/time -v "$out/bin/rssget" -impl "$im" -endpoint "$url" 2>"$log"
				kib=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$log")
			else
				# Same getrusage figure, reported by rssget itself
				# (install Debian package "time" for /usr/bin/time).
				"$out/bin/rssget" -impl "$im" -endpoint "$url" 2>"$log"
				kib=$(sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$log")
			fi
			grep '^rssget:' "$log" >&2
			[ -n "$kib" ] || { echo "compare.sh: no RSS figure for $im" >&2; cat "$log" >&2; exit 1; }
			echo "BenchmarkPeakRSS/keys=$label/impl=$im 1 $kib peak-RSS-KiB" >>"$out/rss.txt"
		done
	done
fi

if [ $onv3 = 1 ] && [ $watch = 1 ]; then
	echo "== BenchmarkOnV3WatchBurst (1-minute load $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?'))" >&2
	"$out/bin/bench.test" -test.run '^$' -test.bench '^BenchmarkOnV3WatchBurst$' -test.benchtime 1x \
		-test.timeout 60m | tee "$out/watch.txt" >&2
	if grep -q -e '^--- FAIL' -e '^FAIL' "$out/watch.txt"; then exit 1; fi
	grep '^Benchmark' "$out/watch.txt" >>"$out/bench.txt" || true
fi

echo
echo "Medians over $rounds round(s); ±: half the min-max range relative to the median."
echo "1-minute load before each round: $(cut -d' ' -f4 "$out/load.txt" | paste -sd' ')"
if [ $onv3 = 0 ]; then
	echo "v2keys/upstream below 1.00x means v2keys uses less (above 1.00x is better for MB/s)."
	echo
	go run ./cmd/ratio "$out/bench.txt" "$out/rss.txt"
fi
if [ $onv3 = 1 ] || [ $smoke = 1 ]; then
	echo
	echo "onv3 and native v2 over raw clientv3 (one etcd ${ETCDTEST_V2_VERSION:-3.4} with --enable-v2): below 1.00x uses less."
	echo
	go run ./cmd/ratio -impls onv3,clientv3,v3txn,v2 -ratios onv3/clientv3,onv3/v3txn,v2/clientv3 "$out/bench.txt"
fi
