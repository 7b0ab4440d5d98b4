package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/v2keys/client/bench/impl"
	"github.com/v2keys/client/internal/etcdtest"
)

// concurrencies are the numbers of goroutines issuing requests at once.
var concurrencies = []int{1, 16, 64}

// BenchmarkRealEtcdGet reads one key from a real local etcd, from 1, 16
// and 64 goroutines, each client with its default Config (so its default
// transport and idle-connection limits).
func BenchmarkRealEtcdGet(b *testing.B) {
	benchRealEtcd(b, func(ctx context.Context, k impl.Keys, worker int) error {
		_, err := k.Get(ctx, "/bench/key", false)
		return err
	})
}

// BenchmarkRealEtcdSet writes keys on a real local etcd, one key per
// goroutine, from 1, 16 and 64 goroutines.
func BenchmarkRealEtcdSet(b *testing.B) {
	benchRealEtcd(b, func(ctx context.Context, k impl.Keys, worker int) error {
		return k.Set(ctx, setKeys[worker], keyValue)
	})
}

// setKeys holds one key per goroutine of the largest concurrency.
var setKeys = func() []string {
	keys := make([]string, slices.Max(concurrencies))
	for i := range keys {
		keys[i] = fmt.Sprintf("/bench/set/w%02d", i)
	}
	return keys
}()

// benchRealEtcd starts one etcd for all sub-benchmarks and runs op for each
// concurrency and client. Without an etcd binary it skips, or fails under
// CI=true (etcdtest.Require).
func benchRealEtcd(b *testing.B, op func(ctx context.Context, k impl.Keys, worker int) error) {
	etcdtest.Require(b)
	url := etcdtest.Start(b, 1).ClientURLs()[0]
	seed := newKeys(b, impl.Raw(), url)
	if err := seed.Set(context.Background(), "/bench/key", keyValue); err != nil {
		b.Fatal(err)
	}
	for _, conc := range concurrencies {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			for _, im := range impls(b) {
				b.Run("impl="+im.Name, func(b *testing.B) {
					k := newKeys(b, im, url)
					if err := op(context.Background(), k, 0); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					runConcurrent(b, conc, func(ctx context.Context, worker int) error {
						return op(ctx, k, worker)
					})
				})
			}
		})
	}
}
