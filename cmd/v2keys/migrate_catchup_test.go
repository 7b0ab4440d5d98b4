package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// targetReader is a v3 watch of a target range that records, for each
// key, the states a reader saw it in (a value, or absent after a delete).
type targetReader struct {
	mu   sync.Mutex
	seen map[string][]keyState
	done chan struct{}
}

// keyState is a key's value, or its absence.
type keyState struct {
	value  string
	absent bool
}

func (s keyState) String() string {
	if s.absent {
		return "(absent)"
	}
	return fmt.Sprintf("%q", s.value)
}

// watchTarget starts watching every key starting with under, from the
// current revision on, until sentinel (a key under under) is put.
func watchTarget(t *testing.T, cli *clientv3.Client, under, sentinel string) *targetReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := cli.Get(ctx, "v2keys-no-such-key")
	if err != nil {
		t.Fatal(err)
	}
	r := &targetReader{seen: map[string][]keyState{}, done: make(chan struct{})}
	wch := cli.Watch(ctx, under, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	go func() {
		defer close(r.done)
		for wr := range wch {
			for _, ev := range wr.Events {
				k := string(ev.Kv.Key)
				if k == sentinel {
					return
				}
				st := keyState{value: string(ev.Kv.Value), absent: ev.Type == clientv3.EventTypeDelete}
				r.mu.Lock()
				r.seen[k] = append(r.seen[k], st)
				r.mu.Unlock()
			}
		}
	}()
	return r
}

// check waits for the sentinel, then fails the test for every key whose
// states, as the reader saw them, are not in the order v2 had them
// (h: the subtree after each change): a key that went back to an older
// value, or to an absence it had left.
func (r *targetReader) check(t *testing.T, cli *clientv3.Client, h *v2History, sentinel string) {
	t.Helper()
	if _, err := cli.Put(context.Background(), sentinel, "end"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the target's watch did not see the sentinel")
	}
	if _, err := cli.Delete(context.Background(), sentinel); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(r.seen)) {
		// v2's states of k, in order, from before the copy (absent in
		// the target) on.
		v2 := []keyState{{absent: true}}
		for _, e := range h.at {
			v, ok := e.image[k]
			st := keyState{value: v, absent: !ok}
			if st != v2[len(v2)-1] {
				v2 = append(v2, st)
			}
		}
		pos := 0
		for i, st := range r.seen[k] {
			j := slices.Index(v2[pos:], st)
			if j < 0 {
				t.Errorf("%s went backwards: a reader saw %v (state %d of them), v2 had %v", k, r.seen[k], i, v2)
				break
			}
			pos += j
		}
	}
}

// catchUpChanges returns a testHookPiece that changes v2 (recorded in h)
// while the copy reads the six pieces d0 to d5 of src: at piece 0, a key
// of the piece just read, then of pieces not read yet: a key set twice
// (d3), a key deleted and set again (d4), a directory deleted and made
// again (d5); at piece 1, a key of the piece just read and one of d3.
// The catch-up after the pieces receives them all; replayed in full, it
// would take each of d3, d4 and d5 back to an older state. It returns
// the index of the first change (set after piece 0).
func catchUpChanges(h *v2History, first *uint64) func(int, string) {
	k, src := h.k, h.src
	return func(i int, _ string) {
		ctx := context.Background()
		switch i {
		case 0:
			*first = h.change(k.Set(ctx, src+"/d0/k0", "d0k0-2", nil))
			h.change(k.Set(ctx, src+"/d3/k0", "d3k0-2", nil))
			h.change(k.Set(ctx, src+"/d3/k0", "d3k0-3", nil))
			h.change(k.Delete(ctx, src+"/d4/k1", nil))
			h.change(k.Set(ctx, src+"/d4/k1", "d4k1-2", nil))
			h.change(k.Delete(ctx, src+"/d5", &client.DeleteOptions{Recursive: true}))
			h.change(k.Set(ctx, src+"/d5/k0", "d5k0-2", nil))
		case 1:
			h.change(k.Set(ctx, src+"/d1/k2", "d1k2-2", nil))
			h.change(k.Set(ctx, src+"/d3/k1", "d3k1-2", nil))
		}
	}
}

// TestMigrateCatchUpForwardOnly: a reader watching the v3 target while a
// copy in pieces catches up with the changes made during it never sees a
// key go back to an older state (a value, or an absence), although some
// of those changes are already in the pieces read after them: one-shot,
// and with --follow interrupted in the middle of its catch-up and run
// again. Each run ends as v2 is and verifies clean.
func TestMigrateCatchUpForwardOnly(t *testing.T) {
	srcEP := etcdtest.Shared(t).ClientURL()
	dst := etcdtest.SharedV3(t)
	dstEP := dst.ClientURL()
	k := newV2(t, srcEP)
	cli := newV3(t, dstEP)
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow-restarted=%v", restart), func(t *testing.T) {
			src := etcdtest.UniquePrefix(t) + "/src"
			prefix := "/fwd"
			h := &v2History{t: t, k: k, src: src, prefix: prefix}
			ctx := context.Background()
			for d := 0; d < 6; d++ {
				for i := 0; i < 3; i++ {
					h.change(k.Set(ctx, fmt.Sprintf("%s/d%d/k%d", src, d, i), fmt.Sprintf("d%dk%d-1", d, i), nil))
				}
			}
			h.change(k.Set(ctx, src+"/top", "top-1", nil))
			sentinel := prefix + src + "/~sentinel"
			reader := watchTarget(t, cli, prefix+src+"/", sentinel)
			args := []string{"--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--prefix", prefix, src}
			stateKey := defaultStateKey(target{subtree: src, prefix: prefix})
			var first uint64
			testHookPiece = catchUpChanges(h, &first)
			defer func() { testHookPiece, testHookWatch = nil, nil }()
			if !restart {
				r := runCmd(t, "", args...)
				testHookPiece = nil
				if r.code != 0 {
					t.Fatalf("migrate: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
				}
				t.Logf("%s", strings.TrimSpace(r.stdout))
			} else {
				// The first run: the stream holds back the changes after
				// the first one, and the run is interrupted when it hands
				// the next one out, with the first one applied.
				args = append(args[:len(args)-1], "--follow", src)
				runCtx, cancel := context.WithCancel(ctx)
				defer cancel()
				delay := &delayedWatch{hold: 200 * time.Millisecond, onRelease: cancel}
				testHookWatch = delay.wrap
				testHookPiece = func(i int, dir string) {
					catchUpChanges(h, &first)(i, dir)
					if i == 0 {
						delay.after.Store(first)
					}
				}
				var out, errb syncBuffer
				done := make(chan int, 1)
				go func() { done <- runContext(runCtx, args, strings.NewReader(""), &out, &errb) }()
				var code int
				select {
				case code = <-done:
				case <-time.After(20 * time.Second):
					cancel()
					code = <-done
					t.Errorf("the first run was not interrupted in its catch-up (held back %d changes)", delay.held.Load())
				}
				testHookPiece, testHookWatch = nil, nil
				t.Logf("first run: exit %d: %s%s", code, strings.TrimSpace(out.String()), errb.String())
				st := readState(t, cli, stateKey)
				if code != ExitServerError || st == nil || st.Phase != phaseCopy || st.AppliedIndex < first {
					t.Errorf("after the first run (interrupted in its catch-up): exit %d, state %+v; want exit %d, phase %s, applied index at least %d",
						code, st, ExitServerError, phaseCopy, first)
				}
				// A change between the runs, in a piece the first run
				// read after the changes to it.
				h.change(k.Set(ctx, src+"/d3/k0", "d3k0-4", nil))
				runCtx2, cancel2 := context.WithCancel(ctx)
				defer cancel2()
				var out2, errb2 syncBuffer
				go func() { done <- runContext(runCtx2, args, strings.NewReader(""), &out2, &errb2) }()
				waitFor(t, 60*time.Second, "the second run's catch-up to finish", func() bool {
					st := readState(t, cli, stateKey)
					return st != nil && st.Phase == phaseFollow
				})
				h.record(catchUp(t, k, cli, src+"/marker", prefix+src+"/marker"))
				cancel2()
				if code := <-done; code != 0 {
					t.Fatalf("second run: exit %d\nstdout: %s\nstderr: %s", code, out2.String(), errb2.String())
				}
				t.Logf("second run: %s", strings.TrimSpace(out2.String()))
			}
			reader.check(t, cli, h, sentinel)
			st := readState(t, cli, stateKey)
			if st == nil || st.Phase != phaseFollow {
				t.Fatalf("state at the end: %+v", st)
			}
			if d := diffImages(h.asOf(st.AppliedIndex), targetImage(t, cli, prefix, src)); d != "" {
				t.Errorf("the target is not v2 as of the applied index %d:\n%s", st.AppliedIndex, d)
			}
			if r := runCmd(t, "", "--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--verify", "--prefix", prefix, src); r.code != 0 {
				t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestMigrateCatchUpSubtreeRemoved: the subtree itself is removed while
// the copy reads its pieces, then made again (a key of a piece not read
// yet, a top-level file). The removal, applied in the catch-up, removes
// what the pieces read after it hold, so every change after it is
// applied, pieces or not: the one-shot copy ends as v2 as of its applied
// index and verifies clean.
func TestMigrateCatchUpSubtreeRemoved(t *testing.T) {
	srcEP := etcdtest.Shared(t).ClientURL()
	dst := etcdtest.SharedV3(t)
	dstEP := dst.ClientURL()
	k := newV2(t, srcEP)
	cli := newV3(t, dstEP)
	src := etcdtest.UniquePrefix(t) + "/src"
	const prefix = "/removed"
	h := &v2History{t: t, k: k, src: src, prefix: prefix}
	ctx := context.Background()
	for d := 0; d < 4; d++ {
		for i := 0; i < 3; i++ {
			h.change(k.Set(ctx, fmt.Sprintf("%s/d%d/k%d", src, d, i), fmt.Sprintf("d%dk%d-1", d, i), nil))
		}
	}
	testHookPiece = func(i int, _ string) {
		if i == 0 {
			h.change(k.Delete(ctx, src, &client.DeleteOptions{Recursive: true}))
			h.change(k.Set(ctx, src+"/d2/k0", "again", nil))
			h.change(k.Set(ctx, src+"/top", "again", nil))
		}
	}
	defer func() { testHookPiece = nil }()
	r := runCmd(t, "", "--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--prefix", prefix, src)
	testHookPiece = nil
	if r.code != 0 {
		t.Fatalf("migrate: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("%s", strings.TrimSpace(r.stdout))
	st := readState(t, cli, defaultStateKey(target{subtree: src, prefix: prefix}))
	if st == nil || st.Phase != phaseFollow {
		t.Fatalf("state after the copy: %+v", st)
	}
	if d := diffImages(h.asOf(st.AppliedIndex), targetImage(t, cli, prefix, src)); d != "" {
		t.Fatalf("the target is not v2 as of the applied index %d:\n%s", st.AppliedIndex, d)
	}
	if r := runCmd(t, "", "--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--verify", "--prefix", prefix, src); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
