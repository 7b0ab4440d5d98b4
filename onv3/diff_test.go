package onv3

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/v2keys/client"
)

// TestDifferential runs each scenario against native v2 and onv3 and
// requires equal normalised transcripts.
func TestDifferential(t *testing.T) {
	recursive := &client.GetOptions{Recursive: true, Sort: true}
	scenarios := []struct {
		name  string
		steps []step
	}{
		{"get of missing keys names the first missing element", []step{
			get("/nodir/deep/key", nil),
			set("/a/b", "1", nil),
			get("/a/x/y", nil),
			get("/a/b/c", nil), // a file in the way: 104
		}},
		{"set, create, update, get", []step{
			set("/k", "v1", nil),
			get("/k", nil),
			create("/k", "v2"),
			update("/k", "v3"),
			update("/missing", "x"),
			create("/c", "new"),
			get("/k", &client.GetOptions{Quorum: true}),
		}},
		{"plain set over a key keeps its value semantics", []step{
			set("/k", "v1", nil),
			noCreated(set("/k", "v2", nil)),
			noCreated(get("/k", nil)),
		}},
		{"compare and swap", []step{
			set("/k", "v1", nil),
			set("/k", "v2", &client.SetOptions{PrevValue: "v1"}),
			set("/k", "v3", &client.SetOptions{PrevValue: "nope"}),
			casIndexOf("/k", "v4", 1),
			casIndexOf("/k", "v5", 1),
			set("/k", "v6", &client.SetOptions{PrevValue: "wrong", PrevIndex: 1}),
			set("/missing", "v", &client.SetOptions{PrevValue: "x"}),
			set("/k", "v7", &client.SetOptions{PrevExist: client.PrevExist, PrevValue: "v4"}),
			set("/k2", "v", &client.SetOptions{PrevExist: client.PrevNoExist, PrevValue: "ignored"}),
			get("/", recursive),
		}},
		{"compare and delete", []step{
			set("/k", "v1", nil),
			del("/k", &client.DeleteOptions{PrevValue: "no"}),
			cadIndexOf("/k", 0),
			get("/k", nil),
			set("/d/x", "1", nil),
			del("/d", &client.DeleteOptions{PrevValue: "x"}),
			del("/d", &client.DeleteOptions{PrevIndex: 1}),
		}},
		{"directories", []step{
			set("/d", "", &client.SetOptions{Dir: true}),
			set("/d", "", &client.SetOptions{Dir: true}),                                // 102
			set("/d", "", &client.SetOptions{Dir: true, PrevExist: client.PrevNoExist}), // 105
			set("/d", "v", nil), // 102
			set("/d", "v", &client.SetOptions{PrevValue: "x"}), // 102
			set("/d", "v", &client.SetOptions{PrevIndex: 3}),   // 102
			update("/d", "v"), // 102
			set("/d", "", &client.SetOptions{Dir: true, PrevExist: client.PrevExist}),
			set("/d/e/f", "deep", nil),
			get("/d", nil),
			get("/d", recursive),
			del("/d", nil),                              // 102
			del("/d", &client.DeleteOptions{Dir: true}), // 108
			del("/d/e/f", nil),
			get("/d/e", nil), // stays, empty
			del("/d/e", &client.DeleteOptions{Dir: true}),
			get("/d", recursive),
			set("/file", "v", nil),
			noCreated(set("/file", "", &client.SetOptions{Dir: true})), // replaces the file
			get("/file", nil),
		}},
		{"recursive delete stays inside its subtree", []step{
			set("/foo/x", "1", nil),
			set("/foobar/x", "2", nil),
			set("/foo-1", "3", nil),
			get("/foo", recursive),
			del("/foo", &client.DeleteOptions{Recursive: true}),
			get("/foobar/x", nil),
			get("/foo-1", nil),
			get("/", recursive),
		}},
		{"recursive and dir delete of a plain file", []step{
			set("/f", "1", nil),
			del("/f", &client.DeleteOptions{Recursive: true}),
			set("/g", "1", nil),
			del("/g", &client.DeleteOptions{Dir: true}),
			get("/", recursive),
		}},
		{"hidden keys", []step{
			set("/h/_hidden", "secret", nil),
			set("/h/shown", "v", nil),
			set("/h/_hdir/x", "v", nil),
			get("/h", nil),
			get("/h", recursive),
			get("/h/_hidden", nil),
			get("/h/_hdir", recursive),
			del("/h", &client.DeleteOptions{Dir: true}),
		}},
		{"files in the way", []step{
			set("/f", "1", nil),
			set("/f/x", "2", nil),
			create("/f/x", "2"),
			set("/f/x/y", "2", &client.SetOptions{Dir: true}),
			update("/f/x", "2"),
			del("/f/x", nil),
			get("/f/x", nil),
		}},
		{"root is read only", []step{
			set("/", "v", nil),
			del("/", &client.DeleteOptions{Recursive: true}),
		}},
		{"no value on success", []step{
			set("/k", "v", &client.SetOptions{NoValueOnSuccess: true}),
			set("/k", "v2", &client.SetOptions{NoValueOnSuccess: true, PrevValue: "v"}),
			set("/k", "v3", &client.SetOptions{NoValueOnSuccess: true, PrevValue: "nope"}),
		}},
		{"refresh errors", []step{
			set("/k", "v", &client.SetOptions{Refresh: true, TTL: 10e9}),
			set("/k", "", &client.SetOptions{Refresh: true}),
			set("/missing", "", &client.SetOptions{Refresh: true, TTL: 10e9, PrevExist: client.PrevExist}),
		}},
		{"ttl", []step{
			set("/t", "v", &client.SetOptions{TTL: 100e9}),
			get("/t", nil),
			update("/t", "v2"), // drops the TTL
			get("/t", nil),
			set("/t", "", &client.SetOptions{Refresh: true, TTL: 50e9, PrevExist: client.PrevExist}),
			get("/t", nil),
			set("/td", "", &client.SetOptions{Dir: true, TTL: 100e9}),
			set("/td/x", "in", nil),
			get("/td", recursive),
		}},
		{"special characters and unclean paths", []step{
			set("/sp ace/ü%3F?x#y", "v 1", nil),
			get("/sp ace", &client.GetOptions{Recursive: true}),
			set("/a//b/../c/", "clean", nil),
			get("/a/c", nil),
			get("/a/./c", nil),
			set("/a/c", "swap", &client.SetOptions{PrevValue: "clean"}),
			del("/sp ace/ü%3F?x#y", &client.DeleteOptions{PrevValue: "v 1"}),
		}},
		{"sorted listing", []step{
			set("/s/b", "2", nil),
			set("/s/a", "1", nil),
			set("/s/a-x", "3", nil),
			set("/s/a/y", "4", nil),
			get("/s", &client.GetOptions{Sort: true}),
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { differential(t, sc.steps) })
	}
}

// TestDifferentialRoot: the root is read without a key and without
// indexes, as v2 answers it (its children differ: other tests write there).
func TestDifferentialRoot(t *testing.T) {
	ctx := testCtx(t)
	k, _, _ := newOnV3(t)
	for name, api := range map[string]client.KeysAPI{"v2": newNativeV2(t), "onv3": k} {
		if _, err := api.Set(ctx, "/rootchild", "v", nil); err != nil {
			t.Fatal(err)
		}
		r, err := api.Get(ctx, "/", &client.GetOptions{Sort: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.Node.Key != "" || !r.Node.Dir || r.Node.CreatedIndex != 0 || r.Node.ModifiedIndex != 0 || len(r.Node.Nodes) == 0 {
			t.Errorf("%s: root %+v", name, r.Node)
		}
	}
}

// TestDifferentialInOrder compares CreateInOrder with v2: names are 20
// digits, in creation order, the answer names the child, the directory is
// created with it, and a file in the way is an error.
func TestDifferentialInOrder(t *testing.T) {
	inOrder := func(dir, v string) step {
		return step{name: "inorder " + dir, do: func(ctx context.Context, e *env) (*client.Response, error) {
			r, err := e.k.CreateInOrder(ctx, e.key(dir), v, nil)
			if err == nil {
				// Names differ in value (indexes), not in form.
				name := strings.TrimPrefix(r.Node.Key, e.key(dir)+"/")
				if len(name) != 20 || strings.Trim(name, "0123456789") != "" {
					return nil, fmt.Errorf("bad in-order name %q", r.Node.Key)
				}
				if r.Node.Key <= e.lastInOrder {
					return nil, fmt.Errorf("in-order name %q not after %q", r.Node.Key, e.lastInOrder)
				}
				e.lastInOrder = r.Node.Key
			}
			return r, err
		}}
	}
	differential(t, []step{
		inOrder("/q", "first"),
		inOrder("/q", "second"),
		inOrder("/q", "third"),
		get("/q", &client.GetOptions{Sort: true}),
		set("/f", "file", nil),
		inOrder("/f", "x"),
	})
}
