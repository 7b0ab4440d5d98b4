package onv3

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/v2keys/client"
)

// TestWatchBelowDirCompacted: the history that a watcher of a key below a
// directory reads to convert the directory's expiry or recursive delete
// (the revision before it) is compacted after the watch received the
// event, before a Next converts it: 401 on every call, as for a compacted
// start, and with ResyncOnCleared a snapshot after which the watch goes on.
// (Compacting at the event's own revision would not do: etcd's compaction
// drops the deletes of that revision from the history.)
func TestWatchBelowDirCompacted(t *testing.T) {
	k, c, _ := newOnV3(t)
	ctx := testCtx(t)
	cases := []struct {
		name   string
		ttl    time.Duration
		remove func(t *testing.T, dir string) // removes dir
	}{
		{"expiry", 2 * time.Second, func(t *testing.T, dir string) {
			deadline := time.Now().Add(30 * time.Second)
			for {
				_, err := k.Get(ctx, dir, nil)
				if client.IsKeyNotFound(err) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s has not expired after 30 s: %v", dir, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}},
		{"recursive delete", time.Minute, func(t *testing.T, dir string) {
			if _, err := k.Delete(ctx, dir, &client.DeleteOptions{Recursive: true}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, tc := range cases {
		for _, resync := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/resync=%v", tc.name, resync), func(t *testing.T) {
				dir := fmt.Sprintf("/cd%d%v/d", i, resync)
				if _, err := k.Set(ctx, dir, "", &client.SetOptions{Dir: true, TTL: tc.ttl}); err != nil {
					t.Fatal(err)
				}
				first, err := k.Set(ctx, dir+"/k", "1", nil)
				if err != nil {
					t.Fatal(err)
				}
				w := k.Watcher(dir+"/k", &client.WatcherOptions{AfterIndex: first.Index - 1, ResyncOnCleared: resync})
				defer w.(interface{ Close() error }).Close()
				if r, err := w.Next(ctx); err != nil || r.Node.ModifiedIndex != first.Index {
					t.Fatalf("first event: %v %v", r, err) // the stream is open now
				}
				tc.remove(t, dir)
				// The stream carries the removal to the client; no Next
				// converts it before the compaction.
				mark, err := k.Set(ctx, "/mark", "", nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Compact(ctx, int64(mark.Index)); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					_, err := w.Next(ctx)
					if resync {
						var hc *client.HistoryClearedError
						if !errors.As(err, &hc) || hc.Snapshot == nil || hc.Snapshot.Index < mark.Index {
							t.Fatalf("resync: %v, want a HistoryClearedError with a snapshot at or after %d", err, mark.Index)
						}
						break
					}
					var ce client.Error
					if !errors.As(err, &ce) || ce.Code != client.ErrorCodeEventIndexCleared {
						t.Fatalf("the history of the removal compacted: %v, want errorCode 401", err)
					}
				}
				if !resync {
					return
				}
				again, err := k.Set(ctx, dir+"/k", "2", nil)
				if err != nil {
					t.Fatal(err)
				}
				r, err := w.Next(ctx)
				if err != nil || r.Node.ModifiedIndex != again.Node.ModifiedIndex {
					t.Fatalf("after resync: %v %v, want the set at %d", r, err, again.Node.ModifiedIndex)
				}
			})
		}
	}
}

// TestWatchFromCompactionRevision: etcd accepts a watch from the compacted
// revision itself, although its compaction dropped that revision's deletes
// from the history. A watcher resuming there reports the cleared history
// (401) rather than skip the delete; with ResyncOnCleared, a snapshot.
func TestWatchFromCompactionRevision(t *testing.T) {
	k, c, _ := newOnV3(t)
	ctx := testCtx(t)
	for _, resync := range []bool{false, true} {
		key := fmt.Sprintf("/zc/%v/k", resync)
		set, err := k.Set(ctx, key, "1", nil)
		if err != nil {
			t.Fatal(err)
		}
		del, err := k.Delete(ctx, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Compact(ctx, int64(del.Index)); err != nil {
			t.Fatal(err)
		}
		w := k.Watcher(key, &client.WatcherOptions{AfterIndex: set.Index, ResyncOnCleared: resync}) // from the delete's revision
		defer w.(interface{ Close() error }).Close()
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = w.Next(nctx)
		cancel()
		if resync {
			var hc *client.HistoryClearedError
			if !errors.As(err, &hc) || hc.Snapshot == nil || hc.Snapshot.Index < del.Index {
				t.Fatalf("resync: %v, want a HistoryClearedError with a snapshot at or after %d", err, del.Index)
			}
			continue
		}
		var ce client.Error
		if !errors.As(err, &ce) || ce.Code != client.ErrorCodeEventIndexCleared {
			t.Fatalf("watch from the compaction revision, whose delete etcd dropped: %v, want errorCode 401", err)
		}
	}
}
