package onv3

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/mvccpb"
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
	v, err := k.readGet(ctx, key, !opts.Quorum)
	if err != nil {
		return nil, err
	}
	kv, dir, err := v.lookup()
	if err != nil {
		return nil, err
	}
	var n *client.Node
	if dir {
		n = dirNode(key, kv)
		if n.Nodes, err = k.listing(ctx, key, v.below, opts.Recursive, opts.Sort, t); err != nil {
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

// readGet reads key (canonical, not the root) for a Get in one read-only
// transaction, at one revision. It compares that every directory above key
// has its marker and then reads only the key's file and its range (its
// marker, which sorts first, and everything below it); else it reads the
// directories' files and markers, to name the missing one or the file in
// the way (100, 104). Keys below a missing marker are orphans, invisible:
// the compares see the markers at the revision of the reads.
func (k *keysAPI) readGet(ctx context.Context, key string, serializable bool) (*pathView, error) {
	var ro []clientv3.OpOption
	if serializable {
		ro = []clientv3.OpOption{clientv3.WithSerializable()}
	}
	v := &pathView{key: key, anc: Ancestors(key)}
	start, end := k.l.Below(key)
	txn := k.c.Txn(ctx)
	if len(v.anc) > 0 {
		cmps := make([]clientv3.Cmp, len(v.anc))
		for i, a := range v.anc {
			cmps[i] = clientv3.Compare(clientv3.CreateRevision(k.l.DirKey(a)), ">", 0)
		}
		txn = txn.If(cmps...)
	}
	txn = txn.Then(clientv3.OpGet(k.l.FileKey(key), ro...), clientv3.OpGet(start, append([]clientv3.OpOption{clientv3.WithRange(end)}, ro...)...))
	if len(v.anc) > 0 {
		els := make([]clientv3.Op, 0, 2*len(v.anc))
		for _, a := range v.anc {
			els = append(els, clientv3.OpGet(k.l.FileKey(a), ro...),
				clientv3.OpGet(k.l.DirKey(a), append([]clientv3.OpOption{clientv3.WithKeysOnly()}, ro...)...))
		}
		txn = txn.Else(els...)
	}
	resp, err := txn.Commit()
	if err != nil {
		return nil, readErr(ctx, err)
	}
	v.rev, v.clusterID = resp.Header.Revision, resp.Header.ClusterId
	rs := resp.Responses
	if resp.Succeeded {
		v.ancAllDirs = true
		v.file = firstKV(rs[0])
		v.dir, v.below = splitMarker(k.l, key, rs[1].GetResponseRange().Kvs)
		return v, nil
	}
	v.ancFile = make([]*mvccpb.KeyValue, len(v.anc))
	v.ancDir = make([]*mvccpb.KeyValue, len(v.anc))
	for i := range v.anc {
		v.ancFile[i], v.ancDir[i] = firstKV(rs[2*i]), firstKV(rs[2*i+1])
	}
	if !slices.Contains(v.ancDir, nil) {
		// Not at one revision with the compares: never answer from it.
		return nil, fmt.Errorf("onv3: get %s: the server's compares and reads disagree", key)
	}
	return v, nil
}

func response(action string, n, prev *client.Node, rev int64, clusterID uint64) *client.Response {
	return &client.Response{Action: action, Node: n, PrevNode: prev, Index: uint64(rev), ClusterID: clusterIDString(clusterID)}
}

// clusterIDString formats the cluster ID as the v2 server's
// X-Etcd-Cluster-Id header does: lower-case hex without padding.
func clusterIDString(id uint64) string {
	return strconv.FormatUint(id, 16)
}
