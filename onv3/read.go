package onv3

import (
	"context"
	"errors"
	"fmt"

	"github.com/v2keys/client"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// readMode says what a write reads beyond the key's file and marker and
// its directories' files and markers.
//
// Every key a write reads is read alone (a single-key range), never as the
// first key of a range: etcd (3.4 to 3.7) walks the whole of a range to
// count it even when asked for one key, so reading the first key below a
// directory of 100,000 keys would cost the server the walk of 100,000 keys
// on every write into it.
type readMode int

const (
	// readKey: the key's file and marker (a write that creates nothing:
	// update, compare-and-swap, delete of a file).
	readKey readMode = iota
	// readCreate: as readKey, for a write that creates the directories
	// missing above the key, which must reap the orphans below the
	// outermost one first.
	readCreate
	// readDir: as readCreate, for a write that also makes the key itself
	// a directory (which must reap the orphans below it first).
	readDir
	// readBelow: also every key below the key, without values (a
	// non-recursive directory delete, which must know it is empty).
	readBelow
)

// pathView is the state of one v2 key and its directories, read at one
// revision.
type pathView struct {
	key       string // canonical v2 key
	rev       int64  // revision of the read
	clusterID uint64
	anc       []string
	// ancAllDirs: every directory above the key has its marker, checked
	// by a compare of the read (a Get) instead of read; ancFile and
	// ancDir are then nil.
	ancAllDirs bool
	ancFile    []*mvccpb.KeyValue // file at each ancestor, or nil
	ancDir     []*mvccpb.KeyValue // marker of each ancestor, or nil
	file       *mvccpb.KeyValue   // file at key, or nil
	dir        *mvccpb.KeyValue   // marker of key, or nil
	below      []*mvccpb.KeyValue // readBelow and Get: the keys below key after its marker
	// orphansOf is the directory with no marker below which keys lie
	// (orphans, left by its expiry), when it matters to the write: the
	// outermost ancestor without marker (unless a file is in the way
	// before it), else the key itself in readDir mode. "" when there are
	// none.
	orphansOf string
}

// readPath reads the state of key (canonical, not the root) for a write,
// at one revision: one read-only transaction of single keys, and, only
// when a directory is missing where the write would create it, a range
// read at the same revision to find orphans below it.
func (k *keysAPI) readPath(ctx context.Context, key string, mode readMode) (*pathView, error) {
	for attempt := 0; ; attempt++ {
		resp, err := k.c.Txn(ctx).Then(k.pathOps(key, mode)...).Commit()
		if err != nil {
			return nil, readErr(ctx, err)
		}
		v := k.parsePath(key, mode, resp.Header, resp.Responses)
		err = k.findOrphans(ctx, v, mode)
		if errors.Is(err, errReadAgain) && attempt < maxAttempts {
			continue
		}
		return v, err
	}
}

// errReadAgain: the revision of a path read was compacted before its
// orphans were read; the path is read again.
var errReadAgain = errors.New("onv3: path read compacted")

// pathOps are the reads of a pathView of key: every ancestor's file and
// marker, the key's file and marker (readBelow: its whole range).
func (k *keysAPI) pathOps(key string, mode readMode) []clientv3.Op {
	anc := Ancestors(key)
	ops := make([]clientv3.Op, 0, 2*len(anc)+2)
	for _, a := range anc {
		ops = append(ops, clientv3.OpGet(k.l.FileKey(a)), clientv3.OpGet(k.l.DirKey(a), clientv3.WithKeysOnly()))
	}
	ops = append(ops, clientv3.OpGet(k.l.FileKey(key)))
	if mode == readBelow {
		start, end := k.l.Below(key)
		return append(ops, clientv3.OpGet(start, clientv3.WithRange(end), clientv3.WithKeysOnly()))
	}
	return append(ops, clientv3.OpGet(k.l.DirKey(key)))
}

// parsePath builds the pathView of key from the answers to its pathOps.
func (k *keysAPI) parsePath(key string, mode readMode, h *pb.ResponseHeader, rs []*pb.ResponseOp) *pathView {
	v := &pathView{key: key, anc: Ancestors(key), rev: h.Revision, clusterID: h.ClusterId}
	v.ancFile = make([]*mvccpb.KeyValue, len(v.anc))
	v.ancDir = make([]*mvccpb.KeyValue, len(v.anc))
	for i := range v.anc {
		v.ancFile[i] = firstKV(rs[2*i])
		v.ancDir[i] = firstKV(rs[2*i+1])
	}
	n := 2 * len(v.anc)
	v.file = firstKV(rs[n])
	if mode == readBelow {
		v.dir, v.below = splitMarker(k.l, key, rs[n+1].GetResponseRange().Kvs)
	} else {
		v.dir = firstKV(rs[n+1])
	}
	return v
}

// firstKV is the key-value a single-key read found, or nil.
func firstKV(r *pb.ResponseOp) *mvccpb.KeyValue {
	kvs := r.GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return nil
	}
	return kvs[0]
}

// splitMarker splits the keys of key's range (Layout.Below) into key's
// marker, which sorts first when it exists, and the keys after it.
func splitMarker(l Layout, key string, kvs []*mvccpb.KeyValue) (marker *mvccpb.KeyValue, rest []*mvccpb.KeyValue) {
	if len(kvs) > 0 && string(kvs[0].Key) == l.DirKey(key) {
		return kvs[0], kvs[1:]
	}
	return nil, kvs
}

// findOrphans fills v.orphansOf: it reads, at v's revision, the first key
// below the directory whose missing marker the write would create, if any.
// That range holds orphans only (keys below a missing marker), so what etcd
// walks to count it is what a reap would delete anyway.
func (k *keysAPI) findOrphans(ctx context.Context, v *pathView, mode readMode) error {
	if mode != readCreate && mode != readDir {
		return nil
	}
	at, allDirs := "", true
	for i, a := range v.anc {
		if v.ancDir[i] != nil {
			continue
		}
		allDirs = false
		if v.ancFile[i] == nil {
			at = a
		}
		break // else a file in the way is 104: nothing is created
	}
	if allDirs && mode == readDir && v.dir == nil && v.key != "/" {
		at = v.key
	}
	if at == "" {
		return nil
	}
	start, end := k.l.Below(at)
	resp, err := k.c.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(1), clientv3.WithKeysOnly(), clientv3.WithRev(v.rev))
	if err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrCompacted) {
			return errReadAgain
		}
		return readErr(ctx, err)
	}
	if len(resp.Kvs) > 0 {
		v.orphansOf = at
	}
	return nil
}

// lookup finds the key the way the v2 store's internal get walks a path:
// a missing element is 100 naming it, a file where a directory should be
// is 104 naming the file. It returns the node's marker or file.
func (v *pathView) lookup() (kv *mvccpb.KeyValue, dir bool, err error) {
	if !v.ancAllDirs {
		for i, a := range v.anc {
			switch {
			case v.ancDir[i] != nil:
			case v.ancFile[i] != nil:
				return nil, false, v2Error(client.ErrorCodeNotDir, a, v.rev)
			default:
				return nil, false, v2Error(client.ErrorCodeKeyNotFound, a, v.rev)
			}
		}
	}
	if v.dir != nil {
		return v.dir, true, nil
	}
	if v.file != nil {
		return v.file, false, nil
	}
	return nil, false, v2Error(client.ErrorCodeKeyNotFound, v.key, v.rev)
}

// createPath checks the ancestors the way the v2 store creates a path: a
// file in the way is 104 naming it; missing directories are returned (to
// be created). Keys found below a missing directory are orphans: reap names
// it, to be reaped before the write is retried.
func (v *pathView) createPath() (missing []string, reap string, err error) {
	for i, a := range v.anc {
		switch {
		case len(missing) > 0:
			// Below a missing directory without orphans: nothing here.
			missing = append(missing, a)
		case v.ancDir[i] != nil:
		case v.ancFile[i] != nil:
			return nil, "", v2Error(client.ErrorCodeNotDir, a, v.rev)
		case v.orphansOf == a:
			return nil, a, nil
		default:
			missing = append(missing, a)
		}
	}
	return missing, "", nil
}

// orphansBelow reports whether keys lie below the key while it is no
// directory (readDir mode): what a directory's expiry left behind.
func (v *pathView) orphansBelow() bool {
	return v.orphansOf == v.key
}

// ancestorsExist are the compares of a write's fast path (and of a Get):
// every directory above key has its marker.
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
	cmps := make([]clientv3.Cmp, 0, 2*len(v.anc)+2)
	for i, a := range v.anc {
		cmps = append(cmps,
			clientv3.Compare(clientv3.ModRevision(l.FileKey(a)), "=", mod(v.ancFile[i])),
			clientv3.Compare(clientv3.ModRevision(l.DirKey(a)), "=", mod(v.ancDir[i])))
	}
	return append(cmps,
		clientv3.Compare(clientv3.ModRevision(l.FileKey(v.key)), "=", mod(v.file)),
		clientv3.Compare(clientv3.ModRevision(l.DirKey(v.key)), "=", mod(v.dir)))
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
