package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestMigrateUpgradePath is the path our users take off v2: the v2 keyspace
// of one cluster (a v2 member of the default v2 version: 3.5 in make test's
// second run) copied into the v3 keyspace of a separate, v3-only cluster (the
// default v3 version: 3.6 there), with --follow while services keep writing
// to v2, then --verify.
func TestMigrateUpgradePath(t *testing.T) {
	src := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V2})
	dst := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V3})
	t.Logf("v2 source: etcd %s; v3 target: etcd %s (v3 only)", src.Version(), dst.Version())
	srcEP, dstEP := src.ClientURLs()[0], dst.ClientURLs()[0]
	k := newV2(t, srcEP)
	cli := newV3(t, dstEP)
	const tree = "/app"
	fill(t, k, tree, 2000)

	// The target really is another cluster: nothing of the source's is in
	// it before the copy.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := cli.Get(ctx, "/v3"+tree, clientv3.WithPrefix()); err != nil || resp.Count != 0 {
		t.Fatalf("target before the copy: %v keys, err %v", resp.Count, err)
	}

	w := startWriters(t, k, tree, 2)
	bg := startCmd(t, "--endpoints", srcEP, "migrate", "--follow", "--v3-endpoints", dstEP, "--prefix", "/v3", tree)
	stateKey := defaultStateKey(target{subtree: tree, prefix: "/v3"})
	waitFor(t, 60*time.Second, "the copy to finish", func() bool {
		st := readState(t, cli, stateKey)
		return st != nil && st.Phase == phaseFollow
	})
	time.Sleep(time.Second)
	writes := w.halt()
	catchUp(t, k, cli, tree+"/marker", "/v3"+tree+"/marker")
	if code := bg.stop(t); code != 0 {
		t.Fatalf("migrate --follow exited %d: %s", code, bg.stderr.String())
	}
	t.Logf("%d writes during the follow; %s", writes, strings.TrimSpace(bg.stdout.String()))

	r := runCmd(t, "", "--endpoints", srcEP, "migrate", "--verify", "--v3-endpoints", dstEP, "--prefix", "/v3", tree)
	if r.code != 0 || !strings.Contains(r.stdout, "0 missing, 0 extra, 0 different values, 0 TTL mismatches") {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The source keeps its v2 data: migrate only reads it.
	if _, err := k.Get(ctx, tree+"/marker", nil); err != nil {
		t.Errorf("v2 source after the migration: %v", err)
	}
}
