package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"

	v2keys "github.com/v2keys/client"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkOnV3WatchBurst is BenchmarkWatchBurst on the v3 API: a burst of
// BENCH_WATCH_WRITES (20,000 by default) Sets through onv3 from 16
// goroutines under a recursive watch started before it, watched through
// onv3's Watcher (impl=onv3) or through a raw clientv3 watch of the
// subtree's v3 range that keeps the puts of file keys (impl=clientv3: the
// floor, no v2 conversion). Each impl has a burst of its own, written the
// same way. Reported: events delivered, lost, the seconds from the start
// of the burst to the last event, and the lag from the last write's
// acknowledgement to the last event. Delivery must be whole, in order and
// without duplicates.
func BenchmarkOnV3WatchBurst(b *testing.B) {
	onv3Enabled(b)
	writes := 20000
	if s := os.Getenv("BENCH_WATCH_WRITES"); s != "" {
		var err error
		if writes, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	e := newOnV3Env(b)
	l := onv3.Layout{Prefix: e.prefix}
	open := map[string]func(dir string, after uint64) eventSource{
		"onv3": func(dir string, after uint64) eventSource {
			return &onv3Source{k: e.onv3, dir: dir, w: e.onv3.Watcher(dir, &v2keys.WatcherOptions{AfterIndex: after, Recursive: true})}
		},
		"clientv3": func(dir string, after uint64) eventSource {
			ctx, cancel := context.WithCancel(context.Background())
			start, end := l.Below(dir)
			return &clientv3Source{l: l, cancel: cancel,
				ch: e.cli.Watch(ctx, start, clientv3.WithRange(end), clientv3.WithRev(int64(after)+1))}
		},
	}
	for _, im := range onv3Impls(b) {
		if open[im] == nil {
			continue // native v2: BenchmarkWatchBurst
		}
		b.Run("impl="+im, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := fmt.Sprintf("/burst/%s/%d", im, i)
				r := runBurst(b, e.onv3, dir, writes, open[im])
				if r.delivered != writes || r.lost != 0 {
					b.Errorf("%s: %d of %d events delivered, %d lost", im, r.delivered, writes, r.lost)
				}
				b.ReportMetric(float64(r.delivered), "delivered")
				b.ReportMetric(float64(r.lost), "lost")
				b.ReportMetric(r.lastEvent.Seconds(), "last-event-s")
				b.ReportMetric(r.lag.Seconds(), "lag-s")
			}
		})
	}
}

// onv3Source is an onv3 Watcher; a Next ended by its context resumes after
// the last delivered event on the next call.
type onv3Source struct {
	k   v2keys.KeysAPI
	dir string
	w   v2keys.Watcher
}

func (s *onv3Source) next(ctx context.Context) (uint64, bool, error) {
	resp, err := s.w.Next(ctx)
	var e v2keys.Error
	if errors.As(err, &e) && e.Code == v2keys.ErrorCodeEventIndexCleared {
		return 0, false, fmt.Errorf("onv3 watch: the history was compacted: %w", err)
	}
	if err != nil {
		return 0, false, err
	}
	if resp.Action != "set" {
		return 0, false, fmt.Errorf("onv3 watch: action %q on %s, want set", resp.Action, resp.Node.Key)
	}
	return resp.Node.ModifiedIndex, false, nil
}

func (s *onv3Source) close() {
	if c, ok := s.w.(interface{ Close() error }); ok {
		c.Close()
	}
}

// clientv3Source is a raw v3 watch of a subtree's range: it returns the
// modification revision of each put of a file key (markers and action
// records left out).
type clientv3Source struct {
	l       onv3.Layout
	ch      clientv3.WatchChan
	cancel  context.CancelFunc
	pending []int64
}

func (s *clientv3Source) next(ctx context.Context) (uint64, bool, error) {
	for len(s.pending) == 0 {
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case wr, ok := <-s.ch:
			if !ok {
				return 0, false, errors.New("clientv3 watch: stream ended")
			}
			if err := wr.Err(); err != nil {
				return 0, false, fmt.Errorf("clientv3 watch: %w", err)
			}
			for _, ev := range wr.Events {
				if _, kind := s.l.Parse(string(ev.Kv.Key)); ev.Type == clientv3.EventTypePut && kind == onv3.File {
					s.pending = append(s.pending, ev.Kv.ModRevision)
				}
			}
		}
	}
	rev := s.pending[0]
	s.pending = s.pending[1:]
	return uint64(rev), false, nil
}

func (s *clientv3Source) close() { s.cancel() }
