package onv3

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/v2keys/client"
)

// TestWatchBelowExpiredDir: a watcher of a key inside a directory whose TTL
// expires gets no event of the expiry (README, Differences), and none either
// when a later write reaps the orphaned keys below the directory's name:
// its next event is that write's, as on v2 after the expiry.
func TestWatchBelowExpiredDir(t *testing.T) {
	k, _, _ := newOnV3(t)
	ctx := testCtx(t)
	if _, err := k.Set(ctx, "/r/d", "", &client.SetOptions{Dir: true, TTL: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	first, err := k.Set(ctx, "/r/d/k", "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	one := k.Watcher("/r/d/k", &client.WatcherOptions{AfterIndex: first.Node.ModifiedIndex})
	defer one.(interface{ Close() error }).Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := k.Get(ctx, "/r/d/k", nil)
		var e client.Error
		if errors.As(err, &e) && e.Code == client.ErrorCodeKeyNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/r/d has not expired after 30 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	again, err := k.Set(ctx, "/r/d/k", "2", nil) // reaps the orphan first
	if err != nil {
		t.Fatal(err)
	}
	nctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r, err := one.Next(nctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != "set" || r.Node.Value != "2" || r.Node.ModifiedIndex != again.Node.ModifiedIndex {
		t.Fatalf("first event after the expiry: %s %s %q at %d, want the set of 2 at %d", r.Action, r.Node.Key, r.Node.Value, r.Node.ModifiedIndex, again.Node.ModifiedIndex)
	}
}
