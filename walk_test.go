package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// walkAll walks key and returns the nodes handed out.
func walkAll(t *testing.T, c Client, key string, opts *WalkOptions) ([]Node, *WalkResult, error) {
	t.Helper()
	var got []Node
	res, err := Walk(testCtx(t), c, key, opts, func(n *Node) error {
		got = append(got, *n)
		return nil
	})
	return got, res, err
}

// sameNodes compares walked nodes with the flattened Get tree. TTLs are
// computed by etcd at answer time, so they may differ by a second between
// two reads; the expiration itself must be the same.
func sameNodes(t *testing.T, got, want []Node) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("walk handed out %d nodes, Get has %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if d := g.TTL - w.TTL; d >= -1 && d <= 1 {
			g.TTL = w.TTL
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("node %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestRealWalkMatchesGet: on a real etcd, a walk hands out exactly the
// nodes of a recursive, sorted Get, in post-order, at the same index.
func TestRealWalkMatchesGet(t *testing.T) {
	m := etcdtest.Shared(t)
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, m.ClientURL())
	kapi := NewKeysAPI(c)
	ctx := testCtx(t)
	p := etcdtest.UniquePrefix(t)

	sets := []struct {
		key, value string
		opts       *SetOptions
	}{
		{"/a/b/c", "1", nil},
		{"/a/b/d", "", nil},
		{"/a/e", "", &SetOptions{Dir: true}},
		{"/a/_hidden", "not listed", nil},
		{"/_hiddendir/x", "not listed either", nil},
		{"/esc/quote\"back\\slash tab\t", "line1\nline2\t<&>\x00\x1f \"q\" \\", nil},
		{"/esc/clé-😀-キー", "données 值 ключ 😀 \u2028", nil},
		{"/ttl", "expires", &SetOptions{TTL: time.Hour}},
		{"/ttldir", "", &SetOptions{Dir: true, TTL: time.Hour}},
		{"/ttldir/k", "in a dir with a TTL", nil},
		{"/z-empty", "", &SetOptions{Dir: true}},
		{"/big", strings.Repeat("0123456789abcdef", 64<<10), nil}, // 1 MiB: larger than the window
	}
	for _, s := range sets {
		if _, err := kapi.Set(ctx, p+s.key, s.value, s.opts); err != nil {
			t.Fatalf("Set %s: %v", s.key, err)
		}
	}

	for _, sorted := range []bool{true, false} {
		t.Run(fmt.Sprintf("sort=%v", sorted), func(t *testing.T) {
			got, res, err := walkAll(t, c, p, &WalkOptions{Sort: sorted})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := kapi.Get(ctx, p, &GetOptions{Recursive: true, Sort: sorted})
			if err != nil {
				t.Fatal(err)
			}
			if res.Index != resp.Index || res.ClusterID != resp.ClusterID || res.Index == 0 {
				t.Fatalf("walk at index %d of cluster %q, Get at %d of %q", res.Index, res.ClusterID, resp.Index, resp.ClusterID)
			}
			if sorted {
				sameNodes(t, got, postOrder(resp.Node, nil))
				return
			}
			// Unsorted: the same set of nodes, each directory after its
			// children.
			seen := map[string]int{}
			for i, n := range got {
				seen[n.Key] = i
			}
			want := postOrder(resp.Node, nil)
			if len(seen) != len(want) {
				t.Fatalf("walk handed out %d distinct keys, Get has %d", len(seen), len(want))
			}
			for _, n := range got {
				if parent := n.Key[:strings.LastIndexByte(n.Key, '/')]; strings.HasPrefix(parent, p) {
					if seen[parent] < seen[n.Key] {
						t.Fatalf("directory %s came before its child %s", parent, n.Key)
					}
				}
			}
		})
	}

	got, _, err := walkAll(t, c, p, &WalkOptions{Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range got {
		if strings.Contains(n.Key, "/_") {
			t.Errorf("hidden key %s listed", n.Key)
		}
		if n.Key == p+"/ttl" && (n.Expiration == nil || n.TTL < 3590) {
			t.Errorf("TTL key without its TTL: %+v", n)
		}
		if n.Key == p+"/z-empty" && (!n.Dir || n.CreatedIndex == 0) {
			t.Errorf("empty directory incomplete: %+v", n)
		}
	}
	if last := got[len(got)-1]; last.Key != p || !last.Dir || last.ModifiedIndex == 0 {
		t.Errorf("last node = %+v, want the complete directory %s", last, p)
	}

	// The iterator form hands out the same nodes.
	snap, err := OpenSnapshot(ctx, c, p, &WalkOptions{Sort: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var iterated []Node
	for n, err := range snap.All() {
		if err != nil {
			t.Fatal(err)
		}
		iterated = append(iterated, *n)
	}
	sameNodes(t, iterated, got)
	for _, err := range snap.All() {
		if err == nil {
			t.Fatal("a second iteration of a Snapshot did not fail")
		}
	}
}

func TestRealWalkSingleKeyAndMissing(t *testing.T) {
	m := etcdtest.Shared(t)
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, m.ClientURL())
	p := etcdtest.UniquePrefix(t)
	if _, err := NewKeysAPI(c).Set(testCtx(t), p+"/k", "v", nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := walkAll(t, c, p+"/k", nil)
	if err != nil || len(got) != 1 || got[0].Key != p+"/k" || got[0].Value != "v" {
		t.Fatalf("walk of one key = %v, %v", got, err)
	}
	_, _, err = walkAll(t, c, p+"/missing", nil)
	if e := wantCode(t, err, ErrorCodeKeyNotFound); e.Index == 0 {
		t.Errorf("KeyNotFound without index: %+v", e)
	}
	if _, err := OpenSnapshot(testCtx(t), c, p+"/missing", &WalkOptions{Prefix: "/v2/keys"}); !IsKeyNotFound(err) {
		t.Fatalf("OpenSnapshot of a missing key: %v", err)
	}
}

// mockClient is a Client that is not made by New.
type mockClient struct{ Client }

func TestWalkNeedsClientFromNew(t *testing.T) {
	_, err := Walk(context.Background(), mockClient{}, "/k", nil, func(*Node) error { return nil })
	if err != ErrWalkUnsupported {
		t.Fatalf("Walk with a mock client: %v", err)
	}
}

func TestWalkRequest(t *testing.T) {
	f := newFakeMember(t, reply(http.StatusOK, okBody))
	c := newTestClient(t, Config{}, f.URL)
	for _, tt := range []struct {
		opts      *WalkOptions
		path, raw string
	}{
		{nil, "/v2/keys/k", "quorum=false&recursive=true&sorted=false"},
		{&WalkOptions{Sort: true, Quorum: true}, "/v2/keys/k", "quorum=true&recursive=true&sorted=true"},
		{&WalkOptions{Prefix: "/custom/keys"}, "/custom/keys/k", "quorum=false&recursive=true&sorted=false"},
	} {
		res, err := Walk(context.Background(), c, "k", tt.opts, func(*Node) error { return nil })
		if err != nil || res.Index != 7 || res.ClusterID != "cafe" {
			t.Fatalf("Walk = %+v, %v", res, err)
		}
		req, _ := f.lastRequest(t)
		if req.Method != http.MethodGet || req.URL.Path != tt.path || req.URL.RawQuery != tt.raw {
			t.Errorf("request %s %s?%s, want GET %s?%s", req.Method, req.URL.Path, req.URL.RawQuery, tt.path, tt.raw)
		}
	}
}

func TestWalkAnswers(t *testing.T) {
	tests := []struct {
		name  string
		h     http.HandlerFunc
		check func(error) bool
	}{
		{"empty body", reply(http.StatusOK, ""), func(err error) bool { return err == ErrEmptyBody }},
		{"invalid JSON", reply(http.StatusOK, `{"action":"get","node":{"key":5}}`), func(err error) bool {
			return errors.Is(err, ErrInvalidJSON) && strings.Contains(err.Error(), "offset 30")
		}},
		{"truncated JSON", reply(http.StatusOK, `{"action":"get","node":{"key":"/k"`), func(err error) bool {
			return errors.Is(err, ErrInvalidJSON) && strings.Contains(err.Error(), "unexpected end of JSON input")
		}},
		{"key not found", reply(http.StatusNotFound, `{"errorCode":100,"message":"Key not found","cause":"/k","index":7}`), func(err error) bool {
			return err == Error{Code: 100, Message: "Key not found", Cause: "/k", Index: 7}
		}},
		{"error answer not JSON", reply(http.StatusBadRequest, `<html>`), func(err error) bool { return err == ErrInvalidJSON }},
		{"bad index header", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Etcd-Index", "x")
			w.Write([]byte(okBody))
		}, func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			f := newFakeMember(t, tt.h)
			c := newTestClient(t, Config{}, f.URL)
			n := 0
			_, err := Walk(context.Background(), c, "/k", nil, func(*Node) error { n++; return nil })
			if !tt.check(err) {
				t.Fatalf("error = %T %v", err, err)
			}
		})
	}
}

// streamingMember answers a recursive GET with many nodes, flushing them,
// and then, if hold is set, waits (a body never finished) until the client
// goes away; it reports on gone when the request's connection was closed.
func streamingMember(t *testing.T, nodes int, hold bool, gone chan<- struct{}) *fakeMember {
	f := newFakeMember(t, nil)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Etcd-Index", "42")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"action":"get","node":{"key":"/d","dir":true,"nodes":[`)
		for i := 0; i < nodes; i++ {
			fmt.Fprintf(w, `{"key":"/d/k%d","value":"%s","modifiedIndex":%d,"createdIndex":%d},`, i, strings.Repeat("v", 100), i+1, i+1)
		}
		w.(http.Flusher).Flush()
		if hold {
			select {
			case <-r.Context().Done():
				gone <- struct{}{}
			case <-f.release:
			}
			return
		}
		io.WriteString(w, `{"key":"/d/last"}],"modifiedIndex":1,"createdIndex":1}}`)
	})
	return f
}

func TestWalkBodyCutMidway(t *testing.T) {
	checkGoroutines(t)
	f := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/a","value":"1"},`)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	})
	c := newTestClient(t, Config{}, f.URL)
	n := 0
	res, err := Walk(context.Background(), c, "/d", nil, func(*Node) error { n++; return nil })
	if err == nil || res != nil {
		t.Fatalf("a cut body gave %+v, %v, want an error", res, err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), f.URL) {
		t.Fatalf("error = %v, want io.ErrUnexpectedEOF naming the endpoint", err)
	}
	if n != 1 {
		t.Fatalf("%d nodes before the cut, want 1", n)
	}

	snap, err := OpenSnapshot(context.Background(), c, "/d", nil)
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for _, err := range snap.All() {
		last = err
	}
	if !errors.Is(last, io.ErrUnexpectedEOF) {
		t.Fatalf("iteration over a cut body ended with %v", last)
	}
}

func TestWalkStalledBody(t *testing.T) {
	checkGoroutines(t)
	f := newFakeMember(t, nil)
	f.setHandler(f.stallAfterHeaders())
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 100 * time.Millisecond}, f.URL)
	start := time.Now()
	_, err := Walk(context.Background(), c, "/d", nil, func(*Node) error { return nil })
	if !errors.Is(err, ErrResponseStalled) {
		t.Fatalf("error = %v, want ErrResponseStalled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a stalled body took %v to fail with a 100ms idle timeout", d)
	}
}

// TestCallerTimeIsNotAStall: the idle timeout bounds how long a read
// waits for the server, not the caller's own time between two reads: a
// Walk callback slower than the timeout, and a Snapshot read only well
// after OpenSnapshot returned (as v2keys migrate opens its next piece while
// it copies the current one), still read the whole answer.
func TestCallerTimeIsNotAStall(t *testing.T) {
	const idle = 100 * time.Millisecond
	const want = 20000 + 2 // the keys, /d/last and /d
	reads := []struct {
		name string
		read func(c Client) (int, error)
	}{
		{"slow Walk callback", func(c Client) (int, error) {
			n := 0
			_, err := Walk(context.Background(), c, "/d", nil, func(*Node) error {
				if n++; n == 100 {
					time.Sleep(4 * idle)
				}
				return nil
			})
			return n, err
		}},
		{"Snapshot read later", func(c Client) (int, error) {
			s, err := OpenSnapshot(context.Background(), c, "/d", nil)
			if err != nil {
				return 0, err
			}
			defer s.Close()
			time.Sleep(4 * idle)
			n := 0
			for _, err := range s.All() {
				if err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		}},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			f := streamingMember(t, 20000, false, nil)
			c := newTestClient(t, Config{HeaderTimeoutPerRequest: idle}, f.URL)
			n, err := tt.read(c)
			if err != nil || n != want {
				t.Fatalf("read %d nodes, error %v; want %d nodes and no error", n, err, want)
			}
		})
	}
}

func TestWalkCancelMidway(t *testing.T) {
	checkGoroutines(t)
	gone := make(chan struct{}, 1)
	f := streamingMember(t, 2000, true, gone)
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, f.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_, err := Walk(ctx, c, "/d", nil, func(*Node) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if err != context.Canceled {
		t.Fatalf("error = %T %v, want context.Canceled itself", err, err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not released after the cancel")
	}
}

func TestWalkCallbackError(t *testing.T) {
	checkGoroutines(t)
	gone := make(chan struct{}, 1)
	f := streamingMember(t, 2000, true, gone)
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 10 * time.Second}, f.URL)
	errStop := errors.New("enough")
	n := 0
	_, err := Walk(context.Background(), c, "/d", nil, func(*Node) error {
		if n++; n == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop || n != 3 {
		t.Fatalf("Walk = %v after %d nodes, want the callback's error after 3", err, n)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the body was not closed after the callback failed")
	}

	// Breaking out of the iteration closes the body too.
	snap, err := OpenSnapshot(context.Background(), c, "/d", nil)
	if err != nil || snap.Index != 42 {
		t.Fatalf("OpenSnapshot = %+v, %v", snap, err)
	}
	for n, err := range snap.All() {
		if err != nil || n.Key != "/d/k0" {
			t.Fatalf("first node %v, %v", n, err)
		}
		break
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the body was not closed after a break")
	}
	snap.Close()
}

func TestWalkClientClosed(t *testing.T) {
	checkGoroutines(t)
	gone := make(chan struct{}, 1)
	f := streamingMember(t, 100, true, gone)
	c := newTestClient(t, Config{}, f.URL)
	_, err := Walk(context.Background(), c, "/d", nil, func(n *Node) error {
		if n.Key == "/d/k0" {
			c.Close()
		}
		return nil
	})
	if err != ErrClientClosed {
		t.Fatalf("error = %v, want ErrClientClosed", err)
	}
	<-gone
}

func TestWalkCompleteStream(t *testing.T) {
	f := streamingMember(t, 5000, false, nil)
	c := newTestClient(t, Config{}, f.URL)
	got, res, err := walkAll(t, c, "/d", nil)
	if err != nil || res.Index != 42 || len(got) != 5002 {
		t.Fatalf("Walk = %d nodes, %+v, %v", len(got), res, err)
	}
	if got[0].Key != "/d/k0" || got[5000].Key != "/d/last" || got[5001].Key != "/d" || got[5001].CreatedIndex != 1 {
		t.Fatalf("order: first %v, before last %v, last %v", got[0], got[5000], got[5001])
	}
}
