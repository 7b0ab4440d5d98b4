package client

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// TestMeasureWatchBurst measures how the default and the streaming watcher
// follow a burst of writes under a recursive watch started before it:
// events delivered, events lost, EventIndexCleared answers, and the time
// from the start of the burst to the last event delivered. It runs only
// with V2KEYS_MEASURE=1 (it takes a fresh member and tens of seconds);
// V2KEYS_MEASURE_WRITES sets the burst size (default 20000).
//
//	V2KEYS_MEASURE=1 go test -run TestMeasureWatchBurst -v .
//
// On EventIndexCleared the default watcher is restarted as api.md says,
// from the index in the error (the events in between are lost).
func TestMeasureWatchBurst(t *testing.T) {
	if os.Getenv("V2KEYS_MEASURE") != "1" {
		t.Skip("set V2KEYS_MEASURE=1 to measure")
	}
	writes := 20000
	if s := os.Getenv("V2KEYS_MEASURE_WRITES"); s != "" {
		var err error
		if writes, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	cl := etcdtest.Start(t, 1)
	for _, impl := range []string{"v2keys-default", "v2keys-stream"} {
		t.Run(impl, func(t *testing.T) {
			c := newTestClient(t, Config{}, cl.ClientURLs()...)
			defer c.Close()
			kapi := NewKeysAPI(c)
			dir := "/measure/" + impl
			after := mark(t, kapi, dir)
			opts := WatcherOptions{AfterIndex: after, Recursive: true, Stream: impl == "v2keys-stream"}

			type result struct {
				idx     []uint64
				cleared int
				last    time.Time
			}
			stop := make(chan struct{})
			resc := make(chan result, 1)
			go func() {
				var r result
				w := kapi.Watcher(dir, &opts)
				defer func() {
					if cl, ok := w.(interface{ Close() error }); ok {
						cl.Close()
					}
					resc <- r
				}()
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					resp, err := w.Next(ctx)
					cancel()
					var e Error
					switch {
					case err == nil:
						r.idx = append(r.idx, resp.Node.ModifiedIndex)
						r.last = time.Now()
						continue
					case errors.As(err, &e) && e.Code == ErrorCodeEventIndexCleared:
						r.cleared++
						o := opts
						o.AfterIndex = e.Index
						w = kapi.Watcher(dir, &o)
						continue
					case err == context.DeadlineExceeded:
					default:
						t.Errorf("Next: %v", err)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}()

			start := time.Now()
			_, failed := burst(context.Background(), kapi, dir, writes, 16, 0)
			burstTime := time.Since(start)
			truth := keyIndexes(t, kapi, dir, after)
			truth = slices.DeleteFunc(truth, func(i uint64) bool { return i == after })
			close(stop)
			r := <-resc

			got := slices.Clone(r.idx)
			inOrder := slices.IsSorted(got)
			slices.Sort(got)
			distinct := slices.Compact(slices.Clone(got))
			lost := 0
			for _, i := range truth {
				if _, ok := slices.BinarySearch(distinct, i); !ok {
					lost++
				}
			}
			t.Logf("%s: %d writes (%d failed) in %v (%.0f/s); delivered %d, lost %d, duplicates %d, in order %v, EventIndexCleared %d, last event %v after the burst started",
				impl, len(truth), failed, burstTime.Round(time.Millisecond), float64(len(truth))/burstTime.Seconds(),
				len(distinct), lost, len(got)-len(distinct), inOrder, r.cleared, r.last.Sub(start).Round(time.Millisecond))
		})
	}
}
