package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// v2History is the v2 subtree src as of every change a test made to it
// (the test being its only writer), rendered as the v3 target of a
// migration under prefix should hold it: a file's key with its value, a
// directory's marker with "". It tells what v2 was at any index.
type v2History struct {
	t           *testing.T
	k           client.KeysAPI
	src, prefix string
	at          []historyEntry
}

type historyEntry struct {
	index uint64
	image map[string]string
}

// record reads the subtree (a quorum read) after the change at index.
func (h *v2History) record(index uint64) {
	h.t.Helper()
	image := map[string]string{}
	resp, err := h.k.Get(context.Background(), h.src, &client.GetOptions{Recursive: true, Quorum: true})
	if client.IsKeyNotFound(err) {
		h.at = append(h.at, historyEntry{index, image}) // the subtree is gone
		return
	}
	if err != nil {
		h.t.Fatalf("reading v2 %s after index %d: %v", h.src, index, err)
	}
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		switch {
		case n.Dir && n.Key == "/":
		case n.Dir:
			image[h.prefix+n.Key+"/"] = ""
		default:
			image[h.prefix+n.Key] = n.Value
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	h.at = append(h.at, historyEntry{index, image})
}

// change makes one write and records the subtree after it.
func (h *v2History) change(resp *client.Response, err error) uint64 {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	h.record(resp.Node.ModifiedIndex)
	return resp.Node.ModifiedIndex
}

// asOf returns the subtree's image as v2 had it at index.
func (h *v2History) asOf(index uint64) map[string]string {
	h.t.Helper()
	var image map[string]string
	for _, e := range h.at {
		if e.index <= index {
			image = e.image
		}
	}
	if image == nil {
		h.t.Fatalf("no record of v2 %s at index %d", h.src, index)
	}
	return image
}

// targetImage returns the v3 target range of the migration of src under
// prefix: key and value of every key.
func targetImage(t *testing.T, cli *clientv3.Client, prefix, src string) map[string]string {
	t.Helper()
	root := prefix + src
	if src == "/" {
		root = prefix + "/"
	}
	out := map[string]string{}
	for k, e := range v3Range(t, cli, root) {
		if k == root || strings.HasPrefix(k, strings.TrimSuffix(root, "/")+"/") {
			out[k] = e.value
		}
	}
	return out
}

// diffImages describes how got differs from want, or returns "".
func diffImages(want, got map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			fmt.Fprintf(&b, "missing %s (%q)\n", k, want[k])
		} else if g != want[k] {
			fmt.Fprintf(&b, "%s = %q, want %q\n", k, g, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "extra %s (%q)\n", k, got[k])
		}
	}
	return b.String()
}

// delayedWatch is a testHookWatch that holds back the changes above
// after (once it is set) until hold has passed since the first of them
// came, as a stream that lags behind etcd's history would; the changes
// keep their order. held counts the changes it held back; onRelease, if
// set, is called when the first of them is handed out.
type delayedWatch struct {
	after     atomic.Uint64
	hold      time.Duration
	held      atomic.Int64
	onRelease func()
}

func (d *delayedWatch) wrap(next func(context.Context) (*client.Response, error)) func(context.Context) (*client.Response, error) {
	var held *client.Response
	var release time.Time
	return func(ctx context.Context) (*client.Response, error) {
		for {
			if held == nil {
				ev, err := next(ctx)
				after := d.after.Load()
				if err != nil || after == 0 || ev.Node.ModifiedIndex <= after || (!release.IsZero() && time.Now().After(release)) {
					return ev, err
				}
				if release.IsZero() {
					release = time.Now().Add(d.hold)
				}
				held = ev
				d.held.Add(1)
			}
			wait := time.Until(release)
			if wait <= 0 {
				ev := held
				held = nil
				if d.onRelease != nil {
					d.onRelease()
					d.onRelease = nil
				}
				return ev, nil
			}
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			case <-timer.C:
			}
		}
	}
}

// TestMigratePieceGoneOneIndex: the last piece of a one-shot copy, a
// child directory, is deleted before its read (which answers "key not
// found" at the index of the deletion or later), after a change in an
// earlier piece and with another change in between; the watch's stream
// delivers the changes after the first one late. The copy must still end
// as v2 was at one index, the one its state says it applied up to: the
// not-found answer's index counts toward Xmax, so the copy waits for the
// deletion (and the change before it) instead of ending with the
// directory gone but an earlier change missing.
func TestMigratePieceGoneOneIndex(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	k := newV2(t, ep)
	cli := newV3(t, ep)
	src := etcdtest.UniquePrefix(t) + "/src"
	const prefix = "/gone"
	h := &v2History{t: t, k: k, src: src, prefix: prefix}
	ctx := context.Background()
	for d := 0; d < 4; d++ {
		for i := 0; i < 3; i++ {
			h.change(k.Set(ctx, fmt.Sprintf("%s/d%d/k%d", src, d, i), fmt.Sprintf("v%d-%d", d, i), nil))
		}
	}
	h.change(k.Set(ctx, src+"/top", "top", nil))

	delay := &delayedWatch{hold: 300 * time.Millisecond}
	testHookWatch = delay.wrap
	defer func() { testHookWatch = nil }()
	var pieces []string
	var deleted uint64
	testHookPiece = func(i int, dir string) {
		pieces = append(pieces, dir)
		switch i {
		case 0:
			// A change in a piece already read: the stream delivers the
			// changes after it late.
			delay.after.Store(h.change(k.Set(ctx, src+"/d0/k0", "changed", nil)))
		case 2:
			// The last piece's read is requested after this: a change
			// in between, then the last piece deleted.
			h.change(k.Set(ctx, src+"/d1/k0", "between", nil))
			deleted = h.change(k.Delete(ctx, src+"/d3", &client.DeleteOptions{Recursive: true}))
		}
	}
	defer func() { testHookPiece = nil }()
	r := runCmd(t, "", "--endpoints", ep, "migrate", "--prefix", prefix, src)
	testHookPiece, testHookWatch = nil, nil
	if r.code != 0 {
		t.Fatalf("migrate: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("%s", strings.TrimSpace(r.stdout))
	if want := []string{src + "/d0", src + "/d1", src + "/d2", src + "/d3"}; !slices.Equal(pieces, want) {
		t.Fatalf("pieces %v, want %v", pieces, want)
	}
	if delay.held.Load() == 0 {
		t.Fatalf("the watch held back no change: the test did not delay the stream")
	}
	st := readState(t, cli, defaultStateKey(target{subtree: src, prefix: prefix}))
	if st == nil || st.Phase != phaseFollow {
		t.Fatalf("state after the copy: %+v", st)
	}
	if d := diffImages(h.asOf(st.AppliedIndex), targetImage(t, cli, prefix, src)); d != "" {
		t.Fatalf("the target is not v2 as of the applied index %d (the deletion of the last piece is at %d):\n%s", st.AppliedIndex, deleted, d)
	}
	if st.AppliedIndex < deleted {
		t.Errorf("applied index %d, below the deletion of the last piece (%d)", st.AppliedIndex, deleted)
	}
	if r := runCmd(t, "", "--endpoints", ep, "migrate", "--verify", "--prefix", prefix, src); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
