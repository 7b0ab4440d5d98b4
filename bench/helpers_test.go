package bench

import (
	"context"
	"flag"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/v2keys/client/bench/fixture"
	"github.com/v2keys/client/bench/impl"
)

var largeFlag = flag.Bool("large", false, "also run the 1M-key fixtures (or set BENCH_LARGE=1)")

// large reports whether the slow 1M-key sizes are enabled.
func large() bool { return *largeFlag || os.Getenv("BENCH_LARGE") == "1" }

// impls returns the clients in the order for this round: compare.sh sets
// BENCH_ROUND to a different number for each round so that no client
// always runs first (on a cold CPU) or last.
func impls(tb testing.TB) []impl.Impl {
	round := 0
	if s := os.Getenv("BENCH_ROUND"); s != "" {
		r, err := strconv.Atoi(s)
		if err != nil {
			tb.Fatalf("BENCH_ROUND=%q: %v", s, err)
		}
		round = r
	}
	return impl.Rotated(round)
}

// newKeys returns a client of im for the server at url.
func newKeys(tb testing.TB, im impl.Impl, url string) impl.Keys {
	tb.Helper()
	k, err := im.New(url)
	if err != nil {
		tb.Fatalf("%s: %v", im.Name, err)
	}
	return k
}

// treeFixture is a generated keyspace rendered as a recursive GET body.
type treeFixture struct {
	body  []byte
	index uint64
	nodes int // keys plus directories below the root
}

// fixtures caches one treeFixture per key count for the whole test
// binary: generating the 1M-key body takes seconds.
var fixtures = struct {
	sync.Mutex
	m map[int]*treeFixture
}{m: map[int]*treeFixture{}}

func treeBody(keys int) *treeFixture {
	fixtures.Lock()
	defer fixtures.Unlock()
	if fx, ok := fixtures.m[keys]; ok {
		return fx
	}
	tree := fixture.Generate(keys, fixture.Options{})
	fx := &treeFixture{body: tree.RenderGet(), index: tree.Index, nodes: tree.Keys + tree.Dirs}
	fixtures.m[keys] = fx
	return fx
}

// keyValue is the value of the one-key benchmarks: 120 bytes with a
// JSON document, a URL and text needing escapes, like the tree's values.
const keyValue = `{"addr":"10.1.2.3:2380","url":"https://svc-7.example.com/api?x=1&y=<2>","note":"Grüße 日本"}`

// runLimit bounds one concurrent benchmark run, so a hung request fails
// the benchmark instead of hanging it.
const runLimit = 3 * time.Minute

// runConcurrent calls op b.N times in total from exactly conc goroutines
// (unlike RunParallel, whose goroutine count is a multiple of GOMAXPROCS)
// and fails b on the first error. worker is the goroutine's number.
func runConcurrent(b *testing.B, conc int, op func(ctx context.Context, worker int) error) {
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	var (
		next     atomic.Int64
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	n := int64(b.N)
	b.ResetTimer()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() && next.Add(1) <= n {
				if err := op(ctx, w); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}
