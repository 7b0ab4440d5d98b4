package onv3

import (
	"context"
	"strconv"
	"strings"

	"github.com/v2keys/client"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Get reads a key or a directory as v2 does, in one v3 read at one
// revision: linearizable with Quorum, serializable (served by the member
// alone, possibly stale) without.
func (k *keysAPI) Get(ctx context.Context, key string, opts *client.GetOptions) (*client.Response, error) {
	if opts == nil {
		opts = &client.GetOptions{}
	}
	if strings.IndexByte(key, 0) >= 0 {
		return nil, errNUL
	}
	key = Canonical(key)
	t := newTTLs(k.c)
	if key == "/" {
		start, end := k.l.Below("/")
		ro := []clientv3.OpOption{clientv3.WithRange(end)}
		if !opts.Quorum {
			ro = append(ro, clientv3.WithSerializable())
		}
		resp, err := k.c.Get(ctx, start, ro...)
		if err != nil {
			return nil, readErr(ctx, err)
		}
		n := &client.Node{Dir: true} // v2 answers the root without a key
		if n.Nodes, err = k.listing(ctx, "/", resp.Kvs, opts.Recursive, opts.Sort, t); err != nil {
			return nil, err
		}
		return response("get", n, nil, resp.Header.Revision, resp.Header.ClusterId), nil
	}
	v, err := k.readPath(ctx, key, belowAll, !opts.Quorum)
	if err != nil {
		return nil, err
	}
	kv, dir, err := v.lookup(k.l)
	if err != nil {
		return nil, err
	}
	var n *client.Node
	if dir {
		n = dirNode(key, kv)
		if n.Nodes, err = k.listing(ctx, key, v.below[1:], opts.Recursive, opts.Sort, t); err != nil {
			return nil, err
		}
	} else {
		n = fileNode(key, kv)
	}
	if err := t.fill(ctx, n, kv.Lease); err != nil {
		return nil, err
	}
	return response("get", n, nil, v.rev, v.clusterID), nil
}

func response(action string, n, prev *client.Node, rev int64, clusterID uint64) *client.Response {
	return &client.Response{Action: action, Node: n, PrevNode: prev, Index: uint64(rev), ClusterID: clusterIDString(clusterID)}
}

// clusterIDString formats the cluster ID as the v2 server's
// X-Etcd-Cluster-Id header does: lower-case hex without padding.
func clusterIDString(id uint64) string {
	return strconv.FormatUint(id, 16)
}
