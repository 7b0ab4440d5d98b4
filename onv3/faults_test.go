package onv3

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestFaults runs onv3 writers and a recursive watcher on a 3-member
// cluster while the leader is killed (then restarted) and a member is
// stopped (then resumed): every acknowledged write is in the store with
// its value, and the watcher delivers every acknowledged write's event,
// in order, with no duplicate.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member cluster")
	}
	cl := etcdtest.StartCluster(t, etcdtest.Options{Size: 3, API: etcdtest.V3})
	c, err := clientv3.New(clientv3.Config{
		Endpoints: cl.ClientURLs(), DialTimeout: 2 * time.Second, Logger: zap.NewNop(),
		// A stopped member sends nothing: keepalives notice it and the
		// client moves to another member (resuming its watches).
		DialKeepAliveTime: time.Second, DialKeepAliveTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	k := NewKeysAPI(c, "/faults")
	ctx := testCtx(t)
	start, err := k.Set(ctx, "/f", "", &client.SetOptions{Dir: true})
	if err != nil {
		t.Fatal(err)
	}

	// The watcher: retries Next after errors, as a v2 watcher loop does.
	type seen struct {
		key string
		mod uint64
	}
	var events []seen
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	w := k.Watcher("/f", &client.WatcherOptions{AfterIndex: start.Index, Recursive: true})
	go func() {
		for {
			r, err := w.Next(wctx)
			if wctx.Err() != nil {
				watchDone <- nil
				return
			}
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			events = append(events, seen{r.Node.Key, r.Node.ModifiedIndex})
		}
	}()

	// Writers: each key once, retried until acknowledged.
	var mu sync.Mutex
	acked := map[string]uint64{}
	wctx2, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; wctx2.Err() == nil; i++ {
				key := fmt.Sprintf("/f/w%d/k%05d", g, i)
				for wctx2.Err() == nil {
					rctx, cancel := context.WithTimeout(wctx2, 2*time.Second)
					r, err := k.Set(rctx, key, fmt.Sprint(i), nil)
					cancel()
					if err == nil {
						mu.Lock()
						acked[key] = r.Node.ModifiedIndex
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	time.Sleep(time.Second)
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	leader, err := cl.Leader(lctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := leader.Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	paused := cl.Members()[0]
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := paused.Resume(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	stopWriters()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 20 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}

	// Every acknowledged write is in the store.
	r, err := k.Get(ctx, "/f", &client.GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, d := range r.Node.Nodes {
		for _, n := range d.Nodes {
			stored[n.Key] = true
		}
	}
	for key := range acked {
		if !stored[key] {
			t.Errorf("acknowledged write of %s lost", key)
		}
	}
	// The watcher delivers them all, in order, once each.
	var last uint64
	waitCtx, cancelWait := context.WithTimeout(ctx, 20*time.Second)
	defer cancelWait()
	for {
		time.Sleep(200 * time.Millisecond)
		found := 0
		stopWatch()
		<-watchDone
		seenMods := map[uint64]bool{}
		for _, e := range events {
			seenMods[e.mod] = true
		}
		for _, mod := range acked {
			if seenMods[mod] {
				found++
			}
		}
		if found == len(acked) {
			break
		}
		if waitCtx.Err() != nil {
			t.Fatalf("the watcher delivered %d of %d acknowledged writes", found, len(acked))
		}
		// Not all there yet: watch on.
		wctx, stopWatch = context.WithCancel(ctx)
		go func() {
			for {
				r, err := w.Next(wctx)
				if wctx.Err() != nil {
					watchDone <- nil
					return
				}
				if err == nil {
					events = append(events, seen{r.Node.Key, r.Node.ModifiedIndex})
				}
			}
		}()
	}
	stopWatch()
	for i, e := range events {
		if e.mod <= last {
			t.Fatalf("event %d (%s at %d) not after %d: out of order or duplicated", i, e.key, e.mod, last)
		}
		last = e.mod
	}
	t.Logf("%d writes acknowledged, %d events watched", len(acked), len(events))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("test context expired")
	}
}
