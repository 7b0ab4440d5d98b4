package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// mirror is a copy of a subtree's keys and values, kept by applying a
// snapshot and then events, as a migration bridge would.
type mirror map[string]string

func (m mirror) apply(ev *Response) {
	switch ev.Action {
	case "set", "create", "update", "compareAndSwap":
		if !ev.Node.Dir {
			m[ev.Node.Key] = ev.Node.Value
		}
	case "delete", "compareAndDelete", "expire":
		delete(m, ev.Node.Key)
		for k := range m {
			if strings.HasPrefix(k, ev.Node.Key+"/") {
				delete(m, k)
			}
		}
	}
}

// leaves reads the keys and values under key with a quorum GET.
func leaves(t *testing.T, kapi KeysAPI, key string) mirror {
	t.Helper()
	resp, err := kapi.Get(testCtx(t), key, &GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	m := mirror{}
	var walk func(*Node)
	walk = func(n *Node) {
		if !n.Dir {
			m[n.Key] = n.Value
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	return m
}

// TestFollowWhileWriting: writers change the subtree before, during and
// after the snapshot is read (slowly); the snapshot plus every followed
// event, applied in order, equals the subtree's final state.
func TestFollowWhileWriting(t *testing.T) {
	kapi, p := sharedKeys(t)
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, etcdtest.Shared(t).ClientURL())
	ctx := testCtx(t)
	for i := 0; i < 300; i++ {
		if _, err := kapi.Set(ctx, fmt.Sprintf("%s/d%d/k%d", p, i%7, i), fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
	}

	writes, stop := startWriters(t, 3, func(rng *rand.Rand, g, i int) (err error) {
		key := fmt.Sprintf("%s/d%d/k%d", p, rng.Intn(7), rng.Intn(400))
		switch r := rng.Intn(20); {
		case r < 14:
			_, err = kapi.Set(ctx, key, fmt.Sprintf("g%d-%d", g, i), nil)
		case r < 18:
			_, err = kapi.Delete(ctx, key, nil)
		case r < 19:
			_, err = kapi.Create(ctx, key, "created")
		default:
			_, err = kapi.Delete(ctx, fmt.Sprintf("%s/d%d", p, rng.Intn(7)), &DeleteOptions{Recursive: true})
		}
		return err
	})

	f, err := Follow(ctx, c, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := mirror{}
	n := 0
	for node, err := range f.Snapshot.All() {
		if err != nil {
			t.Fatal(err)
		}
		if !node.Dir {
			m[node.Key] = node.Value
		}
		if n++; n%50 == 0 {
			time.Sleep(20 * time.Millisecond) // let the writers work during the read
		}
	}
	during := writes.Load()
	time.Sleep(300 * time.Millisecond)
	stop()
	marker, err := kapi.Set(ctx, p+"/marker", "end", nil)
	if err != nil {
		t.Fatal(err)
	}

	events := 0
	for {
		ev, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d events: %v", events, err)
		}
		if ev.Node.ModifiedIndex <= f.Snapshot.Index {
			t.Fatalf("event at %d is not after the snapshot at %d", ev.Node.ModifiedIndex, f.Snapshot.Index)
		}
		events++
		m.apply(ev)
		if ev.Node.ModifiedIndex == marker.Node.ModifiedIndex {
			break
		}
	}
	t.Logf("snapshot of %d nodes at index %d; %d writes while it was read, %d in all; %d events followed", n, f.Snapshot.Index, during, writes.Load(), events)
	if during == 0 {
		t.Fatal("no write happened while the snapshot was read; the test proves nothing")
	}

	want := leaves(t, kapi, p)
	if len(m) != len(want) {
		t.Errorf("mirror has %d keys, the keyspace %d", len(m), len(want))
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: mirror %q, keyspace %q", k, m[k], v)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: in the mirror, not in the keyspace", k)
		}
	}
}

func TestFollowMissingKey(t *testing.T) {
	_, p := sharedKeys(t)
	c := newTestClient(t, Config{}, etcdtest.Shared(t).ClientURL())
	_, err := Follow(testCtx(t), c, p+"/missing", nil)
	wantCode(t, err, ErrorCodeKeyNotFound)
}

// TestFollowSignalsLostHistory: when the changes after the snapshot have
// left etcd's history, Next says so with ErrHistoryLost (and the server's
// Error), instead of skipping them. A fake member answers the watches with
// the 401 that a real etcd sends once more than 1000 events have passed.
func TestFollowSignalsLostHistory(t *testing.T) {
	f := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Etcd-Index", "10")
		if r.URL.Query().Get("wait") != "true" {
			w.Write([]byte(`{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/a","value":"1","modifiedIndex":9,"createdIndex":9}],"modifiedIndex":2,"createdIndex":2}}`))
			return
		}
		w.Header().Set("X-Etcd-Index", "2000")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [999/11]","index":2000}`))
	})
	c := newTestClient(t, Config{}, f.URL)
	fl, err := Follow(context.Background(), c, "/d", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	if fl.Snapshot.Index != 10 {
		t.Fatalf("snapshot index %d", fl.Snapshot.Index)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = fl.Next(ctx)
	var e Error
	if !errors.Is(err, ErrHistoryLost) || !errors.As(err, &e) || e.Code != ErrorCodeEventIndexCleared {
		t.Fatalf("Next = %v, want ErrHistoryLost wrapping the 401 Error", err)
	}
}

// TestFollowShallow: a shallow Follow lists the directory's own children
// only (files with values, child directories empty); each child read
// afterwards on its own, at its own later index, plus every followed
// event applied in order (those a child already holds included), equals
// the subtree's final state, while writers change files, delete whole
// child directories and create new ones.
func TestFollowShallow(t *testing.T) {
	kapi, p := sharedKeys(t)
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, etcdtest.Shared(t).ClientURL())
	ctx := testCtx(t)
	for i := 0; i < 200; i++ {
		if _, err := kapi.Set(ctx, fmt.Sprintf("%s/d%d/e%d/k%d", p, i%5, i%3, i), fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kapi.Set(ctx, p+"/top", "file", nil); err != nil {
		t.Fatal(err)
	}

	writes, stop := startWriters(t, 2, func(rng *rand.Rand, g, i int) (err error) {
		switch r := rng.Intn(20); {
		case r < 14:
			_, err = kapi.Set(ctx, fmt.Sprintf("%s/d%d/e%d/k%d", p, rng.Intn(7), rng.Intn(3), rng.Intn(300)), fmt.Sprintf("g%d-%d", g, i), nil)
		case r < 17:
			_, err = kapi.Delete(ctx, fmt.Sprintf("%s/d%d/e%d/k%d", p, rng.Intn(7), rng.Intn(3), rng.Intn(300)), nil)
		case r < 18:
			_, err = kapi.Set(ctx, fmt.Sprintf("%s/top%d", p, rng.Intn(3)), "t", nil)
		default:
			_, err = kapi.Delete(ctx, fmt.Sprintf("%s/d%d", p, rng.Intn(7)), &DeleteOptions{Recursive: true})
		}
		return err
	})

	f, err := Follow(ctx, c, p, &FollowOptions{Shallow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := mirror{}
	var children []string
	for node, err := range f.Snapshot.All() {
		if err != nil {
			t.Fatal(err)
		}
		if rel := strings.TrimPrefix(node.Key, p+"/"); node.Key != p && strings.Contains(rel, "/") {
			t.Fatalf("shallow listing of %s holds %s", p, node.Key)
		}
		switch {
		case node.Key == p:
		case node.Dir:
			children = append(children, node.Key)
		default:
			m[node.Key] = node.Value
		}
	}
	if len(children) == 0 {
		t.Fatal("the listing has no child directory")
	}
	for _, child := range children {
		time.Sleep(30 * time.Millisecond) // let the writers work between the pieces
		s, err := OpenSnapshot(ctx, c, child, &WalkOptions{Sort: true, Quorum: true})
		if IsKeyNotFound(err) {
			continue // deleted since the listing: its delete is among the events
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Index < f.Snapshot.Index {
			t.Fatalf("piece %s at %d, before the listing's %d", child, s.Index, f.Snapshot.Index)
		}
		for node, err := range s.All() {
			if err != nil {
				t.Fatal(err)
			}
			if !node.Dir {
				m[node.Key] = node.Value
			}
		}
	}
	during := writes.Load()
	time.Sleep(100 * time.Millisecond)
	stop()
	marker, err := kapi.Set(ctx, p+"/marker", "end", nil)
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for {
		ev, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d events: %v", events, err)
		}
		events++
		m.apply(ev)
		if ev.Node.ModifiedIndex == marker.Node.ModifiedIndex {
			break
		}
	}
	t.Logf("listing at %d, %d pieces; %d writes during the pieces; %d events", f.Snapshot.Index, len(children), during, events)
	if during == 0 {
		t.Fatal("no write happened while the pieces were read; the test proves nothing")
	}
	want := leaves(t, kapi, p)
	if len(m) != len(want) {
		t.Errorf("mirror has %d keys, the keyspace %d", len(m), len(want))
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: mirror %q, keyspace %q", k, m[k], v)
		}
	}
}

// startWriters starts n goroutines that call write with their own random
// source (seeded by their number g) and a counter i, until stop is called;
// write's v2 answers (Error values) are expected, any other error fails
// the test. writes counts the calls made; stop waits for the writers.
func startWriters(t *testing.T, n int, write func(rng *rand.Rand, g, i int) error) (writes *atomic.Int64, stop func()) {
	t.Helper()
	writes = new(atomic.Int64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				var e Error
				if err := write(rng, g, i); err != nil && !errors.As(err, &e) {
					t.Errorf("writer %d: %v", g, err)
					return
				}
				writes.Add(1)
			}
		}(g)
	}
	return writes, func() {
		close(done)
		wg.Wait()
	}
}
