package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkOnV3WatchSiblings measures what one watcher of a key inside a
// directory costs while 16 goroutines write other keys of that directory
// (onv3 Sets of existing keys below /sib/a, one put each), the watched key
// being /sib/b/k. onv3's watch of a key below a directory covers the v3
// range from the outermost directory's marker to the key (so that the
// expiry of a directory above reaches it in order), which here carries
// every write below /sib/a to the watcher, to be filtered out by it:
//
//   - impl=onv3: an onv3 Watcher of /sib/b/k, waiting in Next;
//   - impl=clientv3: a raw clientv3 watch (with previous values) of the key's
//     own range alone, which carries none of those writes: what onv3's
//     watch of the key cost before it covered the directories above.
//
// Reported per write: the time, and the CPU time of etcd and of this
// process (the writers and the watcher); and drain-ms, the time from the
// end of the writes until a write of the watched key reaches the watcher
// (the watcher kept up when it is about one write's time).
func BenchmarkOnV3WatchSiblings(b *testing.B) {
	onv3Enabled(b)
	e := newOnV3Env(b)
	ctx := context.Background()
	const workers, siblings = 16, 256
	sibling := func(i int) string { return fmt.Sprintf("/sib/a/%03d", i%siblings) }
	for i := range siblings {
		if _, err := e.onv3.Set(ctx, sibling(i), keyValue, nil); err != nil {
			b.Fatal(err)
		}
	}
	const watched = "/sib/b/k"
	if _, err := e.onv3.Set(ctx, watched, "0", nil); err != nil {
		b.Fatal(err)
	}
	l := onv3.Layout{Prefix: e.prefix}

	// open starts a watcher of the watched key from now; events delivers
	// the values it sees.
	open := map[string]func(ctx context.Context, events chan<- string){
		"onv3": func(ctx context.Context, events chan<- string) {
			w := e.onv3.Watcher(watched, nil)
			defer w.(interface{ Close() error }).Close()
			for {
				r, err := w.Next(ctx)
				if err != nil {
					return
				}
				events <- r.Node.Value
			}
		},
		"clientv3": func(ctx context.Context, events chan<- string) {
			k := l.FileKey(watched)
			for wr := range e.cli.Watch(ctx, k, clientv3.WithRange(l.DirKey(watched)+"\x00"), clientv3.WithPrevKV()) {
				for _, ev := range wr.Events {
					events <- string(ev.Kv.Value)
				}
			}
		},
	}
	round := 0
	for _, im := range onv3Impls(b) {
		if open[im] == nil {
			continue
		}
		b.Run("impl="+im, func(b *testing.B) {
			wctx, stop := context.WithCancel(ctx)
			events := make(chan string, 16)
			done := make(chan struct{})
			go func() { defer close(done); open[im](wctx, events) }()
			defer func() { stop(); <-done }()
			// deliver writes the watched key until the watcher reports
			// it (the first write may precede the watch's start).
			deliver := func() time.Duration {
				round++
				want := fmt.Sprintf("%s-%d", im, round)
				start := time.Now()
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				if _, err := e.onv3.Set(ctx, watched, want, nil); err != nil {
					b.Fatal(err)
				}
				for {
					select {
					case v := <-events:
						if v == want {
							return time.Since(start)
						}
					case <-tick.C:
						if _, err := e.onv3.Set(ctx, watched, want, nil); err != nil {
							b.Fatal(err)
						}
					case <-time.After(runLimit):
						b.Fatalf("%s: the watcher did not report %s", im, want)
					}
				}
			}
			deliver() // the watch is open
			var m cpuMeter
			m.start(e.pid)
			count := make([]int, workers) // each worker's own writes
			runConcurrent(b, workers, func(ctx context.Context, w int) error {
				count[w]++
				_, err := e.onv3.Set(ctx, sibling(w+workers*count[w]), keyValue, nil)
				return err
			})
			m.report(b)
			b.ReportMetric(float64(deliver().Microseconds())/1000, "drain-ms")
		})
	}
}
