package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// Tests of the streaming watcher against real etcd. Every write creates a
// key of its own, so the keyspace afterwards is the exact list of events
// that happened (including writes whose outcome the writer never learned):
// the watcher must deliver exactly those, in index order.

// burst creates n keys under dir from g goroutines and returns the indexes
// of the acknowledged creates, sorted. pause, if not zero, spaces each
// goroutine's writes. Failed writes are counted, not fatal.
func burst(ctx context.Context, kapi KeysAPI, dir string, n, g int, pause time.Duration) (acked []uint64, failed int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := i; j < n; j += g {
				resp, err := kapi.Create(ctx, fmt.Sprintf("%s/w-%06d", dir, j), "v")
				mu.Lock()
				if err != nil {
					failed++
				} else {
					acked = append(acked, resp.Node.ModifiedIndex)
				}
				mu.Unlock()
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}(i)
	}
	wg.Wait()
	slices.Sort(acked)
	return acked, failed
}

// keyIndexes returns the modifiedIndex of every key under dir above after,
// sorted: with create-only writes, the events that happened.
func keyIndexes(t *testing.T, kapi KeysAPI, dir string, after uint64) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kapi.Get(ctx, dir, &GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		t.Fatalf("get %s: %v", dir, err)
	}
	var idx []uint64
	var walk func(n *Node)
	walk = func(n *Node) {
		if !n.Dir && n.ModifiedIndex > after {
			idx = append(idx, n.ModifiedIndex)
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	slices.Sort(idx)
	return idx
}

// collector takes events from a watcher in the background.
type collector struct {
	mu   sync.Mutex
	idx  []uint64
	err  error
	done chan struct{}
}

func collect(w Watcher) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			resp, err := w.Next(context.Background())
			c.mu.Lock()
			if err != nil {
				c.err = err
				c.mu.Unlock()
				return
			}
			c.idx = append(c.idx, resp.Node.ModifiedIndex)
			c.mu.Unlock()
		}
	}()
	return c
}

// expect waits until the collector has as many events as want, then
// requires them to equal want exactly.
func (c *collector) expect(t *testing.T, want []uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c.mu.Lock()
		got, err := slices.Clone(c.idx), c.err
		c.mu.Unlock()
		if len(got) >= len(want) || err != nil || time.Now().After(deadline) {
			if !slices.Equal(got, want) {
				t.Fatalf("watcher delivered %d events (err %v), want %d; first difference: %s",
					len(got), err, len(want), firstDiff(got, want))
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func firstDiff(got, want []uint64) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d got %d want %d (previous %v)", i, got[i], want[i], got[max(0, i-3):i])
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("extra events from %d: %v", len(want), got[len(want):min(len(got), len(want)+5)])
	}
	if len(got) < len(want) {
		return fmt.Sprintf("missing events from %d: %v", len(got), want[len(got):min(len(want), len(got)+5)])
	}
	return "none"
}

func closeWatcher(t *testing.T, w Watcher) {
	t.Helper()
	if err := w.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
}

// mark sets a key under dir and returns its index: a point to watch after.
func mark(t *testing.T, kapi KeysAPI, dir string) uint64 {
	t.Helper()
	resp, err := kapi.Set(context.Background(), dir+"/mark", "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Node.ModifiedIndex
}

func TestStreamWatcherBurst(t *testing.T) {
	m := etcdtest.Shared(t)
	checkGoroutines(t)
	c := newTestClient(t, Config{}, m.ClientURL())
	defer c.Close()
	kapi := NewKeysAPI(c)
	dir := etcdtest.UniquePrefix(t)
	after := mark(t, kapi, dir)

	sw := kapi.Watcher(dir, &WatcherOptions{AfterIndex: after, Recursive: true, Stream: true})
	defer closeWatcher(t, sw)
	streamed := collect(sw)
	plain := collect(kapi.Watcher(dir, &WatcherOptions{AfterIndex: after, Recursive: true}))

	acked, failed := burst(context.Background(), kapi, dir, 5000, 8, 0)
	if failed > 0 {
		t.Fatalf("%d writes failed", failed)
	}
	want := keyIndexes(t, kapi, dir, after)
	want = slices.DeleteFunc(want, func(i uint64) bool { return i == after })
	if !slices.Equal(want, acked) {
		t.Fatalf("keyspace has %d writes, %d acknowledged", len(want), len(acked))
	}
	streamed.expect(t, want, 30*time.Second)
	st := &sw.(*streamWatcher).stats
	t.Logf("streaming watcher: %d events, %d from history, %d streamed, %d streams",
		len(want), st.historical.Load(), st.streamed.Load(), st.sessions.Load())

	c.Close() // ends the ordinary watcher too
	<-plain.done
	plain.mu.Lock()
	t.Logf("ordinary watcher from the same index: %d of %d events, then %v", len(plain.idx), len(want), plain.err)
	if n := len(plain.idx); !slices.Equal(plain.idx, want[:n]) {
		t.Errorf("ordinary watcher out of step: %s", firstDiff(plain.idx, want[:n]))
	}
	plain.mu.Unlock()
}

// TestStreamWatcherSwitch: a watcher starting in the past catches up from
// history while writes go on, then streams: no gap, no duplicate.
func TestStreamWatcherSwitch(t *testing.T) {
	m := etcdtest.Shared(t)
	c := newTestClient(t, Config{}, m.ClientURL())
	defer c.Close()
	kapi := NewKeysAPI(c)
	for round := 0; round < 3; round++ {
		dir := etcdtest.UniquePrefix(t)
		after := mark(t, kapi, dir)
		if _, failed := burst(context.Background(), kapi, dir+"/before", 60, 4, 0); failed > 0 {
			t.Fatal("writes failed")
		}
		sw := kapi.Watcher(dir, &WatcherOptions{AfterIndex: after, Recursive: true, Stream: true})
		col := collect(sw)
		if _, failed := burst(context.Background(), kapi, dir+"/during", 300, 4, 0); failed > 0 {
			t.Fatal("writes failed")
		}
		col.expect(t, keyIndexes(t, kapi, dir, after), 20*time.Second)
		st := &sw.(*streamWatcher).stats
		if st.historical.Load() < 60 || st.streamed.Load() == 0 {
			t.Errorf("round %d: %d events from history, %d streamed: the switch was not exercised",
				round, st.historical.Load(), st.streamed.Load())
		}
		closeWatcher(t, sw)
	}
}

func TestStreamWatcherNonRecursive(t *testing.T) {
	m := etcdtest.Shared(t)
	c := newTestClient(t, Config{}, m.ClientURL())
	defer c.Close()
	kapi := NewKeysAPI(c)
	dir := etcdtest.UniquePrefix(t)
	ctx := context.Background()
	after := mark(t, kapi, dir)

	var want []uint64
	write := func(n int) {
		for i := 0; i < n; i++ {
			resp, err := kapi.Set(ctx, dir+"/k", fmt.Sprint(i), nil)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, resp.Node.ModifiedIndex)
			if _, err := kapi.Set(ctx, dir+"/other", fmt.Sprint(i), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := kapi.Set(ctx, dir+"/k2/child", fmt.Sprint(i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(5) // history
	sw := kapi.Watcher(dir+"/k", &WatcherOptions{AfterIndex: after, Stream: true})
	defer closeWatcher(t, sw)
	col := collect(sw)
	write(5) // stream
	col.expect(t, want, 10*time.Second)

	resp, err := kapi.Delete(ctx, dir+"/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	col.expect(t, append(want, resp.Node.ModifiedIndex), 10*time.Second)
}

// TestStreamWatcherMemberKilled: the member serving the stream is killed in
// the middle of a burst; the watcher resumes on another member.
func TestStreamWatcherMemberKilled(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	wc := newTestClient(t, Config{}, cl.ClientURLs()...)
	defer wc.Close()
	writer := NewKeysAPI(newTestClient(t, Config{HeaderTimeoutPerRequest: time.Second}, cl.ClientURLs()...))
	dir := "/killed"
	after := mark(t, writer, dir)

	sw := NewKeysAPI(wc).Watcher(dir, &WatcherOptions{AfterIndex: after, Recursive: true, Stream: true})
	defer closeWatcher(t, sw)
	col := collect(sw)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var failed int
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, failed = burst(ctx, writer, dir, 3000, 4, 0)
	}()
	waitEvents(t, col, 500)
	wc.mu.RLock()
	streaming := wc.endpoints[wc.pinned].String()
	wc.mu.RUnlock()
	for _, m := range cl.Members() {
		if m.ClientURL() == streaming {
			if err := m.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-done
	want := keyIndexes(t, writer, dir, after)
	col.expect(t, want, 30*time.Second)
	st := &sw.(*streamWatcher).stats
	t.Logf("killed %s after 500 events; %d events (%d writes failed), %d from history, %d streamed, %d streams",
		streaming, len(want), failed, st.historical.Load(), st.streamed.Load(), st.sessions.Load())
	if st.sessions.Load() < 2 {
		t.Errorf("the stream was not resumed (%d streams)", st.sessions.Load())
	}
}

// TestStreamWatcherMemberPaused: the member serving the stream is
// SIGSTOPed; liveness probes notice, and the watcher resumes elsewhere.
func TestStreamWatcherMemberPaused(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	wc := newTestClient(t, Config{WatchProbeInterval: 200 * time.Millisecond}, cl.ClientURLs()...)
	defer wc.Close()
	writer := NewKeysAPI(newTestClient(t, Config{HeaderTimeoutPerRequest: time.Second}, cl.ClientURLs()...))
	dir := "/paused"
	after := mark(t, writer, dir)

	sw := NewKeysAPI(wc).Watcher(dir, &WatcherOptions{AfterIndex: after, Recursive: true, Stream: true})
	defer closeWatcher(t, sw)
	col := collect(sw)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var failed int
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, failed = burst(ctx, writer, dir, 1500, 4, 2*time.Millisecond)
	}()
	waitEvents(t, col, 300)
	wc.mu.RLock()
	streaming := wc.endpoints[wc.pinned].String()
	wc.mu.RUnlock()
	for _, m := range cl.Members() {
		if m.ClientURL() == streaming {
			if err := m.Pause(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Resume() })
		}
	}
	<-done
	want := keyIndexes(t, writer, dir, after)
	col.expect(t, want, 30*time.Second)
	st := &sw.(*streamWatcher).stats
	t.Logf("paused %s after 300 events; %d events (%d writes failed), %d from history, %d streamed, %d streams",
		streaming, len(want), failed, st.historical.Load(), st.streamed.Load(), st.sessions.Load())
	if st.sessions.Load() < 2 {
		t.Errorf("the stream was not resumed (%d streams)", st.sessions.Load())
	}
}

func waitEvents(t *testing.T, col *collector, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		col.mu.Lock()
		got, err := len(col.idx), col.err
		col.mu.Unlock()
		if got >= n {
			return
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("%d events, want %d: %v", got, n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamWatcherCleared: a watch from an index the server no longer
// keeps fails with EventIndexCleared, as the default watcher does, and
// again on the next call.
func TestStreamWatcherCleared(t *testing.T) {
	m := etcdtest.Shared(t)
	checkGoroutines(t)
	c := newTestClient(t, Config{}, m.ClientURL())
	defer c.Close()
	kapi := NewKeysAPI(c)
	dir := etcdtest.UniquePrefix(t)
	after := mark(t, kapi, dir)
	if _, failed := burst(context.Background(), kapi, dir, 1100, 8, 0); failed > 0 {
		t.Fatal("writes failed")
	}
	sw := kapi.Watcher(dir, &WatcherOptions{AfterIndex: after, Recursive: true, Stream: true})
	defer closeWatcher(t, sw)
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := sw.Next(ctx)
		cancel()
		var e Error
		if !errors.As(err, &e) || e.Code != ErrorCodeEventIndexCleared {
			t.Fatalf("Next #%d = %v, want Error %d", i, err, ErrorCodeEventIndexCleared)
		}
	}
}

// TestStreamWatcherCancelKeepsPlace: a Next ended by its context returns
// the context's error; no event is lost.
func TestStreamWatcherCancelKeepsPlace(t *testing.T) {
	m := etcdtest.Shared(t)
	checkGoroutines(t)
	c := newTestClient(t, Config{}, m.ClientURL())
	defer c.Close()
	kapi := NewKeysAPI(c)
	dir := etcdtest.UniquePrefix(t)
	sw := kapi.Watcher(dir, &WatcherOptions{Recursive: true, Stream: true})
	defer closeWatcher(t, sw)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := sw.Next(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Next on a quiet key = %v, want context.DeadlineExceeded", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := sw.Next(cctx); err != context.Canceled {
		t.Fatalf("Next with a cancelled context = %v, want context.Canceled", err)
	}
	var want []uint64
	for i := 0; i < 3; i++ {
		resp, err := kapi.Set(context.Background(), dir+"/k", fmt.Sprint(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, resp.Node.ModifiedIndex)
	}
	var got []uint64
	for range want {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := sw.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.Node.ModifiedIndex)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after cancelled Nexts got %v, want %v", got, want)
	}
}

// TestStreamWatcherClose: Close ends the stream and its goroutines, and so
// does closing the Client.
func TestStreamWatcherClose(t *testing.T) {
	m := etcdtest.Shared(t)
	checkGoroutines(t)
	c := newTestClient(t, Config{}, m.ClientURL())
	defer c.Close()
	kapi := NewKeysAPI(c)
	dir := etcdtest.UniquePrefix(t)

	// Closed before use.
	unused := kapi.Watcher(dir, &WatcherOptions{Stream: true})
	closeWatcher(t, unused)
	if _, err := unused.Next(context.Background()); err != ErrWatcherClosed {
		t.Fatalf("Next after Close = %v, want ErrWatcherClosed", err)
	}

	// Closed while a Next waits.
	sw := kapi.Watcher(dir, &WatcherOptions{Recursive: true, Stream: true})
	errc := make(chan error, 1)
	go func() { _, err := sw.Next(context.Background()); errc <- err }()
	time.Sleep(200 * time.Millisecond)
	closeWatcher(t, sw)
	if err := <-errc; err != ErrWatcherClosed {
		t.Fatalf("waiting Next at Close = %v, want ErrWatcherClosed", err)
	}
	closeWatcher(t, sw) // twice is fine

	// Ended by the client's Close.
	c2 := newTestClient(t, Config{}, m.ClientURL())
	sw2 := NewKeysAPI(c2).Watcher(dir, &WatcherOptions{Recursive: true, Stream: true})
	go func() { _, err := sw2.Next(context.Background()); errc <- err }()
	time.Sleep(200 * time.Millisecond)
	c2.Close()
	select {
	case err := <-errc:
		if err != ErrClientClosed {
			t.Fatalf("Next at client Close = %v, want ErrClientClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client Close did not end the stream")
	}
	if _, err := sw2.Next(context.Background()); err != ErrClientClosed {
		t.Fatalf("Next after client Close = %v", err)
	}
}

// TestStreamWatcherResumeScript drives the watcher through a scripted
// member: a stream that ends after two events (as etcd ends a stream whose
// reader is too slow), catch-up across the gap, a catch-up answer beyond
// the new stream's start, and a lagging stream that repeats an event.
func TestStreamWatcherResumeScript(t *testing.T) {
	checkGoroutines(t)
	event := func(i int) string {
		return fmt.Sprintf(`{"action":"set","node":{"key":"/d/k%d","value":"v","modifiedIndex":%d,"createdIndex":%d}}`+"\n", i, i, i)
	}
	var mu sync.Mutex
	streams := 0
	var watches []string
	f := newFakeMember(t, nil)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		if q.Get("stream") == "true" {
			mu.Lock()
			streams++
			n := streams
			mu.Unlock()
			switch n {
			case 1: // from 10: events 11 and 12, then the end
				w.Header().Set("X-Etcd-Index", "10")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, event(11)+event(12))
			case 2: // from 15: event 16 follows
				w.Header().Set("X-Etcd-Index", "15")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
				io.WriteString(w, event(16))
			case 3: // a lagging member, from 14: 16 again, then 17
				w.Header().Set("X-Etcd-Index", "14")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, event(16)+event(17))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}
			return
		}
		mu.Lock()
		watches = append(watches, q.Get("waitIndex"))
		mu.Unlock()
		w.Header().Set("X-Etcd-Index", "15")
		w.WriteHeader(http.StatusOK)
		switch q.Get("waitIndex") {
		case "13", "14":
			io.WriteString(w, event(14))
		case "15":
			io.WriteString(w, event(16)) // nothing in [15, 15]
		}
	})
	c := newTestClient(t, Config{}, f.URL)
	sw := NewKeysAPI(c).Watcher("/d", &WatcherOptions{Recursive: true, Stream: true})
	defer closeWatcher(t, sw)
	var got []uint64
	for len(got) < 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := sw.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, resp.Node.ModifiedIndex)
	}
	if want := []uint64{11, 12, 14, 16, 17}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"13", "15"}; !slices.Equal(watches, want) {
		t.Fatalf("catch-up watches from %v, want %v", watches, want)
	}
}
