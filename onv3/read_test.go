package onv3

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The read paths (Get: one transaction whose compares check the
// directories' markers; writes: single-key reads, and the orphans of a
// missing directory only when one is to be created) against state that
// native v2 cannot be put in on demand: orphans, keys below a directory
// whose marker is gone, as a directory's expiry leaves them. The state is
// written with raw v3 puts in onv3's layout; the expected answers are
// those of v2 after the directory's expiry: the orphans are gone.

// orphanTree is the layout written before each case: /a is a directory
// whose child directory /a/d lost its marker (expired), leaving the file
// /a/d/x, the directory /a/d/sub with /a/d/sub/y, and an action record
// below it; /t/x is a file below a top-level directory /t without marker;
// /a/f is a file, /a/_h a hidden file.
func orphanTree(t *testing.T, c *clientv3.Client, l Layout) {
	t.Helper()
	ops := []clientv3.Op{
		clientv3.OpPut(l.DirKey("/a"), ""),
		clientv3.OpPut(l.FileKey("/a/d/x"), "orphan x"),
		clientv3.OpPut(l.DirKey("/a/d/sub"), ""),
		clientv3.OpPut(l.FileKey("/a/d/sub/y"), "orphan y"),
		clientv3.OpPut(l.RecordKey("/a/d/x"), actionSet),
		clientv3.OpPut(l.FileKey("/t/x"), "orphan t"),
		clientv3.OpPut(l.FileKey("/a/f"), "file"),
		clientv3.OpPut(l.FileKey("/a/_h"), "hidden"),
	}
	if _, err := c.Txn(testCtx(t)).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
}

// check is what one step must answer.
type check func(r *client.Response, err error) error

func wantErr(code int, cause string) check {
	return func(r *client.Response, err error) error {
		var e client.Error
		if !errors.As(err, &e) || e.Code != code || e.Cause != cause {
			return fmt.Errorf("got %v (%+v), want error %d naming %s", err, r, code, cause)
		}
		return nil
	}
}

func wantOK(r *client.Response, err error) error { return err }

// wantTree checks a recursive Get's listing: the keys of every node below
// the answer's node, sorted, directories with a trailing "/".
func wantTree(keys ...string) check {
	return func(r *client.Response, err error) error {
		if err != nil {
			return err
		}
		var got []string
		var walk func(ns client.Nodes)
		walk = func(ns client.Nodes) {
			for _, n := range ns {
				if n.Dir {
					got = append(got, n.Key+"/")
				} else {
					got = append(got, n.Key)
				}
				walk(n.Nodes)
			}
		}
		walk(r.Node.Nodes)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(keys, " ") {
			return fmt.Errorf("tree below %s: %v, want %v", r.Node.Key, got, keys)
		}
		return nil
	}
}

// wantNode checks the answer's node: its key, whether it is a directory,
// its value.
func wantNode(key string, dir bool, value string) check {
	return func(r *client.Response, err error) error {
		if err != nil {
			return err
		}
		if r.Node.Key != key || r.Node.Dir != dir || r.Node.Value != value {
			return fmt.Errorf("node %q dir=%v value %q, want %q dir=%v value %q", r.Node.Key, r.Node.Dir, r.Node.Value, key, dir, value)
		}
		return nil
	}
}

type rstep struct {
	name  string
	do    func(ctx context.Context, k client.KeysAPI) (*client.Response, error)
	check check
}

func rget(key string, o *client.GetOptions, c check) rstep {
	return rstep{"get " + key, func(ctx context.Context, k client.KeysAPI) (*client.Response, error) { return k.Get(ctx, key, o) }, c}
}

func rset(key, value string, o *client.SetOptions, c check) rstep {
	return rstep{fmt.Sprintf("set %s %+v", key, o), func(ctx context.Context, k client.KeysAPI) (*client.Response, error) {
		return k.Set(ctx, key, value, o)
	}, c}
}

var recursive = &client.GetOptions{Recursive: true, Quorum: true}

func TestReadPathOrphans(t *testing.T) {
	dir := &client.SetOptions{Dir: true}
	cases := []struct {
		name  string
		steps []rstep
	}{
		{"get below a missing marker", []rstep{
			rget("/a/d/x", nil, wantErr(client.ErrorCodeKeyNotFound, "/a/d")),
			rget("/a/d/x", &client.GetOptions{Quorum: true}, wantErr(client.ErrorCodeKeyNotFound, "/a/d")),
			rget("/a/d/sub/y", nil, wantErr(client.ErrorCodeKeyNotFound, "/a/d")),
			rget("/a/d/sub", nil, wantErr(client.ErrorCodeKeyNotFound, "/a/d")),
			rget("/a/d", nil, wantErr(client.ErrorCodeKeyNotFound, "/a/d")),
			rget("/t/x", nil, wantErr(client.ErrorCodeKeyNotFound, "/t")),
			rget("/t", nil, wantErr(client.ErrorCodeKeyNotFound, "/t")),
			rget("/a", recursive, wantTree("/a/f")),
			rget("/a", nil, wantTree("/a/f")),
			rget("/a/_h", nil, wantNode("/a/_h", false, "hidden")),
		}},
		{"a file in the way", []rstep{
			rget("/a/f/x", nil, wantErr(client.ErrorCodeNotDir, "/a/f")),
			rget("/a/f/x/y", &client.GetOptions{Quorum: true}, wantErr(client.ErrorCodeNotDir, "/a/f")),
			rset("/a/f/x", "v", nil, wantErr(client.ErrorCodeNotDir, "/a/f")),
			rset("/a/f/x/y", "v", &client.SetOptions{PrevExist: client.PrevNoExist}, wantErr(client.ErrorCodeNotDir, "/a/f")),
			rset("/a/f/x", "", dir, wantErr(client.ErrorCodeNotDir, "/a/f")),
		}},
		{"writes that create nothing", []rstep{
			rset("/a/d/x", "v", &client.SetOptions{PrevExist: client.PrevExist}, wantErr(client.ErrorCodeKeyNotFound, "/a/d")),
			rset("/a/d/x", "v", &client.SetOptions{PrevValue: "orphan x"}, wantErr(client.ErrorCodeKeyNotFound, "/a/d")),
			{"delete /a/d/x", func(ctx context.Context, k client.KeysAPI) (*client.Response, error) {
				return k.Delete(ctx, "/a/d/x", nil)
			}, wantErr(client.ErrorCodeKeyNotFound, "/a/d")},
			{"delete /a/d dir", func(ctx context.Context, k client.KeysAPI) (*client.Response, error) {
				return k.Delete(ctx, "/a/d", &client.DeleteOptions{Dir: true})
			}, wantErr(client.ErrorCodeKeyNotFound, "/a/d")},
			rget("/a", recursive, wantTree("/a/f")),
		}},
		{"a key below the missing directory reaps it", []rstep{
			rset("/a/d/sub/z", "new", nil, wantNode("/a/d/sub/z", false, "new")),
			rget("/a/d", recursive, wantTree("/a/d/sub/", "/a/d/sub/z")),
			rget("/a/d/x", nil, wantErr(client.ErrorCodeKeyNotFound, "/a/d/x")),
			rget("/a/d/sub/y", nil, wantErr(client.ErrorCodeKeyNotFound, "/a/d/sub/y")),
		}},
		{"a top-level directory without marker is reaped", []rstep{
			rset("/t/y", "new", &client.SetOptions{PrevExist: client.PrevNoExist}, wantOK),
			rget("/t", recursive, wantTree("/t/y")),
		}},
		{"a directory made where one expired is empty", []rstep{
			rset("/a/d", "", dir, wantNode("/a/d", true, "")),
			rget("/a/d", recursive, wantTree()),
		}},
		{"a directory created where one expired is empty", []rstep{
			rset("/a/d", "", &client.SetOptions{Dir: true, PrevExist: client.PrevNoExist}, wantNode("/a/d", true, "")),
			rget("/a/d", recursive, wantTree()),
		}},
		{"a file where a directory expired, then a directory again", []rstep{
			rset("/a/d", "file", nil, wantNode("/a/d", false, "file")),
			rget("/a/d", nil, wantNode("/a/d", false, "file")),
			rget("/a/d/x", nil, wantErr(client.ErrorCodeNotDir, "/a/d")),
			rset("/a/d", "", dir, wantNode("/a/d", true, "")),
			rget("/a/d", recursive, wantTree()),
		}},
		{"in order where a directory expired", []rstep{
			{"inorder /a/d", func(ctx context.Context, k client.KeysAPI) (*client.Response, error) {
				return k.CreateInOrder(ctx, "/a/d", "q", nil)
			}, wantOK},
			{"one child", func(ctx context.Context, k client.KeysAPI) (*client.Response, error) {
				r, err := k.Get(ctx, "/a/d", recursive)
				if err == nil && (len(r.Node.Nodes) != 1 || r.Node.Nodes[0].Value != "q") {
					err = fmt.Errorf("/a/d holds %v, want the one in-order key", r.Node.Nodes)
				}
				return r, err
			}, wantOK},
		}},
		{"the root", []rstep{
			rget("/", recursive, wantTree("/a/", "/a/f")),
			rset("/", "v", nil, wantErr(client.ErrorCodeRootROnly, "/")),
			rset("/", "", dir, wantErr(client.ErrorCodeRootROnly, "/")),
			{"delete /", func(ctx context.Context, k client.KeysAPI) (*client.Response, error) {
				return k.Delete(ctx, "/", &client.DeleteOptions{Recursive: true})
			}, wantErr(client.ErrorCodeRootROnly, "/")},
			{"inorder /", func(ctx context.Context, k client.KeysAPI) (*client.Response, error) {
				return k.CreateInOrder(ctx, "/", "q", nil)
			}, wantOK},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, c, prefix := newOnV3(t)
			orphanTree(t, c, Layout{Prefix: prefix})
			ctx := testCtx(t)
			for i, s := range tc.steps {
				r, err := s.do(ctx, k)
				if cerr := s.check(r, err); cerr != nil {
					t.Fatalf("step %d (%s): %v", i, s.name, cerr)
				}
			}
		})
	}
}

// TestReadPathExpiredDir: the same through a real expiry: a key below a
// directory whose TTL ran out is 100 naming the directory, for a Get with
// and without Quorum, while its sibling directory's keys stay readable.
func TestReadPathExpiredDir(t *testing.T) {
	k, _, _ := newOnV3(t)
	ctx := testCtx(t)
	if _, err := k.Set(ctx, "/x/ttl", "", &client.SetOptions{Dir: true, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"/x/ttl/deep/k", "/x/stay/k"} {
		if _, err := k.Set(ctx, key, "v", nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := k.Get(ctx, "/x/ttl/deep/k", &client.GetOptions{Quorum: true})
		if client.IsKeyNotFound(err) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("/x/ttl/deep/k before expiry or after 30 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, o := range []*client.GetOptions{nil, {Quorum: true}, {Recursive: true}} {
		if err := wantErr(client.ErrorCodeKeyNotFound, "/x/ttl")(k.Get(ctx, "/x/ttl/deep/k", o)); err != nil {
			t.Errorf("get %+v: %v", o, err)
		}
	}
	if err := wantTree("/x/stay/", "/x/stay/k")(k.Get(ctx, "/x", recursive)); err != nil {
		t.Error(err)
	}
}

// TestInOrderAfterLargerNames: CreateInOrder reads only the names above the
// current revision, not the whole queue; a name greater than the revision
// (as `migrate` copies v2's indexes, or a plain v3 client writes) is still
// passed, and names stay in creation order after it.
func TestInOrderAfterLargerNames(t *testing.T) {
	k, c, prefix := newOnV3(t)
	ctx := testCtx(t)
	l := Layout{Prefix: prefix}
	for i := range 50 {
		if _, err := k.CreateInOrder(ctx, "/q", "early", nil); err != nil {
			t.Fatalf("in-order %d: %v", i, err)
		}
	}
	big := fmt.Sprintf("/q/%020d", int64(1e15))
	if _, err := c.Put(ctx, l.FileKey(big), "migrated"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, l.FileKey(big+"x/deeper"), "not a name of its own"); err != nil {
		t.Fatal(err)
	}
	var last string
	for i := range 3 {
		r, err := k.CreateInOrder(ctx, "/q", "late", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Node.Key <= big || r.Node.Key <= last {
			t.Fatalf("in-order %d: %s, want after %s and %s", i, r.Node.Key, big, last)
		}
		last = r.Node.Key
	}
	if want := fmt.Sprintf("/q/%020d", int64(1e15)+3); last != want {
		t.Fatalf("third name after %s: %s, want %s", big, last, want)
	}
}
