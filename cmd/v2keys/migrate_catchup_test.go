package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
				out2, marker := migrateRun(t, ctx, args, true, k, cli, stateKey, src+"/marker", prefix+src+"/marker")
				h.record(marker)
				t.Logf("second run: %s", strings.TrimSpace(out2))
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

// seqWriters write the v2 subtree src while a copy reads it: writer w
// alone writes directories d<w>_*, so each key's writes are in the order
// of their sequence numbers, which the values carry ("seq-N"): sets,
// deletes of a key, recursive deletes of a directory's subdirectory n
// (the directories themselves stay: each is a piece of the copy).
type seqWriters struct {
	stop chan struct{}
	wg   sync.WaitGroup
	seq  atomic.Int64
}

func startSeqWriters(t *testing.T, k client.KeysAPI, src string, writers, dirs, keys int) *seqWriters {
	w := &seqWriters{stop: make(chan struct{})}
	for i := 0; i < writers; i++ {
		w.wg.Add(1)
		go func(i int) {
			defer w.wg.Done()
			r := rand.New(rand.NewSource(int64(i)))
			ctx := context.Background()
			for {
				select {
				case <-w.stop:
					return
				default:
				}
				dir := fmt.Sprintf("%s/d%d_%02d", src, i, r.Intn(dirs))
				key := fmt.Sprintf("%s/k%02d", dir, r.Intn(keys))
				if r.Intn(2) == 0 {
					key = fmt.Sprintf("%s/n/k%02d", dir, r.Intn(keys))
				}
				var err error
				switch op := r.Intn(10); {
				case op < 7:
					_, err = k.Set(ctx, key, fmt.Sprintf("seq-%d", w.seq.Add(1)), nil)
				case op < 9:
					_, err = k.Delete(ctx, key, nil)
				default:
					_, err = k.Delete(ctx, dir+"/n", &client.DeleteOptions{Recursive: true})
				}
				if err != nil && !client.IsKeyNotFound(err) {
					t.Errorf("writer %d: %v", i, err)
					return
				}
			}
		}(i)
	}
	return w
}

func (w *seqWriters) halt() int64 {
	close(w.stop)
	w.wg.Wait()
	return w.seq.Load()
}

// TestMigrateCatchUpUnderWriters: writers change every piece of the
// subtree while the copy reads them (the copy slowed down between
// pieces), one-shot and with --follow; a reader of the target never sees
// a key's value go back to an earlier one or come again after it was
// replaced or deleted (each value carries the sequence number of its
// write, increasing per key), and the copy verifies clean.
func TestMigrateCatchUpUnderWriters(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	dst := etcdtest.SharedV3(t)
	dstEP := dst.ClientURL()
	k := newV2(t, ep)
	cli := newV3(t, dstEP)
	const writers, dirs, keys = 4, 5, 10
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			src := etcdtest.UniquePrefix(t) + "/src"
			ctx := context.Background()
			for i := 0; i < writers; i++ {
				for d := 0; d < dirs; d++ {
					for j := 0; j < keys; j++ {
						for _, f := range []string{"%s/d%d_%02d/k%02d", "%s/d%d_%02d/n/k%02d"} {
							if _, err := k.Set(ctx, fmt.Sprintf(f, src, i, d, j), "seq-0", nil); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
			const prefix = "/seqw"
			sentinel := prefix + src + "/~sentinel"
			maxSeq := map[string]int64{}
			var backwards []string
			reader := watchTarget(t, cli, prefix+src+"/", sentinel)
			w := startSeqWriters(t, k, src, writers, dirs, keys)
			halted := false
			stopWriters := func() {
				if !halted {
					halted = true
					t.Logf("%d writes", w.halt())
				}
			}
			defer stopWriters()
			pieces := 0
			testHookPiece = func(i int, _ string) {
				pieces++
				time.Sleep(20 * time.Millisecond)
				if i == writers*dirs-3 {
					stopWriters() // every write is done before the last piece's read
				}
			}
			defer func() { testHookPiece = nil }()
			args := []string{"--endpoints", ep, "migrate", "--v3-endpoints", dstEP, "--prefix", prefix, src}
			if follow {
				args = append(args[:len(args)-1], "--follow", src)
			}
			stateKey := defaultStateKey(target{subtree: src, prefix: prefix})
			out, _ := migrateRun(t, ctx, args, follow, k, cli, stateKey, src+"/marker", prefix+src+"/marker")
			testHookPiece = nil
			if !halted || pieces != writers*dirs {
				t.Fatalf("%d pieces (want %d), writers stopped by the hook: %v", pieces, writers*dirs, halted)
			}
			t.Logf("%s", strings.TrimSpace(out))
			if _, err := cli.Put(ctx, sentinel, "end"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-reader.done:
			case <-time.After(30 * time.Second):
				t.Fatal("the target's watch did not see the sentinel")
			}
			if _, err := cli.Delete(ctx, sentinel); err != nil {
				t.Fatal(err)
			}
			reader.mu.Lock()
			for key, states := range reader.seen {
				if strings.HasSuffix(key, "/") || strings.HasSuffix(key, "/marker") {
					continue // directory markers carry no sequence
				}
				for _, st := range states {
					if st.absent {
						continue
					}
					var n int64
					if _, err := fmt.Sscanf(st.value, "seq-%d", &n); err != nil {
						t.Errorf("%s = %q", key, st.value)
						continue
					}
					if prev, ok := maxSeq[key]; ok && n <= prev {
						backwards = append(backwards, fmt.Sprintf("%s: %v", key, states))
					}
					maxSeq[key] = max(maxSeq[key], n)
				}
			}
			reader.mu.Unlock()
			slices.Sort(backwards)
			backwards = slices.Compact(backwards)
			for _, b := range backwards {
				t.Errorf("a reader saw a value again or an earlier one: %s", b)
			}
			if r := runCmd(t, "", "--endpoints", ep, "migrate", "--v3-endpoints", dstEP, "--verify", "--prefix", prefix, src); r.code != 0 {
				t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
