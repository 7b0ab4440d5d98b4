package onv3

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/v2keys/client"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
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
	v, r, below, err := k.readGet(ctx, key, !opts.Quorum)
	if err != nil {
		return nil, err
	}
	if key == "/" {
		n := &client.Node{Dir: true} // v2 answers the root without a key
		if n.Nodes, err = k.listing(ctx, "/", r, below, opts.Recursive, opts.Sort, t); err != nil {
			return nil, err
		}
		return response("get", n, nil, v.rev, v.clusterID), nil
	}
	kv, dir, err := v.lookup()
	if err != nil {
		return nil, err
	}
	var n *client.Node
	if dir {
		n = dirNode(key, kv)
		if n.Nodes, err = k.listing(ctx, key, r, below, opts.Recursive, opts.Sort, t); err != nil {
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

// readGet reads key (canonical) for a Get in one read-only transaction, at
// one revision. It compares that every directory above key has its marker
// and then reads only the key's file and its range (its marker, which sorts
// first, and everything below it: below); else it reads the directories'
// files and markers, to name the missing one or the file in the way (100,
// 104). Keys below a missing marker are orphans, invisible: the compares
// see the markers at the revision of the reads. The root has no file, no
// marker and no directories above: its range is read.
func (k *keysAPI) readGet(ctx context.Context, key string, serializable bool) (*pathView, *rawTxnReply, []rawKV, error) {
	get := func(key, end string, keysOnly bool) *pb.RequestOp {
		rr := &pb.RangeRequest{Key: []byte(key), KeysOnly: keysOnly, Serializable: serializable}
		if end != "" {
			rr.RangeEnd = []byte(end)
		}
		return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: rr}}
	}
	v := &pathView{key: key, anc: Ancestors(key)}
	start, end := k.l.Below(key)
	req := &pb.TxnRequest{}
	if key == "/" {
		req.Success = []*pb.RequestOp{get(start, end, false)}
	} else {
		req.Success = []*pb.RequestOp{get(k.l.FileKey(key), "", false), get(start, end, false)}
		for _, a := range v.anc {
			dk := k.l.DirKey(a)
			req.Compare = append(req.Compare, &pb.Compare{Result: pb.Compare_GREATER, Target: pb.Compare_CREATE,
				Key: []byte(dk), TargetUnion: &pb.Compare_CreateRevision{}})
			req.Failure = append(req.Failure, get(k.l.FileKey(a), "", false), get(dk, "", true))
		}
	}
	r, err := k.rawTxn(ctx, req)
	if err != nil {
		return nil, nil, nil, err
	}
	v.rev, v.clusterID = r.rev, r.clusterID
	if r.succeeded {
		if len(r.ranges) != len(req.Success) {
			return nil, nil, nil, fmt.Errorf("%w: %d responses to %d reads", errMalformed, len(r.ranges), len(req.Success))
		}
		v.ancAllDirs = true
		below := r.ranges[len(r.ranges)-1]
		if key != "/" {
			v.file = r.first(0)
			if len(below) > 0 && string(r.key(&below[0])) == k.l.DirKey(key) {
				v.dir, below = r.keyValue(&below[0]), below[1:]
			}
		}
		return v, r, below, nil
	}
	if len(r.ranges) != len(req.Failure) {
		return nil, nil, nil, fmt.Errorf("%w: %d responses to %d reads", errMalformed, len(r.ranges), len(req.Failure))
	}
	v.ancFile = make([]*mvccpb.KeyValue, len(v.anc))
	v.ancDir = make([]*mvccpb.KeyValue, len(v.anc))
	for i := range v.anc {
		v.ancFile[i], v.ancDir[i] = r.first(2*i), r.first(2*i+1)
	}
	if !slices.Contains(v.ancDir, nil) {
		// Not at one revision with the compares: never answer from it.
		return nil, nil, nil, fmt.Errorf("onv3: get %s: the server's compares and reads disagree", key)
	}
	return v, r, nil, nil
}

func response(action string, n, prev *client.Node, rev int64, clusterID uint64) *client.Response {
	return &client.Response{Action: action, Node: n, PrevNode: prev, Index: uint64(rev), ClusterID: clusterIDString(clusterID)}
}

// clusterIDString formats the cluster ID as the v2 server's
// X-Etcd-Cluster-Id header does: lower-case hex without padding.
func clusterIDString(id uint64) string {
	return strconv.FormatUint(id, 16)
}
