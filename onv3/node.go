package onv3

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ttls looks up the time left on leases, once per lease within one call.
type ttls struct {
	c    *clientv3.Client
	left map[int64]int64
}

func newTTLs(c *clientv3.Client) *ttls { return &ttls{c: c} }

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
		if t.left == nil {
			t.left = map[int64]int64{}
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
//
// It is the client's own work on a large Get, so it allocates little: the
// nodes come from one slice, their keys and values point into the bytes of
// the answer r (which the Get owns alone and nobody changes), and the
// children of every directory are carved from one slice of pointers sized
// by a first pass.
func (k *keysAPI) listing(ctx context.Context, dir string, r *rawTxnReply, kvs []rawKV, recursive, sorted bool, t *ttls) (client.Nodes, error) {
	const (
		root    = -1 // the parent is dir itself
		skipped = -2 // not listed
	)
	slab := make([]client.Node, len(kvs))
	meta := make([]int32, 2*len(kvs))
	parents := meta[:len(kvs)]  // index of each node's parent, root or skipped
	children := meta[len(kvs):] // number of listed children of each node
	rootChildren := 0
	dirs := map[string]int32{dir: root}
	lastKey, last := dir, int32(root)
	listed := 0
	base := len(k.l.Prefix)
	for i := range kvs {
		kv := &kvs[i]
		kvKey := r.key(kv)
		parents[i] = skipped
		// Layout.Parse, inlined for the keys of a range below dir, which
		// all start with Prefix+dir+"/": the v2 key, a marker's without
		// its "/"; records (with a NUL) are not nodes.
		if len(kvKey) <= base+1 || kvKey[base] != '/' || bytes.IndexByte(kvKey, 0) >= 0 {
			continue
		}
		key := bytesString(kvKey[base:])
		isDir := key[len(key)-1] == '/'
		if isDir {
			key = key[:len(key)-1]
		}
		slash := strings.LastIndexByte(key, '/')
		parentKey := "/"
		if slash > 0 {
			parentKey = key[:slash]
		}
		if !recursive && parentKey != dir {
			continue
		}
		parent := last
		if parentKey != lastKey {
			p, ok := dirs[parentKey]
			if !ok {
				continue // an orphan: its directory expired
			}
			parent, lastKey, last = p, parentKey, p
		}
		n := &slab[i]
		n.Key, n.CreatedIndex, n.ModifiedIndex = key, uint64(kv.create), uint64(kv.mod)
		if isDir {
			n.Dir = true
			dirs[key] = int32(i)
		} else {
			n.Value = bytesString(r.value(kv))
		}
		if kv.lease != 0 {
			if err := t.fill(ctx, n, kv.lease); err != nil {
				return nil, err
			}
		}
		if slash+1 < len(key) && key[slash+1] == '_' {
			continue // hidden: built (its children find it), not listed
		}
		parents[i] = parent
		listed++
		if parent == root {
			rootChildren++
		} else {
			children[parent]++
		}
	}
	ptrs := make([]*client.Node, listed)
	rootNodes := client.Nodes(ptrs[:0:rootChildren])
	off := rootChildren
	for i := range slab {
		if c := int(children[i]); c > 0 {
			slab[i].Nodes = ptrs[off : off : off+c]
			off += c
		}
	}
	for i, p := range parents {
		switch p {
		case skipped:
		case root:
			rootNodes = append(rootNodes, &slab[i])
		default:
			slab[p].Nodes = append(slab[p].Nodes, &slab[i])
		}
	}
	if sorted {
		sort.Sort(rootNodes)
		for _, i := range dirs {
			if i != root {
				sort.Sort(slab[i].Nodes)
			}
		}
	}
	if len(rootNodes) == 0 {
		return nil, nil
	}
	return rootNodes, nil
}

// bytesString is b as a string without a copy. It is used only on the
// keys and values of a v3 response that onv3 holds alone and never
// changes, so the string stays immutable.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
