package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	"github.com/v2keys/client/onv3"
)

// tree renders a recursive, sorted Get as lines "key dir|value ttl", for
// comparing v2 with its copy read through onv3.
func tree(t *testing.T, k client.KeysAPI, key string) string {
	t.Helper()
	r, err := k.Get(context.Background(), key, &client.GetOptions{Recursive: true, Sort: true, Quorum: true})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	var b strings.Builder
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		fmt.Fprintf(&b, "%s dir=%v %q ttl=%v\n", n.Key, n.Dir, n.Value, n.TTL > 0)
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(r.Node)
	return b.String()
}

// TestMigrateLayoutThroughOnV3: what migrate copies, and what its follow
// applies, reads through onv3 exactly as the tree reads in v2: empty
// directories, directory TTLs, directories created implicitly, deletes of
// directories; and verify counts the markers.
func TestMigrateLayoutThroughOnV3(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	k := newV2(t, ep)
	cli := newV3(t, ep)
	ctx := context.Background()
	src := etcdtest.UniquePrefix(t) + "/src"
	for _, s := range []struct {
		key  string
		opts *client.SetOptions
	}{
		{src + "/empty", &client.SetOptions{Dir: true}},
		{src + "/ttldir", &client.SetOptions{Dir: true, TTL: 300 * time.Second}},
		{src + "/ttldir/child", nil},
		{src + "/a/b/c", nil},
		{src + "/file", &client.SetOptions{TTL: 300 * time.Second}},
	} {
		if _, err := k.Set(ctx, s.key, "v", s.opts); err != nil {
			t.Fatal(err)
		}
	}
	prefix := "/lay" + strings.ReplaceAll(etcdtest.UniquePrefix(t), "/", "_")
	on := onv3.NewKeysAPI(cli, prefix)
	v2keys(t, ep, 0, "migrate", "--prefix", prefix, src)
	if a, b := tree(t, k, src), tree(t, on, src); a != b {
		t.Fatalf("after the copy, v2:\n%s\nthrough onv3:\n%s", a, b)
	}
	if r := v2keys(t, ep, 0, "migrate", "--verify", "--prefix", prefix, src); !strings.Contains(r.stdout, "3 keys, 5 directories") || !strings.Contains(r.stdout, ": 0 missing, 0 extra") {
		t.Errorf("verify: %s", r.stdout)
	}

	bg := startCmd(t, "--endpoints", ep, "migrate", "--follow", "--prefix", prefix+"f", src)
	onf := onv3.NewKeysAPI(cli, prefix+"f")
	stateKey := defaultStateKey(target{subtree: src, prefix: prefix + "f"})
	waitFor(t, 60*time.Second, "the copy to finish", func() bool {
		st := readState(t, cli, stateKey)
		return st != nil && st.Phase == phaseFollow
	})
	for _, step := range []func() error{
		func() error { _, err := k.Set(ctx, src+"/newdir", "", &client.SetOptions{Dir: true}); return err },
		func() error { _, err := k.Set(ctx, src+"/x/y/z", "deep", nil); return err },
		func() error { _, err := k.Delete(ctx, src+"/a", &client.DeleteOptions{Recursive: true}); return err },
		func() error { _, err := k.Delete(ctx, src+"/x/y/z", nil); return err }, // leaves /x/y empty
		func() error { _, err := k.Set(ctx, src+"/file", "", &client.SetOptions{Dir: true}); return err },
		func() error { _, err := k.Set(ctx, src+"/marker", "done", nil); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	catchUp(t, k, cli, src+"/marker", prefix+"f"+src+"/marker")
	if code := bg.stop(t); code != 0 {
		t.Fatalf("follow exited %d: %s", code, bg.stderr.String())
	}
	if a, b := tree(t, k, src), tree(t, onf, src); a != b {
		t.Fatalf("after the follow, v2:\n%s\nthrough onv3:\n%s", a, b)
	}
	if r := runCmd(t, "", "--endpoints", ep, "migrate", "--verify", "--prefix", prefix+"f", src); r.code != 0 {
		t.Errorf("verify after follow: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
