package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// v3Entry is a v3 key's value and whether it has a lease.
type v3Entry struct {
	value string
	lease bool
}

// v3Range reads every key starting with prefix.
func v3Range(t *testing.T, cli *clientv3.Client, prefix string) map[string]v3Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v3Entry{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = v3Entry{string(kv.Value), kv.Lease != 0}
	}
	return out
}

// v2Files returns the files below key (recursive, quorum read).
func v2Files(t *testing.T, k client.KeysAPI, key string) []*client.Node {
	t.Helper()
	resp, err := k.Get(context.Background(), key, &client.GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []*client.Node
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		if !n.Dir {
			out = append(out, n)
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	return out
}

// interruptAfter returns a testHookCopied that cancels the run once n keys
// are queued and some are written (the range under v3prefix is not
// empty): on an interruption, the Txns in flight finish and the batches
// still queued are dropped.
func interruptAfter(t *testing.T, cli *clientv3.Client, v3prefix string, n int64, cancel func()) func(int64) {
	return func(queued int64) {
		if queued < n {
			return
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := cli.Get(context.Background(), v3prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err == nil && resp.Count > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}
}

// TestMigrateResumeCopy: a copy interrupted midway (from a v2 member into
// a v3 member of the matrix's v3 version) is resumed by the next run,
// which writes exactly the keys the first one did not write, or wrote and
// v2 changed since (keys with a TTL always get a lease of the new run),
// deletes what v2 deleted between the runs, and leaves a target that
// verifies clean.
func TestMigrateResumeCopy(t *testing.T) {
	srcEP := etcdtest.Shared(t).ClientURL()
	dst := etcdtest.SharedV3(t)
	dstEP := dst.ClientURL()
	t.Logf("v3 target: etcd %s", dst.Version())
	k := newV2(t, srcEP)
	cli := newV3(t, dstEP)
	src := etcdtest.UniquePrefix(t) + "/src"
	fill(t, k, src, 3000)
	const prefix = "/resc"
	stateKey := defaultStateKey(target{subtree: src, prefix: prefix})
	args := []string{"--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--prefix", prefix, src}

	// Interrupted after 1000 keys were queued.
	ctx, cancel := context.WithCancel(context.Background())
	testHookCopied = interruptAfter(t, cli, prefix+src+"/", 1000, cancel)
	var out, errb syncBuffer
	code := runContext(ctx, args, strings.NewReader(""), &out, &errb)
	testHookCopied = nil
	cancel()
	if code != ExitServerError || !strings.Contains(errb.String(), "interrupted before the copy finished; run the same command again to resume it") {
		t.Fatalf("interrupted copy: exit %d, stderr %q", code, errb.String())
	}
	st := readState(t, cli, stateKey)
	if st == nil || st.Phase != phaseCopy || st.CopyRevision == 0 {
		t.Fatalf("state after an interrupted copy: %+v", st)
	}
	first := v3Range(t, cli, prefix+src+"/")
	files := 0
	for key := range first {
		if !strings.HasSuffix(key, "/") {
			files++
		}
	}
	if files == 0 || files >= 3000 {
		t.Fatalf("the interrupted copy wrote %d of 3000 keys", files)
	}

	// Changes between the runs: a directory deleted, a copied key changed,
	// another deleted, a key added.
	bg := context.Background()
	if _, err := k.Delete(bg, src+"/d03", &client.DeleteOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	var changed, deleted string
	for key, e := range first {
		if strings.HasSuffix(key, "/") || e.lease || strings.HasPrefix(key, prefix+src+"/d03/") {
			continue
		}
		if changed == "" {
			changed = strings.TrimPrefix(key, prefix)
		} else if deleted == "" {
			deleted = strings.TrimPrefix(key, prefix)
		}
	}
	if _, err := k.Set(bg, changed, "changed between the runs", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Delete(bg, deleted, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Set(bg, src+"/new/x", "added between the runs", nil); err != nil {
		t.Fatal(err)
	}

	// What the resumed copy must write: every file v3 lacks or holds
	// otherwise, and every file with a TTL.
	want := 0
	for _, n := range v2Files(t, k, src) {
		e, ok := first[prefix+n.Key]
		if n.Expiration != nil || !ok || e.lease || e.value != n.Value {
			want++
		}
	}
	r := runCmd(t, "", args...)
	if r.code != 0 {
		t.Fatalf("resumed copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("resumed: %s", strings.TrimSpace(r.stdout))
	if !strings.Contains(r.stderr, "resuming the copy of a previous run") {
		t.Errorf("resumed run said %q", r.stderr)
	}
	if w := fmt.Sprintf(": %d keys written", want); !strings.Contains(r.stdout, w) || !strings.Contains(r.stdout, "kept from the interrupted copy") {
		t.Errorf("resumed summary %q, want %q and the kept count", r.stdout, w)
	}
	if st := readState(t, cli, stateKey); st == nil || st.Phase != phaseFollow || st.CopyRevision != 0 {
		t.Errorf("state after the resumed copy: %+v", st)
	}
	got := v3Range(t, cli, prefix+src+"/")
	for _, key := range []string{prefix + deleted, prefix + src + "/d03/", prefix + src + "/d03/k00003"} {
		if _, ok := got[key]; ok {
			t.Errorf("v3 still has %s, deleted in v2 between the runs", key)
		}
	}
	if got[prefix+changed].value != "changed between the runs" || got[prefix+src+"/new/x"].value != "added between the runs" {
		t.Errorf("changed %q, added %q", got[prefix+changed].value, got[prefix+src+"/new/x"].value)
	}
	if r := runCmd(t, "", "--endpoints", srcEP, "migrate", "--verify", "--v3-endpoints", dstEP, "--prefix", prefix, src); r.code != 0 {
		t.Errorf("verify after the resumed copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
