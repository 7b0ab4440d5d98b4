package bench

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/v2keys/client/bench/fixture"
)

// BenchmarkRecursiveGet reads a whole generated keyspace with
// KeysAPI.Get(ctx, "/", &GetOptions{Recursive: true}) from an in-process
// server that answers with the canned etcd 3.4 body. Bytes/s is body
// bytes. The 1M size runs only with -large or BENCH_LARGE=1.
func BenchmarkRecursiveGet(b *testing.B) {
	sizes := []struct {
		name string
		keys int
	}{{"1k", 1000}, {"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}}
	for _, size := range sizes {
		if size.keys >= 1_000_000 && !large() {
			continue // 1M keys: enable with -large or BENCH_LARGE=1
		}
		b.Run("keys="+size.name, func(b *testing.B) {
			fx := treeBody(size.keys)
			srv := httptest.NewServer(fixture.NewHandler(fx.body, nil, nil, fx.index))
			defer srv.Close()
			for _, im := range impls(b) {
				b.Run("impl="+im.Name, func(b *testing.B) {
					k := newKeys(b, im, srv.URL)
					ctx := context.Background()
					// One request outside the timer opens the connection
					// and checks that the whole tree arrived.
					resp, err := k.Get(ctx, "/", true)
					if err != nil {
						b.Fatal(err)
					}
					want := fx.nodes
					if im.Name == "raw" {
						want = len(fx.body)
					}
					if got := im.Count(resp); got != want {
						b.Fatalf("%s decoded %d nodes, want %d", im.Name, got, want)
					}
					resp = nil
					b.SetBytes(int64(len(fx.body)))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := k.Get(ctx, "/", true); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// keyServer serves the one-key GET and PUT bodies.
func keyServer(b *testing.B) *httptest.Server {
	get, set := fixture.KeyBodies("/bench/key", keyValue, 1042)
	srv := httptest.NewServer(fixture.NewHandler(nil, get, set, 1042))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkGet reads one key from the in-process server.
func BenchmarkGet(b *testing.B) {
	srv := keyServer(b)
	for _, im := range impls(b) {
		b.Run("impl="+im.Name, func(b *testing.B) {
			k := newKeys(b, im, srv.URL)
			ctx := context.Background()
			if _, err := k.Get(ctx, "/bench/key", false); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Get(ctx, "/bench/key", false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSet writes one key to the in-process server, which answers
// with the set response including prevNode.
func BenchmarkSet(b *testing.B) {
	srv := keyServer(b)
	for _, im := range impls(b) {
		b.Run("impl="+im.Name, func(b *testing.B) {
			k := newKeys(b, im, srv.URL)
			ctx := context.Background()
			if err := k.Set(ctx, "/bench/key", keyValue); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := k.Set(ctx, "/bench/key", keyValue); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
