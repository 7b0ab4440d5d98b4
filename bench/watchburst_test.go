package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	upstream "go.etcd.io/etcd/client/v2"

	v2keys "github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// BenchmarkWatchBurst writes a burst of keys (BENCH_WATCH_WRITES, 20,000 by
// default) from 16 goroutines under a recursive watch started before it,
// on a real local etcd, and reports for each watcher: events delivered,
// events lost (restarting from the index in the error after
// EventIndexCleared, as etcd's API documentation says, skips the events in
// between), EventIndexCleared answers, and the seconds from the start of
// the burst to the last event. Upstream's watcher and ours by default ask
// for one event per request; ours with Stream reads them all from one
// long-lived request.
func BenchmarkWatchBurst(b *testing.B) {
	etcdtest.Require(b)
	writes := 20000
	if s := os.Getenv("BENCH_WATCH_WRITES"); s != "" {
		var err error
		if writes, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	url := etcdtest.Start(b, 1).ClientURLs()[0]
	writer, err := v2keys.New(v2keys.Config{Endpoints: []string{url}})
	if err != nil {
		b.Fatal(err)
	}
	kapi := v2keys.NewKeysAPI(writer)

	watchers := []struct {
		name string
		open func(dir string, after uint64) eventSource
	}{
		{"upstream", func(dir string, after uint64) eventSource { return upstreamWatch(b, url, dir, after) }},
		{"v2keys", func(dir string, after uint64) eventSource { return v2keysWatch(b, url, dir, after, false) }},
		{"v2keys-stream", func(dir string, after uint64) eventSource { return v2keysWatch(b, url, dir, after, true) }},
	}
	for _, w := range watchers {
		b.Run("impl="+w.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := fmt.Sprintf("/burst/%s/%d", w.name, i)
				r := runBurst(b, kapi, dir, writes, w.open)
				b.ReportMetric(float64(r.delivered), "delivered")
				b.ReportMetric(float64(r.lost), "lost")
				b.ReportMetric(float64(r.cleared), "cleared")
				b.ReportMetric(r.lastEvent.Seconds(), "last-event-s")
			}
		})
	}
}

// eventSource is one watcher: next returns the next event's index, or the
// index an EventIndexCleared error points to (cleared = true).
type eventSource interface {
	next(ctx context.Context) (index uint64, cleared bool, err error)
	close()
}

type burstResult struct {
	delivered, lost, cleared int
	lastEvent                time.Duration
	// lag is from the last write's acknowledgement to the last event (0
	// when the last event came before it).
	lag time.Duration
}

func runBurst(b *testing.B, kapi v2keys.KeysAPI, dir string, writes int, open func(string, uint64) eventSource) burstResult {
	b.Helper()
	ctx := context.Background()
	start, err := kapi.Set(ctx, dir+"/start", "0", nil)
	if err != nil {
		b.Fatal(err)
	}
	after := start.Node.ModifiedIndex

	var (
		mu       sync.Mutex
		got      []uint64
		cleared  int
		last     time.Time
		stop     = make(chan struct{})
		finished = make(chan struct{})
	)
	src := open(dir, after)
	go func() {
		defer close(finished)
		for {
			wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			idx, wasCleared, err := src.next(wctx)
			cancel()
			mu.Lock()
			switch {
			case err == nil && wasCleared:
				cleared++
			case err == nil:
				got = append(got, idx)
				last = time.Now()
			}
			mu.Unlock()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				b.Errorf("watch: %v", err)
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()

	began := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < writes; i += 16 {
				if _, err := kapi.Set(ctx, fmt.Sprintf("%s/k%06d", dir, i), "v", nil); err != nil {
					b.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	written := time.Now()

	// Wait until the watcher has caught up, or has been idle for 2 s.
	for {
		mu.Lock()
		n, idle := len(got), time.Since(last)
		mu.Unlock()
		if n >= writes || (n > 0 && idle > 2*time.Second) || time.Since(began) > 5*time.Minute {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-finished
	src.close()

	resp, err := kapi.Get(ctx, dir, &v2keys.GetOptions{Recursive: true})
	if err != nil {
		b.Fatal(err)
	}
	var truth []uint64
	for _, n := range resp.Node.Nodes {
		if n.ModifiedIndex > after {
			truth = append(truth, n.ModifiedIndex)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.IsSorted(got) {
		b.Errorf("events out of order")
	}
	r := burstResult{delivered: len(got), cleared: cleared, lastEvent: last.Sub(began), lag: max(0, last.Sub(written))}
	for _, idx := range truth {
		if _, ok := slices.BinarySearch(got, idx); !ok {
			r.lost++
		}
	}
	return r
}

type upstreamSource struct {
	kapi upstream.KeysAPI
	dir  string
	w    upstream.Watcher
}

func upstreamWatch(b *testing.B, url, dir string, after uint64) eventSource {
	c, err := upstream.New(upstream.Config{Endpoints: []string{url}})
	if err != nil {
		b.Fatal(err)
	}
	k := upstream.NewKeysAPI(c)
	return &upstreamSource{kapi: k, dir: dir, w: k.Watcher(dir, &upstream.WatcherOptions{AfterIndex: after, Recursive: true})}
}

func (s *upstreamSource) next(ctx context.Context) (uint64, bool, error) {
	resp, err := s.w.Next(ctx)
	var e upstream.Error
	if errors.As(err, &e) && e.Code == upstream.ErrorCodeEventIndexCleared {
		s.w = s.kapi.Watcher(s.dir, &upstream.WatcherOptions{AfterIndex: e.Index, Recursive: true})
		return e.Index, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	return resp.Node.ModifiedIndex, false, nil
}

func (s *upstreamSource) close() {}

type v2keysSource struct {
	kapi   v2keys.KeysAPI
	client v2keys.Client
	dir    string
	stream bool
	w      v2keys.Watcher
}

func v2keysWatch(b *testing.B, url, dir string, after uint64, stream bool) eventSource {
	c, err := v2keys.New(v2keys.Config{Endpoints: []string{url}})
	if err != nil {
		b.Fatal(err)
	}
	k := v2keys.NewKeysAPI(c)
	w := k.Watcher(dir, &v2keys.WatcherOptions{AfterIndex: after, Recursive: true, Stream: stream})
	return &v2keysSource{kapi: k, client: c, dir: dir, stream: stream, w: w}
}

func (s *v2keysSource) next(ctx context.Context) (uint64, bool, error) {
	resp, err := s.w.Next(ctx)
	var e v2keys.Error
	if errors.As(err, &e) && e.Code == v2keys.ErrorCodeEventIndexCleared {
		s.closeWatcher()
		s.w = s.kapi.Watcher(s.dir, &v2keys.WatcherOptions{AfterIndex: e.Index, Recursive: true, Stream: s.stream})
		return e.Index, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	return resp.Node.ModifiedIndex, false, nil
}

func (s *v2keysSource) closeWatcher() {
	if c, ok := s.w.(interface{ Close() error }); ok {
		c.Close()
	}
}

func (s *v2keysSource) close() {
	s.closeWatcher()
	if c, ok := s.client.(interface{ Close() error }); ok {
		c.Close()
	}
}
