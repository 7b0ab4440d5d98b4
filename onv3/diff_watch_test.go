package onv3

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// watchAll collects the events a watcher delivers until none comes for
// quiet, normalised; it also returns the raw responses.
func watchAll(t *testing.T, w client.Watcher, nz *normaliser, quiet time.Duration) ([]string, []*client.Response) {
	t.Helper()
	var out []string
	var raw []*client.Response
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		r, err := w.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out, raw
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		s := nz.response(r, nil, false)
		s = strings.NewReplacer(" index=mod", "", " index>mod", "", " index<mod!", "").Replace(s)
		out = append(out, s)
		raw = append(raw, r)
	}
}

// TestDifferentialWatch runs writes on both sides, then watches them from
// the index of the first write, recursively and on one key, and compares
// the events.
func TestDifferentialWatch(t *testing.T) {
	steps := []step{
		set("/w/a", "1", nil),
		create("/w/b", "2"),
		create("/w/b", "dup"), // error: no event
		update("/w/a", "3"),
		set("/w/a", "4", &client.SetOptions{PrevValue: "3"}),
		set("/w/deep/er/x", "5", nil),
		set("/w/t", "ttl", &client.SetOptions{TTL: 100 * time.Second}),
		set("/w/t", "", &client.SetOptions{Refresh: true, TTL: 100 * time.Second}), // no event
		set("/w/d", "", &client.SetOptions{Dir: true}),
		set("/w/d", "", &client.SetOptions{Dir: true, PrevExist: client.PrevExist}),
		del("/w/b", &client.DeleteOptions{PrevValue: "2"}),
		del("/w/deep", &client.DeleteOptions{Recursive: true}),
		set("/wx/beside", "no", nil),                                        // beside the watched tree
		set("/w/a", "5", &client.SetOptions{PrevExist: client.PrevNoExist}), // error
		del("/w/a", nil),
		set("/w/a", "again", nil),
	}
	run := func(t *testing.T, k client.KeysAPI, base string) (rec, one []string, raw []*client.Response) {
		ctx := testCtx(t)
		r0, err := k.Set(ctx, base+"/start", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		runSteps(t, k, base, steps)
		nz := &normaliser{base: base, labels: map[uint64]int{}}
		rec, raw = watchAll(t, k.Watcher(base+"/w", &client.WatcherOptions{AfterIndex: r0.Node.ModifiedIndex, Recursive: true}), nz, time.Second)
		nz = &normaliser{base: base, labels: map[uint64]int{}}
		one, _ = watchAll(t, k.Watcher(base+"/w/a", &client.WatcherOptions{AfterIndex: r0.Node.ModifiedIndex}), nz, time.Second)
		return rec, one, raw
	}
	base := "/d" + strings.ReplaceAll(etcdtest.UniquePrefix(t), "/", "_")
	v2rec, v2one, _ := run(t, newNativeV2(t), base)
	k, _, _ := newOnV3(t)
	v3rec, v3one, raw := run(t, k, base)
	compare := func(what string, a, b []string) {
		t.Helper()
		if testing.Verbose() {
			for i, s := range a {
				t.Logf("%s %2d %s", what, i, s)
			}
		}
		if len(a) != len(b) {
			t.Errorf("%s: v2 gave %d events, onv3 %d\nv2:   %q\nonv3: %q", what, len(a), len(b), a, b)
			return
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s event %d differs\n  v2:   %s\n  onv3: %s", what, i, a[i], b[i])
			}
		}
	}
	compare("recursive", v2rec, v3rec)
	compare("one key", v2one, v3one)

	// What a v2 watcher does after each event: watch from its
	// ModifiedIndex. The next event must come, exactly once.
	ctx := testCtx(t)
	for i := 0; i+1 < len(raw); i++ {
		w := k.Watcher(base+"/w", &client.WatcherOptions{AfterIndex: raw[i].Node.ModifiedIndex, Recursive: true})
		r, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Node.ModifiedIndex != raw[i+1].Node.ModifiedIndex || r.Node.Key != raw[i+1].Node.Key {
			t.Errorf("watch after event %d (index %d): got %s %s, want the next event %s", i, raw[i].Node.ModifiedIndex, r.Action, r.Node, raw[i+1].Node)
		}
		w.(interface{ Close() error }).Close()
	}
}

// TestDifferentialWatchAncestor: watchers of keys below a directory that
// is deleted recursively see one event of that directory (not one per key
// of theirs), then what follows, as on v2.
func TestDifferentialWatchAncestor(t *testing.T) {
	steps := []step{
		set("/a/b/c", "1", nil),
		set("/a/b/d/e", "2", nil),
		set("/a/x", "3", nil),
		del("/a", &client.DeleteOptions{Recursive: true}),
		set("/a/b/c", "again", nil),
		set("/a/b/d/e", "again", nil),
		del("/a/b", &client.DeleteOptions{Recursive: true}),
		set("/a/b/c", "third", nil),
	}
	watched := []struct {
		key       string
		recursive bool
	}{
		{"/a/b/c", false},
		{"/a/b", true},
		{"/a/b/d/e", false},
		{"/a/b/d", true},
	}
	run := func(t *testing.T, k client.KeysAPI, base string) [][]string {
		ctx := testCtx(t)
		r0, err := k.Set(ctx, base+"/start", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		runSteps(t, k, base, steps)
		var out [][]string
		for _, wk := range watched {
			nz := &normaliser{base: base, labels: map[uint64]int{}}
			evs, _ := watchAll(t, k.Watcher(base+wk.key, &client.WatcherOptions{AfterIndex: r0.Node.ModifiedIndex, Recursive: wk.recursive}), nz, time.Second)
			out = append(out, evs)
		}
		return out
	}
	base := "/d" + strings.ReplaceAll(etcdtest.UniquePrefix(t), "/", "_")
	v2 := run(t, newNativeV2(t), base)
	k, _, _ := newOnV3(t)
	v3 := run(t, k, base)
	for i, wk := range watched {
		a, b := v2[i], v3[i]
		if testing.Verbose() {
			for j, s := range a {
				t.Logf("%s %2d %s", wk.key, j, s)
			}
		}
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("watcher of %s (recursive %v):\nv2:\n  %s\nonv3:\n  %s", wk.key, wk.recursive, strings.Join(a, "\n  "), strings.Join(b, "\n  "))
		}
	}
}
