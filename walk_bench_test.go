package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/v2keys/client/internal/bodygen"
)

// plainReader hides bytes.Reader's WriterTo, so that the decoder reads as
// it would from a network body.
type plainReader struct{ r *bytes.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// BenchmarkWalkDecode measures the stream decoder alone on the realistic
// bodies of decode_bench_test.go, next to the whole-body decoder.
func BenchmarkWalkDecode(b *testing.B) {
	for _, keys := range []int{1000, 10000, 100000} {
		body := benchBody(keys)
		b.Run(fmt.Sprintf("keys=%d/stream", keys), func(b *testing.B) {
			benchAllocsPerKey(b, body, keys, func() error {
				return decodeStream(plainReader{bytes.NewReader(body)}, func(*Node) error { return nil })
			})
		})
		b.Run(fmt.Sprintf("keys=%d/whole", keys), func(b *testing.B) {
			benchAllocsPerKey(b, body, keys, func() error {
				var res Response
				return decodeResponse(body, &res)
			})
		})
	}
}

func benchAllocsPerKey(b *testing.B, body []byte, keys int, decode func() error) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		if err := decode(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(keys), "allocs/key")
}

// BenchmarkWalkHTTP measures Walk end to end over loopback HTTP, the body
// served from memory by an in-process server.
func BenchmarkWalkHTTP(b *testing.B) {
	body := benchBody(100000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Etcd-Index", "7")
		w.Write(body)
	}))
	defer srv.Close()
	c := newTestClient(b, Config{HeaderTimeoutPerRequest: 10 * time.Second}, srv.URL)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Walk(context.Background(), c, "/bench", nil, func(*Node) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// heapPeak walks a body of keys keys, generated as it is sent by an
// in-process server, and returns the body size and the peak of HeapInuse
// above its value before the walk, sampled every millisecond and every
// 10,000 nodes.
func heapPeak(t testing.TB, keys int) (bodyBytes int64, peak uint64) {
	t.Helper()
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Etcd-Index", "7")
		cw := &countingWriter{w: w}
		if err := bodygen.Write(cw, keys); err != nil {
			t.Error(err)
		}
		sent.Store(cw.n)
	}))
	defer srv.Close()
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, srv.URL)

	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var max atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > base && ms.HeapInuse-base > max.Load() {
			max.Store(ms.HeapInuse - base)
		}
	}
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	n := 0
	_, err := Walk(context.Background(), c, "/bench", nil, func(*Node) error {
		if n++; n%10000 == 0 {
			sample()
		}
		return nil
	})
	close(done)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	return sent.Load(), max.Load()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// TestWalkHeapFlat: the heap a walk needs does not grow with the keyspace.
// A walk of 1M keys (a 232 MB body) stays within 64 MiB of heap above the
// baseline, and within 16 MiB of a walk of 100k keys. Under the race
// detector, or with -short, it walks 30k and 300k keys instead.
func TestWalkHeapFlat(t *testing.T) {
	small, large := 100_000, 1_000_000
	if raceEnabled || testing.Short() {
		small, large = 30_000, 300_000
	}
	// The default GOGC lets garbage reach the size of the live heap before
	// a collection; the live heap of a walk is small, so the peak measures
	// what the walk holds, not what the collector has not yet freed.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	sb, sp := heapPeak(t, small)
	lb, lp := heapPeak(t, large)
	t.Logf("%d keys (%d MB body): peak heap +%.1f MiB; %d keys (%d MB body): peak heap +%.1f MiB",
		small, sb/1e6, float64(sp)/(1<<20), large, lb/1e6, float64(lp)/(1<<20))
	if lp > 64<<20 {
		t.Errorf("walk of %d keys: peak heap %.1f MiB above baseline, want at most 64 MiB", large, float64(lp)/(1<<20))
	}
	if lp > sp+16<<20 {
		t.Errorf("peak heap grows with the keyspace: %.1f MiB for %d keys, %.1f MiB for %d", float64(sp)/(1<<20), small, float64(lp)/(1<<20), large)
	}
}
