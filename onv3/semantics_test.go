package onv3

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client"
)

// TestConcurrentCompareAndSwap increments one counter from several
// goroutines by compare-and-swap on its index: no increment may be lost.
func TestConcurrentCompareAndSwap(t *testing.T) {
	k, _, _ := newOnV3(t)
	ctx := testCtx(t)
	if _, err := k.Set(ctx, "/counter", "0", nil); err != nil {
		t.Fatal(err)
	}
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				r, err := k.Get(ctx, "/counter", &client.GetOptions{Quorum: true})
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(r.Node.Value, &n)
				_, err = k.Set(ctx, "/counter", fmt.Sprint(n+1), &client.SetOptions{PrevIndex: r.Node.ModifiedIndex})
				var ce client.Error
				if errors.As(err, &ce) && ce.Code == client.ErrorCodeTestFailed {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, err := k.Get(ctx, "/counter", &client.GetOptions{Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(workers * each); r.Node.Value != want {
		t.Fatalf("counter = %s, want %s", r.Node.Value, want)
	}
}

// TestConcurrentCreateInOrder creates queue entries from several
// goroutines: every name is unique, and names sort as the entries were
// created (by CreatedIndex).
func TestConcurrentCreateInOrder(t *testing.T) {
	k, _, _ := newOnV3(t)
	ctx := testCtx(t)
	const workers, each = 6, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[string]uint64{}
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := k.CreateInOrder(ctx, "/queue", fmt.Sprintf("%d-%d", w, i), nil)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				created[r.Node.Key] = r.Node.CreatedIndex
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, err := k.Get(ctx, "/queue", &client.GetOptions{Sort: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Node.Nodes) != workers*each || len(created) != workers*each {
		t.Fatalf("%d entries listed, %d distinct answers, want %d", len(r.Node.Nodes), len(created), workers*each)
	}
	if !sort.SliceIsSorted(r.Node.Nodes, func(i, j int) bool { return r.Node.Nodes[i].CreatedIndex < r.Node.Nodes[j].CreatedIndex }) {
		t.Fatal("names do not sort in creation order")
	}
	for _, n := range r.Node.Nodes {
		if created[n.Key] != n.CreatedIndex {
			t.Fatalf("%s: answered CreatedIndex %d, listed %d", n.Key, created[n.Key], n.CreatedIndex)
		}
	}
}

// TestExpiry: a key and a directory with a TTL expire as in v2, the
// directory with its whole subtree; watchers see "expire"; refreshing one
// key does not extend another.
func TestExpiry(t *testing.T) {
	k, _, _ := newOnV3(t)
	ctx := testCtx(t)
	start, err := k.Set(ctx, "/start", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ttl := &client.SetOptions{TTL: 2 * time.Second}
	for _, key := range []string{"/e/a", "/e/b"} {
		if _, err := k.Set(ctx, key, "v", ttl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := k.Set(ctx, "/e/d", "", &client.SetOptions{Dir: true, TTL: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"/e/d/x", "/e/d/sub/y"} {
		if _, err := k.Set(ctx, key, "child", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Keep /e/b alive past the others' expiry by refreshing it.
	time.Sleep(1200 * time.Millisecond)
	if _, err := k.Set(ctx, "/e/b", "", &client.SetOptions{Refresh: true, TTL: 10 * time.Second, PrevExist: client.PrevExist}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, errA := k.Get(ctx, "/e/a", nil)
		_, errD := k.Get(ctx, "/e/d/sub/y", nil)
		if client.IsKeyNotFound(errA) && client.IsKeyNotFound(errD) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not expired: /e/a: %v, /e/d/sub/y: %v", errA, errD)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r, err := k.Get(ctx, "/e", &client.GetOptions{Recursive: true, Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Node.Nodes) != 1 || r.Node.Nodes[0].Key != "/e/b" || r.Node.Nodes[0].TTL <= 0 {
		t.Fatalf("after expiry /e holds %v, want only /e/b with its TTL", r.Node.Nodes)
	}
	_, err = k.Get(ctx, "/e/d/x", nil)
	if ce := (client.Error{}); !errors.As(err, &ce) || ce.Code != client.ErrorCodeKeyNotFound || ce.Cause != "/e/d" {
		t.Fatalf("child of an expired directory: %v, want 100 naming /e/d", err)
	}
	// Writing below the expired directory's name starts afresh.
	if _, err := k.Set(ctx, "/e/d/new", "v", nil); err != nil {
		t.Fatal(err)
	}
	r, err = k.Get(ctx, "/e/d", &client.GetOptions{Recursive: true})
	if err != nil || len(r.Node.Nodes) != 1 || r.Node.TTL != 0 {
		t.Fatalf("recreated /e/d: %v %v, want one child and no TTL", r, err)
	}

	w := k.Watcher("/e", &client.WatcherOptions{AfterIndex: start.Node.ModifiedIndex, Recursive: true})
	defer w.(interface{ Close() error }).Close()
	var expired []string
	for len(expired) < 2 {
		r, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Action == "expire" {
			expired = append(expired, r.Node.Key)
			if r.PrevNode == nil || r.PrevNode.Key != r.Node.Key {
				t.Fatalf("expire without prevNode: %+v", r)
			}
		}
		if r.Action == "set" && r.Node.Key == "/e/d/new" {
			break
		}
	}
	sort.Strings(expired)
	if strings.Join(expired, ",") != "/e/a,/e/d" {
		t.Fatalf("expire events for %v, want /e/a and /e/d", expired)
	}
}

// TestWatchCompacted: a watch from a compacted revision is 401, as v2's
// cleared history, again on every call; with ResyncOnCleared the watcher
// returns a snapshot and goes on after it.
func TestWatchCompacted(t *testing.T) {
	k, c, _ := newOnV3(t)
	ctx := testCtx(t)
	first, err := k.Set(ctx, "/c/a", "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	last, err := k.Set(ctx, "/c/a", "2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(ctx, int64(last.Index)); err != nil {
		t.Fatal(err)
	}
	w := k.Watcher("/c", &client.WatcherOptions{AfterIndex: first.Index - 1, Recursive: true})
	for range 2 {
		_, err = w.Next(ctx)
		var ce client.Error
		if !errors.As(err, &ce) || ce.Code != client.ErrorCodeEventIndexCleared {
			t.Fatalf("watch from a compacted index: %v, want errorCode 401", err)
		}
	}
	w = k.Watcher("/c", &client.WatcherOptions{AfterIndex: first.Index - 1, Recursive: true, ResyncOnCleared: true})
	defer w.(interface{ Close() error }).Close()
	_, err = w.Next(ctx)
	var hc *client.HistoryClearedError
	if !errors.As(err, &hc) || hc.Snapshot.Node == nil || len(hc.Snapshot.Node.Nodes) != 1 || hc.Snapshot.Node.Nodes[0].Value != "2" {
		t.Fatalf("resync: %v, want a HistoryClearedError with the snapshot", err)
	}
	if _, err := k.Set(ctx, "/c/b", "3", nil); err != nil {
		t.Fatal(err)
	}
	r, err := w.Next(ctx)
	if err != nil || r.Node.Key != "/c/b" {
		t.Fatalf("after resync: %v %v, want the set of /c/b", r, err)
	}
}

// TestWatchManyResumed follows 300 writes with a watcher whose Next calls
// end by timeouts in between: every event once, in order.
func TestWatchManyResumed(t *testing.T) {
	k, _, _ := newOnV3(t)
	ctx := testCtx(t)
	start, err := k.Set(ctx, "/m", "", &client.SetOptions{Dir: true})
	if err != nil {
		t.Fatal(err)
	}
	w := k.Watcher("/m", &client.WatcherOptions{AfterIndex: start.Index, Recursive: true})
	defer w.(interface{ Close() error }).Close()
	const n = 300
	// The writer's last Set may return after its event reached the
	// watcher: the test waits for it, so that ctx is not cancelled under it.
	writerDone := make(chan struct{})
	defer func() { <-writerDone }()
	go func() {
		defer close(writerDone)
		for i := range n {
			if _, err := k.Set(ctx, fmt.Sprintf("/m/k%d", i%7), fmt.Sprint(i), nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var prev uint64
	// Each Next gets a short deadline, so that many are cut short while
	// events keep coming; the deadline doubles after each cut (and starts
	// short again after an event), so that a loaded machine, where opening
	// the v3 watch alone takes longer, still makes progress.
	wait := 3 * time.Millisecond
	for i := 0; i < n; {
		if ctx.Err() != nil {
			t.Fatalf("after %d of %d events: %v", i, n, ctx.Err())
		}
		nctx, cancel := context.WithTimeout(ctx, wait)
		r, err := w.Next(nctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			wait = min(2*wait, time.Second)
			continue
		}
		wait = 3 * time.Millisecond
		if err != nil {
			t.Fatal(err)
		}
		if r.Node.Value != fmt.Sprint(i) || r.Node.ModifiedIndex <= prev {
			t.Fatalf("event %d: %s = %q at %d after %d", i, r.Node.Key, r.Node.Value, r.Node.ModifiedIndex, prev)
		}
		prev = r.Node.ModifiedIndex
		i++
	}
}

// TestWatcherEnds: a watcher's v3 watch ends with the context of the Next
// that waits on it, and with Close: no goroutine is left behind.
func TestWatcherEnds(t *testing.T) {
	k, c, _ := newOnV3(t)
	ctx := testCtx(t)
	if _, err := k.Set(ctx, "/x", "1", nil); err != nil {
		t.Fatal(err)
	}
	settle := func() int {
		time.Sleep(300 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	// Warm the client's connection up.
	if _, err := c.Get(ctx, "warm"); err != nil {
		t.Fatal(err)
	}
	base := settle()
	for i := range 5 {
		w := k.Watcher("/x", nil)
		nctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		if _, err := w.Next(nctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next without events: %v", err)
		}
		cancel()
		if i%2 == 0 {
			w.(interface{ Close() error }).Close()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for n := settle(); n > base; n = settle() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the watchers:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
	}
	// A closed watcher says so; Close ends a Next that waits.
	w := k.Watcher("/x", nil)
	w.(interface{ Close() error }).Close()
	if _, err := w.Next(ctx); err == nil {
		t.Fatal("Next after Close succeeded")
	}
	w = k.Watcher("/x", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := w.Next(ctx)
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	w.(interface{ Close() error }).Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("a Next ended by Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Next")
	}
}

// TestWatchBurst: a burst of 20,000 writes from 16 goroutines reaches a
// recursive watcher whole: every acknowledged write's event once, in index
// order. (A write retried after an unknown outcome may add an event of its
// own, at its own index.)
func TestWatchBurst(t *testing.T) {
	k, _, _ := newOnV3(t)
	// A loaded machine makes etcd slow to fsync: minutes, not seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start, err := k.Set(ctx, "/burst", "", &client.SetOptions{Dir: true})
	if err != nil {
		t.Fatal(err)
	}
	w := k.Watcher("/burst", &client.WatcherOptions{AfterIndex: start.Index, Recursive: true})
	defer w.(interface{ Close() error }).Close()
	const writers, each = 16, 1250
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[uint64]bool{}
	began := time.Now()
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				for {
					r, err := k.Set(ctx, fmt.Sprintf("/burst/w%02d/k%d", g, i%50), fmt.Sprint(i), nil)
					if err == nil {
						mu.Lock()
						acked[r.Node.ModifiedIndex] = true
						mu.Unlock()
						break
					}
					if ctx.Err() != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	var prev uint64
	seen := map[uint64]bool{}
	events := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		mu.Lock()
		all := len(acked) == writers*each
		if all {
			for mod := range acked {
				if !seen[mod] {
					all = false
					break
				}
			}
		}
		mu.Unlock()
		if all {
			break
		}
		// The last event may come before its write's answer: wait briefly,
		// then look at the acknowledgements again.
		nctx, ncancel := context.WithTimeout(ctx, time.Second)
		r, err := w.Next(nctx)
		ncancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			t.Fatalf("after %d events: %v", events, err)
		}
		if r.Node.ModifiedIndex <= prev {
			t.Fatalf("event %d at %d after %d", events, r.Node.ModifiedIndex, prev)
		}
		prev = r.Node.ModifiedIndex
		seen[prev] = true
		events++
	}
	<-done
	t.Logf("%d acknowledged writes, %d events, in %v", writers*each, events, time.Since(began))
}
