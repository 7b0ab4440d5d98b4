package onv3

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// expiryWatch is a watcher of TestDifferentialWatchExpiredDir: its key,
// whether it is recursive, and the events that v2 delivers from its history
// and onv3 does not (README, Differences), by index in v2's transcript.
type expiryWatch struct {
	key       string
	recursive bool
	// v2HistoryOnly lists the lines of v2's history transcript that onv3
	// leaves out: v2 scans its history for a directory's expiry by a
	// string prefix of the watched key, so it also reports it to watchers
	// of keys that were not there (or were gone already), where a live v2
	// watcher, and onv3, report nothing.
	v2HistoryOnly []int
}

var expiryWatches = []expiryWatch{
	{key: "/t/k"},                    // an existing key in a directory with a TTL
	{key: "/t/sub", recursive: true}, // a subtree inside it
	{key: "/t/sub/x"},                // two levels below the directory
	{key: "/t/never", v2HistoryOnly: []int{0}},
	{key: "/t/never", recursive: true, v2HistoryOnly: []int{0}},
	{key: "/tx", v2HistoryOnly: []int{1}}, // beside /t: v2's prefix test matches it
	{key: "/g/p/k"},                       // TTL on the grandparent
	{key: "/g/p", recursive: true},
	{key: "/h/q/k"},                          // TTL on both, the outer one expires first
	{key: "/i/q/k", v2HistoryOnly: []int{2}}, // TTL on both, the inner one expires first
	{key: "/t", recursive: true},             // the directory itself, and above it: as before
	{key: "/t"},
}

// rePrevTTL drops TTL presence from a transcript's previous node: onv3's
// watch events carry none (README, Differences).
var rePrevTTL = regexp.MustCompile(`( prev=\{[^}]*?) ttl:(true|false)`)

// TestDifferentialWatchExpiredDir: watchers of keys and subtrees inside a
// directory whose TTL expires (and of the directory, and beside it) get
// v2's one event of the directory, in order with the writes before and
// after it, both live (watching while it happens) and from their history
// (AfterIndex before the expiry), through native v2 and onv3. Nested:
// the TTL on the grandparent, and on two directories of the path (each
// order of their expiries). After the expiry the keys are written again,
// which in onv3 reaps the orphans first: no event for the reap.
func TestDifferentialWatchExpiredDir(t *testing.T) {
	setup := []step{
		set("/t", "", &client.SetOptions{Dir: true, TTL: 2 * time.Second}),
		set("/t/a", "sibling", nil),
		set("/t/k", "1", nil),
		set("/t/sub/x", "1", nil),
		set("/tx", "beside", nil),
		set("/g", "", &client.SetOptions{Dir: true, TTL: 2 * time.Second}),
		set("/g/p/k", "1", nil),
		set("/h", "", &client.SetOptions{Dir: true, TTL: 2 * time.Second}),
		set("/h/q", "", &client.SetOptions{Dir: true, TTL: 4 * time.Second}),
		set("/h/q/k", "1", nil),
		set("/i", "", &client.SetOptions{Dir: true, TTL: 4 * time.Second}),
		set("/i/q", "", &client.SetOptions{Dir: true, TTL: 2 * time.Second}),
		set("/i/q/k", "1", nil),
	}
	before := []step{ // while the watchers wait, before the expiries
		update("/t/a", "sibling 2"), // (a Set would differ in CreatedIndex: README, Differences)
		update("/t/k", "2"),
		update("/t/sub/x", "2"),
		update("/g/p/k", "2"),
	}
	after := []step{ // after every expiry: re-create the directories
		set("/t/k", "3", nil),
		set("/t/sub/x", "3", nil),
		set("/t/a", "sibling 3", nil),
		set("/g/p/k", "3", nil),
		set("/h/q/k", "3", nil),
		set("/i/q/k", "3", nil),
		update("/tx", "beside 2"),
	}
	gone := []string{"/t/k", "/g/p/k", "/h/q/k", "/i"} // /i last (4 s)

	// run returns the live and the history transcripts of every watcher.
	// settle waits for what the side's reads cannot show: in onv3, the
	// expiry of the lease of /h/q after /h had gone.
	run := func(t *testing.T, k client.KeysAPI, base string, settle func()) (live, hist [][]*client.Response) {
		ctx := testCtx(t)
		r0, err := k.Set(ctx, base+"/start", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		runSteps(t, k, base, setup)
		last, err := k.Set(ctx, base+"/ready", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Live watchers: from the last write, each with a Next waiting
		// all along (a v2 watcher is live while its request waits).
		wctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		got := make([][]*client.Response, len(expiryWatches))
		for i, ew := range expiryWatches {
			w := k.Watcher(base+ew.key, &client.WatcherOptions{AfterIndex: last.Node.ModifiedIndex, Recursive: ew.recursive})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					r, err := w.Next(wctx)
					if err != nil {
						if wctx.Err() == nil {
							t.Errorf("live watcher of %s: %v", ew.key, err)
						}
						return
					}
					got[i] = append(got[i], r)
				}
			}()
		}
		runSteps(t, k, base, before)
		deadline := time.Now().Add(30 * time.Second)
		for _, key := range gone {
			for {
				_, err := k.Get(ctx, base+key, nil)
				if client.IsKeyNotFound(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s has not expired after 30 s: %v", key, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		settle()
		runSteps(t, k, base, after)
		time.Sleep(time.Second) // the quiet that tells no further event comes
		stop()
		wg.Wait()
		for _, ew := range expiryWatches {
			w := k.Watcher(base+ew.key, &client.WatcherOptions{AfterIndex: r0.Node.ModifiedIndex, Recursive: ew.recursive})
			_, rs := watchAll(t, w, &normaliser{base: base, labels: map[uint64]int{}}, 500*time.Millisecond)
			hist = append(hist, rs)
		}
		return got, hist
	}
	base := "/d" + strings.ReplaceAll(etcdtest.UniquePrefix(t), "/", "_")
	v2live, v2hist := run(t, newNativeV2(t), base, func() {})
	k, c, prefix := newOnV3(t)
	v3live, v3hist := run(t, k, base, func() {
		// The marker of /h/q (TTL 4 s) outlives /h, invisible; its
		// expiry must give no event.
		ctx := testCtx(t)
		for {
			r, err := c.Get(ctx, prefix+base+"/h/q/")
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Kvs) == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	lines := func(rs []*client.Response) []string {
		nz := &normaliser{base: base, labels: map[uint64]int{}}
		var out []string
		for _, r := range rs {
			out = append(out, watchLine(nz, r))
		}
		return out
	}
	for i, ew := range expiryWatches {
		name := ew.key
		if ew.recursive {
			name += " (recursive)"
		}
		want := v2hist[i]
		for j := len(ew.v2HistoryOnly) - 1; j >= 0; j-- {
			n := ew.v2HistoryOnly[j]
			if n >= len(want) || want[n].Action != "expire" {
				t.Errorf("%s: v2's history event %d is not the expiry that onv3 leaves out: %q", name, n, lines(want))
				continue
			}
			want = append(append([]*client.Response(nil), want[:n]...), want[n+1:]...)
		}
		compareLines(t, name+", live", lines(v2live[i]), lines(v3live[i]))
		compareLines(t, name+", from history (less v2's prefix matches)", lines(want), lines(v3hist[i]))
		if !strings.Contains(strings.Join(lines(v2hist[i]), "\n"), "expire") {
			t.Errorf("%s: no expiry in v2's history: the scenario does not test what it should", name)
		}
	}

	// What a v2 watcher does after each event: watch from its
	// ModifiedIndex. The next event must come, exactly once.
	ctx := testCtx(t)
	for i, ew := range expiryWatches {
		rs := v3hist[i]
		for j := 0; j+1 < len(rs); j++ {
			w := k.Watcher(base+ew.key, &client.WatcherOptions{AfterIndex: rs[j].Node.ModifiedIndex, Recursive: ew.recursive})
			r, err := w.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Action != rs[j+1].Action || r.Node.ModifiedIndex != rs[j+1].Node.ModifiedIndex || r.Node.Key != rs[j+1].Node.Key {
				t.Errorf("%s: watch after event %d (%s at %d): got %s %s at %d, want %s %s at %d", ew.key, j, rs[j].Action, rs[j].Node.ModifiedIndex,
					r.Action, r.Node.Key, r.Node.ModifiedIndex, rs[j+1].Action, rs[j+1].Node.Key, rs[j+1].Node.ModifiedIndex)
			}
			w.(interface{ Close() error }).Close()
		}
	}
}

// watchLine is a watch event's transcript line: without the relation of
// Response.Index to the node (README, Differences) and the previous node's
// TTL (likewise).
func watchLine(nz *normaliser, r *client.Response) string {
	s := nz.response(r, nil, false)
	s = strings.NewReplacer(" index=mod", "", " index>mod", "", " index<mod!", "").Replace(s)
	return rePrevTTL.ReplaceAllString(s, "$1")
}

func compareLines(t *testing.T, what string, v2, v3 []string) {
	t.Helper()
	if testing.Verbose() {
		for i, s := range v2 {
			t.Logf("%s %2d %s", what, i, s)
		}
	}
	if strings.Join(v2, "\n") != strings.Join(v3, "\n") {
		t.Errorf("watcher of %s:\nv2:\n  %s\nonv3:\n  %s", what, strings.Join(v2, "\n  "), strings.Join(v3, "\n  "))
	}
}

// TestWatchBelowExpiredDirResumed: a watcher of a key inside a directory
// whose TTL expires gets the one expire event also when its stream is cut
// between events (each Next with a short context), then the write that
// re-creates the directory, and nothing for the reap of the orphans.
func TestWatchBelowExpiredDirResumed(t *testing.T) {
	k, _, _ := newOnV3(t)
	ctx := testCtx(t)
	dir, err := k.Set(ctx, "/r/d", "", &client.SetOptions{Dir: true, TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first, err := k.Set(ctx, "/r/d/k", "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	one := k.Watcher("/r/d/k", &client.WatcherOptions{AfterIndex: first.Node.ModifiedIndex})
	defer one.(interface{ Close() error }).Close()
	// Next calls cut short by their contexts while the directory expires.
	var r *client.Response
	deadline := time.Now().Add(30 * time.Second)
	for r == nil {
		nctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
		r, err = one.Next(nctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no event 30 s after a 2 s TTL")
		}
	}
	if r.Action != "expire" || r.Node.Key != "/r/d" || !r.Node.Dir || r.Node.CreatedIndex != dir.Node.CreatedIndex ||
		r.PrevNode == nil || r.PrevNode.Key != "/r/d" || r.PrevNode.ModifiedIndex != dir.Node.ModifiedIndex {
		t.Fatalf("first event: %s %+v prev %+v, want the expiry of /r/d", r.Action, r.Node, r.PrevNode)
	}
	again, err := k.Set(ctx, "/r/d/k", "2", nil) // reaps the orphans first
	if err != nil {
		t.Fatal(err)
	}
	nctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if r, err = one.Next(nctx); err != nil {
		t.Fatal(err)
	}
	if r.Action != "set" || r.Node.Value != "2" || r.Node.ModifiedIndex != again.Node.ModifiedIndex {
		t.Fatalf("event after the expiry: %s %s %q at %d, want the set of 2 at %d", r.Action, r.Node.Key, r.Node.Value, r.Node.ModifiedIndex, again.Node.ModifiedIndex)
	}
}

// TestDifferentialWatchPlainV3Dirs: a plain v3 client writes a key with the
// markers of its directories in one transaction (as v2 creates directories
// on the way), then deletes the outer directory's marker alone (its
// subtree becomes invisible). Watchers of the key, of the directories and
// of the subtrees see what v2 shows for a Set of the key and a recursive
// delete of the directory: no event of the directories created on the way,
// one delete of the directory.
func TestDifferentialWatchPlainV3Dirs(t *testing.T) {
	watched := []struct {
		key       string
		recursive bool
	}{{"/p/q/k", false}, {"/p/q", true}, {"/p", true}, {"/p", false}, {"/p/q", false}}
	base := "/d" + strings.ReplaceAll(etcdtest.UniquePrefix(t), "/", "_")
	watch := func(k client.KeysAPI, after uint64) [][]string {
		var out [][]string
		for _, wk := range watched {
			nz := &normaliser{base: base, labels: map[uint64]int{}}
			_, rs := watchAll(t, k.Watcher(base+wk.key, &client.WatcherOptions{AfterIndex: after, Recursive: wk.recursive}), nz, 500*time.Millisecond)
			nz = &normaliser{base: base, labels: map[uint64]int{}}
			var lines []string
			for _, r := range rs {
				lines = append(lines, watchLine(nz, r))
			}
			out = append(out, lines)
		}
		return out
	}
	ctx := testCtx(t)

	v2 := newNativeV2(t)
	r0, err := v2.Set(ctx, base+"/start", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Set(ctx, base+"/p/q/k", "1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Delete(ctx, base+"/p", &client.DeleteOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	want := watch(v2, r0.Node.ModifiedIndex)

	k, c, prefix := newOnV3(t)
	r0, err = k.Set(ctx, base+"/start", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	l := Layout{Prefix: prefix}
	if _, err := c.Txn(ctx).Then(clientv3.OpPut(l.DirKey(base+"/p"), ""), clientv3.OpPut(l.DirKey(base+"/p/q"), ""),
		clientv3.OpPut(l.FileKey(base+"/p/q/k"), "1")).Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, l.DirKey(base+"/p")); err != nil {
		t.Fatal(err)
	}
	got := watch(k, r0.Node.ModifiedIndex)
	for i, wk := range watched {
		compareLines(t, fmt.Sprintf("%s (recursive %v)", wk.key, wk.recursive), want[i], got[i])
	}
}
