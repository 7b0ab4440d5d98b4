package onv3

import (
	"context"
	"fmt"

	"github.com/v2keys/client"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// belowMode says how much of the range below the target key a pathView reads.
type belowMode int

const (
	belowFirst belowMode = iota // the first key only (the marker, if any)
	belowKeys                   // every key, without values
	belowAll                    // every key with its value (a Get: ancestors' markers only)
)

// pathView is the state of one v2 key and its ancestors, read in one
// transaction at one revision.
type pathView struct {
	key       string // canonical v2 key
	rev       int64  // revision of the read
	clusterID uint64
	anc       []string
	ancFile   []*mvccpb.KeyValue // file at each ancestor, or nil
	ancFirst  []*mvccpb.KeyValue // first key below each ancestor (a Get: its marker), or nil
	file      *mvccpb.KeyValue   // file at key, or nil
	below     []*mvccpb.KeyValue // keys below key (from its marker on)
}

// readPath reads the state of key (canonical, not the root) in one
// read-only transaction.
func (k *keysAPI) readPath(ctx context.Context, key string, mode belowMode, serializable bool) (*pathView, error) {
	resp, err := k.c.Txn(ctx).Then(k.pathOps(key, mode, serializable)...).Commit()
	if err != nil {
		return nil, readErr(ctx, err)
	}
	return k.parsePath(key, resp.Header, resp.Responses), nil
}

// pathOps are the reads of a pathView of key.
func (k *keysAPI) pathOps(key string, mode belowMode, serializable bool) []clientv3.Op {
	opt := func(o ...clientv3.OpOption) []clientv3.OpOption {
		if serializable {
			return append(o, clientv3.WithSerializable())
		}
		return o
	}
	anc := Ancestors(key)
	ops := make([]clientv3.Op, 0, 2*len(anc)+2)
	for _, a := range anc {
		var below clientv3.Op
		if mode == belowAll {
			// A Get needs only whether the ancestor is a directory: its
			// marker, the first key of its range when it exists. A write
			// also needs to know of keys below a missing marker (orphans
			// to reap), hence the first key of the range; etcd walks the
			// whole range of a limited read to count it, so a Get does
			// without.
			below = clientv3.OpGet(k.l.DirKey(a), opt(clientv3.WithKeysOnly())...)
		} else {
			start, end := k.l.Below(a)
			below = clientv3.OpGet(start, opt(clientv3.WithRange(end), clientv3.WithLimit(1), clientv3.WithKeysOnly())...)
		}
		ops = append(ops, clientv3.OpGet(k.l.FileKey(a), opt()...), below)
	}
	start, end := k.l.Below(key)
	ops = append(ops, clientv3.OpGet(k.l.FileKey(key), opt()...))
	switch mode {
	case belowFirst:
		ops = append(ops, clientv3.OpGet(start, opt(clientv3.WithRange(end), clientv3.WithLimit(1))...))
	case belowKeys:
		ops = append(ops, clientv3.OpGet(start, opt(clientv3.WithRange(end), clientv3.WithKeysOnly())...))
	default:
		ops = append(ops, clientv3.OpGet(start, opt(clientv3.WithRange(end))...))
	}
	return ops
}

// parsePath builds the pathView of key from the answers to its pathOps.
func (k *keysAPI) parsePath(key string, h *pb.ResponseHeader, rs []*pb.ResponseOp) *pathView {
	v := &pathView{key: key, anc: Ancestors(key), rev: h.Revision, clusterID: h.ClusterId}
	first := func(i int) *mvccpb.KeyValue {
		kvs := rs[i].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil
		}
		return kvs[0]
	}
	for i := range v.anc {
		v.ancFile = append(v.ancFile, first(2*i))
		v.ancFirst = append(v.ancFirst, first(2*i+1))
	}
	n := 2 * len(v.anc)
	v.file = first(n)
	v.below = rs[n+1].GetResponseRange().Kvs
	return v
}

// ancIsDir reports whether ancestor i is a directory.
func (v *pathView) ancIsDir(l Layout, i int) bool {
	return v.ancFirst[i] != nil && string(v.ancFirst[i].Key) == l.DirKey(v.anc[i])
}

// marker is the directory marker of the key, or nil.
func (v *pathView) marker(l Layout) *mvccpb.KeyValue {
	if len(v.below) > 0 && string(v.below[0].Key) == l.DirKey(v.key) {
		return v.below[0]
	}
	return nil
}

// orphansBelow reports whether keys lie below the key while it is no
// directory: what a directory's expiry left behind.
func (v *pathView) orphansBelow(l Layout) bool {
	return len(v.below) > 0 && v.marker(l) == nil
}

// lookup finds the key the way the v2 store's internal get walks a path:
// a missing element is 100 naming it, a file where a directory should be
// is 104 naming the file. It returns the node's marker or file.
func (v *pathView) lookup(l Layout) (kv *mvccpb.KeyValue, dir bool, err error) {
	for i, a := range v.anc {
		switch {
		case v.ancIsDir(l, i):
		case v.ancFile[i] != nil:
			return nil, false, v2Error(client.ErrorCodeNotDir, a, v.rev)
		default:
			return nil, false, v2Error(client.ErrorCodeKeyNotFound, a, v.rev)
		}
	}
	if m := v.marker(l); m != nil {
		return m, true, nil
	}
	if v.file != nil {
		return v.file, false, nil
	}
	return nil, false, v2Error(client.ErrorCodeKeyNotFound, v.key, v.rev)
}

// createPath checks the ancestors the way the v2 store creates a path: a
// file in the way is 104 naming it; missing directories are returned (to
// be created). Keys found below a missing directory are orphans: reap names
// the outermost such directory, to be reaped before the write is retried.
func (v *pathView) createPath(l Layout) (missing []string, reap string, err error) {
	for i, a := range v.anc {
		switch {
		case len(missing) > 0:
			if v.ancIsDir(l, i) || v.ancFile[i] != nil {
				return nil, missing[0], nil
			}
			missing = append(missing, a)
		case v.ancIsDir(l, i):
		case v.ancFile[i] != nil:
			return nil, "", v2Error(client.ErrorCodeNotDir, a, v.rev)
		case v.ancFirst[i] != nil:
			return nil, a, nil
		default:
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 && (v.file != nil || len(v.below) > 0) {
		return nil, missing[0], nil
	}
	return missing, "", nil
}

// ancestorsExist are the compares of a write's fast path: every directory
// above key has its marker.
func (k *keysAPI) ancestorsExist(key string) []clientv3.Cmp {
	var cmps []clientv3.Cmp
	for _, a := range Ancestors(key) {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k.l.DirKey(a)), ">", 0))
	}
	return cmps
}

// guards are the compares that hold while the read state still stands: every
// key read is at the revision read (absent keys absent).
func (v *pathView) guards(l Layout) []clientv3.Cmp {
	mod := func(kv *mvccpb.KeyValue) int64 {
		if kv == nil {
			return 0
		}
		return kv.ModRevision
	}
	var cmps []clientv3.Cmp
	for i, a := range v.anc {
		dirMod := int64(0)
		if v.ancIsDir(l, i) {
			dirMod = v.ancFirst[i].ModRevision
		}
		cmps = append(cmps,
			clientv3.Compare(clientv3.ModRevision(l.FileKey(a)), "=", mod(v.ancFile[i])),
			clientv3.Compare(clientv3.ModRevision(l.DirKey(a)), "=", dirMod))
	}
	cmps = append(cmps,
		clientv3.Compare(clientv3.ModRevision(l.FileKey(v.key)), "=", mod(v.file)),
		clientv3.Compare(clientv3.ModRevision(l.DirKey(v.key)), "=", mod(v.marker(l))))
	return cmps
}

// reap deletes what lies below the missing directory dir, in a transaction
// of its own that applies only while dir is still missing: those keys are
// invisible, so removing them changes nothing a v2 reader sees. The action
// record "reap" tells watchers to report nothing.
func (k *keysAPI) reap(ctx context.Context, dir string) error {
	rec, err := k.rec.get(ctx)
	if err != nil {
		return readErr(ctx, err)
	}
	start, end := k.l.Below(dir)
	_, err = k.c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k.l.DirKey(dir)), "=", 0)).
		Then(clientv3.OpDelete(start, clientv3.WithRange(end)),
			clientv3.OpPut(k.l.RecordKey(dir), actionReap, clientv3.WithLease(rec))).
		Commit()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		k.dropLeaseOn(err, rec)
		return fmt.Errorf("onv3: reaping below expired directory %s: %w", dir, err)
	}
	return nil
}
