package client

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// sharedKeys returns a KeysAPI on the shared real etcd member and the
// prefix under which the calling test keeps its keys.
func sharedKeys(t *testing.T) (KeysAPI, string) {
	t.Helper()
	m := etcdtest.Shared(t)
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, m.ClientURL())
	return NewKeysAPI(c), etcdtest.UniquePrefix(t)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is the value Error with the given code.
func wantCode(t *testing.T, err error, code int) Error {
	t.Helper()
	e, ok := err.(Error)
	if !ok {
		t.Fatalf("error = %T %v, want the value client.Error with code %d", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %d (%v), want %d", e.Code, e, code)
	}
	return e
}

func TestRealSetGetCreateUpdate(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)

	resp, err := kapi.Create(ctx, p+"/k", "v1")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if resp.Action != "create" || resp.Node.Key != p+"/k" || resp.Node.Value != "v1" || resp.PrevNode != nil {
		t.Fatalf("Create = %+v %+v", resp, resp.Node)
	}
	if resp.Index != resp.Node.ModifiedIndex || resp.Node.CreatedIndex != resp.Node.ModifiedIndex || resp.ClusterID == "" {
		t.Fatalf("Create index %d node %+v cluster %q", resp.Index, resp.Node, resp.ClusterID)
	}
	created := resp.Node.CreatedIndex

	_, err = kapi.Create(ctx, p+"/k", "again")
	wantCode(t, err, ErrorCodeNodeExist)

	resp, err = kapi.Update(ctx, p+"/k", "v2")
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if resp.Action != "update" || resp.Node.Value != "v2" || resp.PrevNode == nil || resp.PrevNode.Value != "v1" || resp.Node.CreatedIndex != created {
		t.Fatalf("Update = %+v node %+v prev %+v", resp, resp.Node, resp.PrevNode)
	}

	_, err = kapi.Update(ctx, p+"/missing", "x")
	e := wantCode(t, err, ErrorCodeKeyNotFound)
	if !IsKeyNotFound(err) || e.Cause != p+"/missing" || e.Index == 0 {
		t.Fatalf("Update missing: %#v", e)
	}

	resp, err = kapi.Set(ctx, p+"/k", "v3", nil)
	if err != nil {
		t.Fatal(err)
	}
	// An overwriting set makes a new node.
	if resp.Action != "set" || resp.PrevNode.Value != "v2" || resp.Node.CreatedIndex == created {
		t.Fatalf("Set = %+v node %+v prev %+v", resp, resp.Node, resp.PrevNode)
	}

	resp, err = kapi.Get(ctx, p+"/k", nil)
	if err != nil || resp.Action != "get" || resp.Node.Value != "v3" {
		t.Fatalf("Get = %+v, %v", resp, err)
	}
	_, err = kapi.Get(ctx, p+"/nope", nil)
	wantCode(t, err, ErrorCodeKeyNotFound)
}

func TestRealCompareAndSwapAndDelete(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	key := p + "/cas"
	first, err := kapi.Set(ctx, key, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := first.Node.ModifiedIndex

	tests := []struct {
		name     string
		op       func() (*Response, error)
		wantCode int
		action   string
	}{
		{"swap by wrong value", func() (*Response, error) { return kapi.Set(ctx, key, "b", &SetOptions{PrevValue: "zzz"}) }, ErrorCodeTestFailed, ""},
		{"swap by wrong index", func() (*Response, error) { return kapi.Set(ctx, key, "b", &SetOptions{PrevIndex: idx + 100}) }, ErrorCodeTestFailed, ""},
		{"swap by value", func() (*Response, error) { return kapi.Set(ctx, key, "b", &SetOptions{PrevValue: "a"}) }, 0, "compareAndSwap"},
		{"swap by stale index", func() (*Response, error) { return kapi.Set(ctx, key, "c", &SetOptions{PrevIndex: idx}) }, ErrorCodeTestFailed, ""},
		{"delete by wrong value", func() (*Response, error) { return kapi.Delete(ctx, key, &DeleteOptions{PrevValue: "a"}) }, ErrorCodeTestFailed, ""},
		{"delete by wrong index", func() (*Response, error) { return kapi.Delete(ctx, key, &DeleteOptions{PrevIndex: idx}) }, ErrorCodeTestFailed, ""},
		{"delete by value", func() (*Response, error) { return kapi.Delete(ctx, key, &DeleteOptions{PrevValue: "b"}) }, 0, "compareAndDelete"},
		{"swap missing key", func() (*Response, error) { return kapi.Set(ctx, key, "x", &SetOptions{PrevValue: "b"}) }, ErrorCodeKeyNotFound, ""},
	}
	for _, tt := range tests {
		resp, err := tt.op()
		if tt.wantCode != 0 {
			e := wantCode(t, err, tt.wantCode)
			if tt.wantCode == ErrorCodeTestFailed && !strings.HasPrefix(e.Cause, "[") {
				t.Errorf("%s: cause %q", tt.name, e.Cause)
			}
			continue
		}
		if err != nil || resp.Action != tt.action {
			t.Fatalf("%s: %+v, %v", tt.name, resp, err)
		}
	}

	// Compare-and-delete by index.
	r, err := kapi.Set(ctx, key, "d", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := kapi.Delete(ctx, key, &DeleteOptions{PrevIndex: r.Node.ModifiedIndex})
	if err != nil || resp.Action != "compareAndDelete" || resp.PrevNode.Value != "d" {
		t.Fatalf("delete by index: %+v, %v", resp, err)
	}
}

func TestRealDirectories(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	dir := p + "/dir"
	resp, err := kapi.Set(ctx, dir, "", &SetOptions{Dir: true})
	if err != nil || !resp.Node.Dir {
		t.Fatalf("mkdir: %+v, %v", resp, err)
	}
	_, err = kapi.Set(ctx, dir, "v", nil)
	wantCode(t, err, ErrorCodeNotFile)
	_, err = kapi.Set(ctx, dir, "", &SetOptions{Dir: true, PrevExist: PrevNoExist})
	wantCode(t, err, ErrorCodeNodeExist)

	for _, k := range []string{"b", "a", "c/x", "c/y", "_hidden"} {
		if _, err := kapi.Set(ctx, dir+"/"+k, "val-"+k, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err = kapi.Set(ctx, dir+"/a/sub", "v", nil)
	wantCode(t, err, ErrorCodeNotDir)

	resp, err = kapi.Get(ctx, dir, &GetOptions{Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(resp.Node.Nodes); got != "a b c" {
		t.Fatalf("sorted listing %q (hidden keys must not be listed)", got)
	}
	if c := resp.Node.Nodes[2]; !c.Dir || len(c.Nodes) != 0 {
		t.Fatalf("non-recursive listing expanded %+v", c)
	}

	resp, err = kapi.Get(ctx, dir, &GetOptions{Recursive: true, Sort: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Node.Nodes[2]; keysOf(c.Nodes) != "x y" || c.Nodes[1].Value != "val-c/y" {
		t.Fatalf("recursive listing of c: %+v", c.Nodes)
	}

	_, err = kapi.Delete(ctx, dir+"/c", &DeleteOptions{Dir: true})
	wantCode(t, err, ErrorCodeDirNotEmpty)
	_, err = kapi.Delete(ctx, dir+"/c", nil)
	wantCode(t, err, ErrorCodeNotFile)
	resp, err = kapi.Delete(ctx, dir, &DeleteOptions{Recursive: true})
	if err != nil || resp.Action != "delete" || !resp.PrevNode.Dir {
		t.Fatalf("recursive delete: %+v, %v", resp, err)
	}
	_, err = kapi.Get(ctx, dir+"/a", nil)
	wantCode(t, err, ErrorCodeKeyNotFound)
}

// keysOf returns the last path segment of each node, space separated.
func keysOf(ns Nodes) string {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.Key[strings.LastIndex(n.Key, "/")+1:]
	}
	return strings.Join(names, " ")
}

func TestRealCreateInOrder(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	var keys []string
	for i := 0; i < 5; i++ {
		resp, err := kapi.CreateInOrder(ctx, p+"/queue", fmt.Sprintf("job%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Action != "create" || len(resp.Node.Key) != len(p+"/queue/")+20 {
			t.Fatalf("CreateInOrder = %+v", resp.Node)
		}
		keys = append(keys, resp.Node.Key)
	}
	if !sort.StringsAreSorted(keys) {
		t.Fatalf("in-order keys not increasing: %q", keys)
	}
	resp, err := kapi.Get(ctx, p+"/queue", &GetOptions{Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range resp.Node.Nodes {
		if n.Key != keys[i] || n.Value != fmt.Sprintf("job%d", i) {
			t.Fatalf("queue[%d] = %+v", i, n)
		}
	}
	resp, err = kapi.CreateInOrder(ctx, p+"/queue", "ttl", &CreateInOrderOptions{TTL: time.Minute})
	if err != nil || resp.Node.TTL <= 0 || resp.Node.Expiration == nil {
		t.Fatalf("CreateInOrder with TTL: %+v, %v", resp, err)
	}
	_, err = kapi.CreateInOrder(ctx, keys[0], "x", nil)
	wantCode(t, err, ErrorCodeNotDir)
}

func TestRealTTLExpiryAndRefresh(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)

	resp, err := kapi.Set(ctx, p+"/short", "v", &SetOptions{TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Node.TTL != 1 || resp.Node.TTLDuration() != time.Second || resp.Node.Expiration == nil {
		t.Fatalf("TTL node %+v", resp.Node)
	}
	if until := time.Until(*resp.Node.Expiration); until <= 0 || until > 2*time.Second {
		t.Fatalf("expiration %v is %v away", resp.Node.Expiration, until)
	}
	w := kapi.Watcher(p+"/short", &WatcherOptions{AfterIndex: resp.Node.ModifiedIndex})
	ev, err := w.Next(ctx)
	if err != nil || ev.Action != "expire" || ev.PrevNode == nil || ev.PrevNode.Value != "v" {
		t.Fatalf("expiry event %+v, %v", ev, err)
	}
	_, err = kapi.Get(ctx, p+"/short", nil)
	wantCode(t, err, ErrorCodeKeyNotFound)

	// Refresh extends the TTL without changing the value or waking watchers.
	resp, err = kapi.Set(ctx, p+"/lease", "held", &SetOptions{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	watchCtx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	events := make(chan error, 1)
	go func() {
		_, err := kapi.Watcher(p+"/lease", &WatcherOptions{AfterIndex: resp.Node.ModifiedIndex}).Next(watchCtx)
		events <- err
	}()
	refreshed, err := kapi.Set(ctx, p+"/lease", "", &SetOptions{TTL: time.Hour, Refresh: true, PrevExist: PrevExist})
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.Action != "update" || refreshed.Node.Value != "held" || refreshed.Node.TTL < 3500 {
		t.Fatalf("refresh = %+v node %+v", refreshed, refreshed.Node)
	}
	if err := <-events; err != context.DeadlineExceeded {
		t.Fatalf("a refresh woke a watcher: %v", err)
	}
	_, err = kapi.Set(ctx, p+"/lease", "", &SetOptions{Refresh: true})
	wantCode(t, err, 212) // A TTL must be provided on refresh.
	_, err = kapi.Set(ctx, p+"/nolease", "", &SetOptions{Refresh: true, TTL: time.Minute})
	wantCode(t, err, ErrorCodeKeyNotFound)
}

func TestRealNoValueOnSuccess(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	resp, err := kapi.Set(ctx, p+"/k", "v", &SetOptions{NoValueOnSuccess: true})
	if err != nil || resp.Action != "set" || resp.Node != nil || resp.PrevNode != nil || resp.Index == 0 {
		t.Fatalf("Set NoValueOnSuccess = %+v, %v", resp, err)
	}
	_, err = kapi.Set(ctx, p+"/k", "w", &SetOptions{NoValueOnSuccess: true, PrevValue: "nope"})
	wantCode(t, err, ErrorCodeTestFailed)
}

func TestRealAwkwardKeys(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	tests := []struct{ key, stored string }{
		{"/with space", "/with space"},
		{"/per%cent", "/per%cent"},
		{"/question?mark", "/question?mark"},
		{"/hash#tag", "/hash#tag"},
		{"/plus+and&amp=eq", "/plus+and&amp=eq"},
		{"/ünïcödé/日本語", "/ünïcödé/日本語"},
		{"/trailing/", "/trailing"},
		{"/a/../dotdot", "/dotdot"},
		{"//double//slash", "/double/slash"},
		{"/no-leading-slash", "/no-leading-slash"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			value := "value of " + tt.key + " \x00\n\"quoted\" \u2028"
			key := p + tt.key
			if tt.key == "/no-leading-slash" {
				key = strings.TrimPrefix(key, "/")
			}
			resp, err := kapi.Set(ctx, key, value, nil)
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if resp.Node.Key != p+tt.stored {
				t.Fatalf("stored as %q, want %q", resp.Node.Key, p+tt.stored)
			}
			got, err := kapi.Get(ctx, key, nil)
			if err != nil || got.Node.Value != value {
				t.Fatalf("Get = %+v, %v", got, err)
			}
		})
	}
}

func TestRealLargeValue(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	value := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	if _, err := kapi.Set(ctx, p+"/big", value, nil); err != nil {
		t.Fatalf("Set 1 MiB: %v", err)
	}
	resp, err := kapi.Get(ctx, p+"/big", nil)
	if err != nil || resp.Node.Value != value {
		t.Fatalf("Get 1 MiB: len %d, %v", len(resp.Node.Value), err)
	}
}

func TestRealEmptyKeys(t *testing.T) {
	kapi, _ := sharedKeys(t)
	ctx := testCtx(t)
	_, err := kapi.Set(ctx, "", "v", nil)
	wantCode(t, err, ErrorCodeRootROnly)
	_, err = kapi.Delete(ctx, "", nil)
	wantCode(t, err, ErrorCodeRootROnly)
	_, err = kapi.Create(ctx, "/", "v")
	wantCode(t, err, ErrorCodeRootROnly)
	resp, err := kapi.Get(ctx, "", nil)
	if err != nil || !resp.Node.Dir {
		t.Fatalf("Get of the root: %+v, %v", resp, err)
	}
}

func TestRealPrefixedKeysAPI(t *testing.T) {
	m := etcdtest.Shared(t)
	c := newTestClient(t, Config{}, m.ClientURL())
	p := etcdtest.UniquePrefix(t)
	ctx := testCtx(t)
	prefixed := NewKeysAPIWithPrefix(c, "/v2/keys"+p)
	resp, err := prefixed.Set(ctx, "/inner", "v", nil)
	if err != nil || resp.Node.Key != p+"/inner" {
		t.Fatalf("prefixed Set: %+v, %v", resp, err)
	}
	resp, err = NewKeysAPI(c).Get(ctx, p+"/inner", nil)
	if err != nil || resp.Node.Value != "v" {
		t.Fatalf("plain Get: %+v, %v", resp, err)
	}
}

func TestRealGetVersion(t *testing.T) {
	m := etcdtest.Shared(t)
	v, err := newTestClient(t, Config{}, m.ClientURL()).GetVersion(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := m.Version(); v.Server != want || !strings.HasPrefix(v.Cluster, "3.") {
		t.Fatalf("GetVersion = %+v, want server %s", v, want)
	}
}

func TestRealWatchers(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)

	start, err := kapi.Set(ctx, p+"/w/a", "0", nil)
	if err != nil {
		t.Fatal(err)
	}

	// Events written before Next is called are still delivered, in order,
	// from AfterIndex on, and a recursive watcher sees children.
	const n = 60
	for i := 1; i <= n; i++ {
		key := p + "/w/a"
		if i%3 == 0 {
			key = p + fmt.Sprintf("/w/sub/%d", i)
		}
		if _, err := kapi.Set(ctx, key, fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	recursive := kapi.Watcher(p+"/w", &WatcherOptions{AfterIndex: start.Node.ModifiedIndex, Recursive: true})
	single := kapi.Watcher(p+"/w/a", &WatcherOptions{AfterIndex: start.Node.ModifiedIndex})
	last := start.Node.ModifiedIndex
	for i := 1; i <= n; i++ {
		ev, err := recursive.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Node.Value != fmt.Sprint(i) || ev.Node.ModifiedIndex <= last {
			t.Fatalf("event %d = %+v (after index %d)", i, ev.Node, last)
		}
		last = ev.Node.ModifiedIndex
		if i%3 != 0 {
			ev, err := single.Next(ctx)
			if err != nil || ev.Node.Key != p+"/w/a" || ev.Node.Value != fmt.Sprint(i) {
				t.Fatalf("single watcher event %d = %+v, %v", i, ev, err)
			}
		}
	}

	// A watcher from "now" gets the next change; its Index is the watch's
	// start.
	now := kapi.Watcher(p+"/w/a", nil)
	go func() {
		time.Sleep(100 * time.Millisecond)
		kapi.Delete(context.Background(), p+"/w/a", nil)
	}()
	ev, err := now.Next(ctx)
	if err != nil || ev.Action != "delete" || ev.PrevNode.Value != fmt.Sprint(n-1) {
		t.Fatalf("delete event %+v, %v", ev, err)
	}

	// Cancelling the context ends Next with context.Canceled itself.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := kapi.Watcher(p+"/never", nil).Next(cctx); err != context.Canceled {
		t.Fatalf("cancelled watch: %v, want context.Canceled", err)
	}
}

func TestRealWatchEventIndexCleared(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	first, err := kapi.Set(ctx, p+"/hist", "0", nil)
	if err != nil {
		t.Fatal(err)
	}
	// etcd keeps the last 1000 events; push the first one out of history.
	fillHistory(t, ctx, kapi, p)
	_, err = kapi.Watcher(p, &WatcherOptions{AfterIndex: first.Node.ModifiedIndex - 1, Recursive: true}).Next(ctx)
	e := wantCode(t, err, ErrorCodeEventIndexCleared)
	if !strings.Contains(e.Message, "cleared") {
		t.Fatalf("EventIndexCleared message %q", e.Message)
	}
}

// fillHistory pushes more than 1000 events (etcd's v2 history) under p, so
// that every index before the call is cleared.
func fillHistory(t *testing.T, ctx context.Context, kapi KeysAPI, p string) {
	t.Helper()
	setConcurrently(t, 8*130, func(i int) error {
		_, err := kapi.Set(ctx, fmt.Sprintf("%s/fill/%d", p, i%8), fmt.Sprint(i), nil)
		return err
	})
}

// setConcurrently runs write(i) for i in [0, n) from 8 goroutines and
// fails the test on the first error.
func setConcurrently(t *testing.T, n int, write func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				if err := write(i); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestRealWatchResyncOnCleared: with ResyncOnCleared, a watcher whose
// history was cleared gets the current state (equal to a quorum GET made
// afterwards) and then the first write made after the resync.
func TestRealWatchResyncOnCleared(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	first, err := kapi.Set(ctx, p+"/hist", "0", nil)
	if err != nil {
		t.Fatal(err)
	}
	fillHistory(t, ctx, kapi, p)

	for _, tc := range []struct {
		name, key string
		recursive bool
		stream    bool
	}{
		{"recursive dir", p, true, false},
		{"single key", p + "/hist", false, false},
		{"missing key", p + "/nothing", false, false},
		{"recursive dir, streaming", p, true, true},
		{"single key, streaming", p + "/hist", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := kapi.Watcher(tc.key, &WatcherOptions{AfterIndex: first.Node.ModifiedIndex - 1, Recursive: tc.recursive, ResyncOnCleared: true, Stream: tc.stream})
			if c, ok := w.(interface{ Close() error }); ok {
				defer c.Close()
			}
			ev, err := w.Next(ctx)
			var hc *HistoryClearedError
			if ev != nil || !errors.As(err, &hc) {
				t.Fatalf("Next = %+v, %v; want a *HistoryClearedError", ev, err)
			}
			wantCode(t, errors.Unwrap(err), ErrorCodeEventIndexCleared)
			now, err := kapi.Get(ctx, tc.key, &GetOptions{Recursive: tc.recursive, Sort: true, Quorum: true})
			if tc.key == p+"/nothing" {
				wantCode(t, err, ErrorCodeKeyNotFound)
				if hc.Snapshot.Node != nil || hc.Snapshot.Index < first.Node.ModifiedIndex+1000 {
					t.Fatalf("snapshot of a missing key = %+v", hc.Snapshot)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(hc.Snapshot.Node, now.Node) {
					t.Fatalf("snapshot %+v differs from the current state %+v", hc.Snapshot.Node, now.Node)
				}
				if hc.Snapshot.Index < now.Node.ModifiedIndex {
					t.Fatalf("snapshot index %d older than its node", hc.Snapshot.Index)
				}
			}
			key := tc.key
			if tc.recursive {
				key += "/after"
			}
			set, err := kapi.Set(ctx, key, "after-"+tc.name, nil)
			if err != nil {
				t.Fatal(err)
			}
			ev, err = w.Next(ctx)
			if err != nil || ev.Node.ModifiedIndex != set.Node.ModifiedIndex || ev.Node.Value != "after-"+tc.name {
				t.Fatalf("first event after resync = %+v, %v; want the write at %d", ev, err, set.Node.ModifiedIndex)
			}
		})
	}
}

func TestRealFailoverWhenMemberDies(t *testing.T) {
	cluster := etcdtest.Start(t, 3)
	members := cluster.Members()
	urls := make([]string, len(members))
	for i, m := range members {
		urls[i] = m.ClientURL()
	}
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 2 * time.Second}, urls...)
	kapi := NewKeysAPI(c)
	ctx := testCtx(t)
	if _, err := kapi.Set(ctx, "/failover", "before", nil); err != nil {
		t.Fatal(err)
	}

	// Kill the pinned member: reads and writes go on through the others.
	if err := members[0].Kill(); err != nil {
		t.Fatal(err)
	}
	var resp *Response
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Right after the kill the survivors may be electing a leader
		// (500 with errorCode 300); that is a retryable per-call failure.
		resp, err = kapi.Set(ctx, "/failover", "after", nil)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Set after killing the pinned member: %v", err)
	}
	if c.pinned == 0 {
		t.Fatal("still pinned to the dead member")
	}
	resp, err = kapi.Get(ctx, "/failover", &GetOptions{Quorum: true})
	if err != nil || resp.Node.Value != "after" {
		t.Fatalf("Get = %+v, %v", resp, err)
	}

	// With every member dead the error lists each endpoint.
	for _, m := range members[1:] {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	_, err = kapi.Get(ctx, "/failover", nil)
	var cerr *ClusterError
	if !errors.As(err, &cerr) || len(cerr.Errors) != 3 {
		t.Fatalf("error with all members dead = %v, want a ClusterError of 3", err)
	}
	for _, e := range cerr.Errors {
		if !strings.Contains(e.Error(), "connection refused") {
			t.Errorf("cause %q", e)
		}
	}
}

// TestRealLargeRecursiveGet reads an answer of several MiB, which etcd
// sends chunked and the client decodes as it arrives, and checks every key.
func TestRealLargeRecursiveGet(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	const n = 2500
	value := func(i int) string {
		return fmt.Sprintf("%d:%s\"<&>\u00e9\n", i, strings.Repeat("x", 900+i%200))
	}
	setConcurrently(t, n, func(i int) error {
		_, err := kapi.Set(ctx, fmt.Sprintf("%s/d%d/k%04d", p, i%10, i), value(i), nil)
		return err
	})
	resp, err := kapi.Get(ctx, p, &GetOptions{Recursive: true, Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, d := range resp.Node.Nodes {
		for _, k := range d.Nodes {
			var i int
			fmt.Sscanf(k.Key[strings.LastIndex(k.Key, "/k")+2:], "%d", &i)
			if k.Value != value(i) {
				t.Fatalf("%s = %.40q..., want %.40q...", k.Key, k.Value, value(i))
			}
			seen++
		}
	}
	if seen != n || resp.Index == 0 || resp.ClusterID == "" {
		t.Fatalf("got %d keys, index %d, cluster %q", seen, resp.Index, resp.ClusterID)
	}
}
