package bench

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/v2keys/client/bench/fixture"
	upstream "go.etcd.io/etcd/client/v2"

	v2keys "github.com/v2keys/client"
)

// largeValueCases are the answers of BenchmarkLargeValue: one key whose
// value is 1 MiB or 48 MiB of text with every kind of escape (the
// generator's fragments: JSON, URLs, UTF-8, control characters, <, >, &)
// or of base64 (no escape at all, as a blob stored by a service).
var largeValueCases = []struct {
	name  string
	size  int
	value func(n int) string
}{
	{"1MiB/text", 1 << 20, fixture.LargeValue},
	{"1MiB/base64", 1 << 20, base64Value},
	{"48MiB/text", 48 << 20, fixture.LargeValue},
	{"48MiB/base64", 48 << 20, base64Value},
}

// base64Value returns n bytes of base64 of deterministic random bytes.
func base64Value(n int) string {
	rng := rand.New(rand.NewPCG(fixture.DefaultSeed, uint64(n)))
	raw := make([]byte, base64.StdEncoding.DecodedLen(n)+3)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)[:n]
}

// BenchmarkLargeValue reads one key holding a large value with
// KeysAPI.Get from an in-process server, whose answer arrives chunked
// (framing=chunked: no Content-Length, how etcd sends any answer larger
// than net/http's 2 KiB buffer) or with a Content-Length (framing=length).
// Bytes/s is body bytes. Before timing, each client's value is checked.
// The 48 MiB values run only with -large or BENCH_LARGE=1.
func BenchmarkLargeValue(b *testing.B) {
	for _, tc := range largeValueCases {
		if tc.size > 1<<20 && !large() {
			continue // 48 MiB: enable with -large or BENCH_LARGE=1
		}
		var value string
		var get []byte
		var h *fixture.Handler
		for _, framing := range []string{"chunked", "length"} {
			b.Run(tc.name+"/framing="+framing, func(b *testing.B) {
				if h == nil { // built for the first framing that runs
					value = tc.value(tc.size)
					get = largeValueBody(value)
					h = fixture.NewHandler(nil, get, nil, 7)
				}
				var srv *httptest.Server
				if framing == "length" {
					length := strconv.Itoa(len(get))
					srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Length", length)
						h.ServeHTTP(w, r)
					}))
				} else {
					srv = httptest.NewServer(h)
				}
				defer srv.Close()
				for _, im := range impls(b) {
					b.Run("impl="+im.Name, func(b *testing.B) {
						k := newKeys(b, im, srv.URL)
						ctx := context.Background()
						resp, err := k.Get(ctx, "/big", false)
						if err != nil {
							b.Fatal(err)
						}
						if im.Name == "raw" {
							if got := im.Count(resp); got != len(get) {
								b.Fatalf("raw: read %d bytes, want %d", got, len(get))
							}
						} else if got := valueOf(resp); got != value {
							b.Fatalf("%s: value of %d bytes, want %d", im.Name, len(got), len(value))
						}
						resp = nil
						b.SetBytes(int64(len(get)))
						b.ReportAllocs()
						for b.Loop() {
							if _, err := k.Get(ctx, "/big", false); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			})
		}
	}
}

// largeValueBody returns etcd's answer to a GET of the key /big holding
// value, at index 7.
func largeValueBody(value string) []byte {
	b := make([]byte, 0, 2*len(value)+256)
	b = append(b, `{"action":"get","node":`...)
	b = fixture.AppendNode(b, &fixture.Node{Key: "/big", Value: value, ModifiedIndex: 7, CreatedIndex: 7})
	return append(b, "}\n"...)
}

// valueOf returns the value of the node in resp, a Get answer of v2keys
// or upstream.
func valueOf(resp any) string {
	switch r := resp.(type) {
	case *v2keys.Response:
		return r.Node.Value
	case *upstream.Response:
		return r.Node.Value
	}
	return ""
}
