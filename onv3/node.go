package onv3

import (
	"context"
	"sort"
	"time"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ttls looks up the time left on leases, once per lease within one call.
type ttls struct {
	c    *clientv3.Client
	left map[int64]int64
}

func newTTLs(c *clientv3.Client) *ttls { return &ttls{c: c, left: map[int64]int64{}} }

// fill sets the node's TTL and Expiration from the lease as v2 computes
// them: whole seconds left, rounded up (v3 rounds down), and the moment.
func (t *ttls) fill(ctx context.Context, n *client.Node, lease int64) error {
	if lease == 0 {
		return nil
	}
	left, ok := t.left[lease]
	if !ok {
		resp, err := t.c.TimeToLive(ctx, clientv3.LeaseID(lease))
		if err != nil {
			return readErr(ctx, err)
		}
		left = resp.TTL
		if left >= 0 && left < resp.GrantedTTL {
			left++
		}
		if left < 1 {
			left = 1 // expired, not yet removed: v2 shows at least one second
		}
		t.left[lease] = left
	}
	setTTL(n, left)
	return nil
}

func setTTL(n *client.Node, seconds int64) {
	exp := time.Now().Add(time.Duration(seconds) * time.Second).UTC()
	n.TTL, n.Expiration = seconds, &exp
}

// fileNode is the v2 node of a file's key-value.
func fileNode(key string, kv *mvccpb.KeyValue) *client.Node {
	return &client.Node{Key: key, Value: string(kv.Value), CreatedIndex: uint64(kv.CreateRevision), ModifiedIndex: uint64(kv.ModRevision)}
}

// dirNode is the v2 node of a directory marker (nil: the root).
func dirNode(key string, kv *mvccpb.KeyValue) *client.Node {
	n := &client.Node{Key: key, Dir: true}
	if kv != nil {
		n.CreatedIndex, n.ModifiedIndex = uint64(kv.CreateRevision), uint64(kv.ModRevision)
	}
	return n
}

// listing builds the children of directory dir from the keys below it (its
// own marker excluded), as v2 lists them: hidden names left out, child
// directories without their children unless recursive, keys below a missing
// marker (orphans) left out.
func (k *keysAPI) listing(ctx context.Context, dir string, kvs []*mvccpb.KeyValue, recursive, sorted bool, t *ttls) (client.Nodes, error) {
	// Keys and values are copied into one string, and nodes taken from
	// one slice: two allocations instead of three per key.
	size := 0
	for _, kv := range kvs {
		size += len(kv.Key) + len(kv.Value)
	}
	buf := make([]byte, 0, size)
	for _, kv := range kvs {
		buf = append(append(buf, kv.Key...), kv.Value...)
	}
	all := string(buf)
	slab := make([]client.Node, len(kvs))
	root := &client.Node{Key: dir, Dir: true}
	dirs := map[string]*client.Node{dir: root}
	lastKey, last := dir, root
	off := 0
	for i, kv := range kvs {
		v3key := all[off : off+len(kv.Key)]
		value := all[off+len(kv.Key) : off+len(kv.Key)+len(kv.Value)]
		off += len(kv.Key) + len(kv.Value)
		key, kind := k.l.Parse(v3key)
		if kind != File && kind != Dir {
			continue
		}
		parentKey := parentOf(key)
		if !recursive && parentKey != dir {
			continue
		}
		parent := last
		if parentKey != lastKey {
			if parent = dirs[parentKey]; parent == nil {
				continue // an orphan: its directory expired
			}
			lastKey, last = parentKey, parent
		}
		n := &slab[i]
		n.Key, n.CreatedIndex, n.ModifiedIndex = key, uint64(kv.CreateRevision), uint64(kv.ModRevision)
		if kind == Dir {
			n.Dir = true
			dirs[key] = n
		} else {
			n.Value = value
		}
		if err := t.fill(ctx, n, kv.Lease); err != nil {
			return nil, err
		}
		if !Hidden(key) {
			parent.Nodes = append(parent.Nodes, n)
		}
	}
	if sorted {
		for _, d := range dirs {
			sort.Sort(d.Nodes)
		}
	}
	return root.Nodes, nil
}
