package onv3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Directories around a watched key. Above it: v2 tells the watchers of
// every node below a directory that is deleted recursively or expires with
// one event of that directory. In onv3 the two look different in the watch
// stream: a recursive delete removes the watched keys themselves
// (ancestorDelete finds the write's record above them), an expiry removes
// only the directory's marker and leaves the keys below it as invisible
// orphans (ancestorGone). The watch range starts at the outermost
// directory's marker (rangeOf), so both arrive in the one stream, in
// revision order. At it: a directory created on the way by a write below
// it gives no event (implicitDir).

// ancestorDelete looks for the write of revision rev among the records of
// the directories above the watched key, read as of rev (the record may
// have gone since). The recursive delete of such a directory is v2's one
// event of that directory; a reap of orphans is nothing. handled is false
// when no record of rev is there (a plain v3 client's delete, a lease's
// expiry): each key then gives its own event. A compacted revision is
// reported as cleared history (historyErr).
func (w *watcher) ancestorDelete(ctx context.Context, rev int64) (r *client.Response, handled bool, err error) {
	l := w.k.l
	anc := Ancestors(w.key)
	if len(anc) == 0 {
		return nil, false, nil // a key at the top has no directory above
	}
	ops := make([]clientv3.Op, 0, 2*len(anc))
	for _, a := range anc {
		ops = append(ops, clientv3.OpGet(l.RecordKey(a), clientv3.WithRev(rev)),
			clientv3.OpGet(l.DirKey(a), clientv3.WithRev(rev-1)))
	}
	resp, err := w.k.c.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, false, historyErr(ctx, rev, fmt.Errorf("reading the records of the directories above %s at %d: %w", w.key, rev, err))
	}
	for i, a := range anc {
		recs := resp.Responses[2*i].GetResponseRange().Kvs
		if len(recs) == 0 || recs[0].ModRevision != rev {
			continue
		}
		action, _, _ := strings.Cut(string(recs[0].Value), "\x00")
		switch {
		case action == actionReap:
			return nil, true, nil
		case action != actionDelete:
			return nil, false, nil
		}
		n := &client.Node{Key: a, Dir: true, ModifiedIndex: uint64(rev)}
		r := &client.Response{Action: actionDelete, Node: n}
		if markers := resp.Responses[2*i+1].GetResponseRange().Kvs; len(markers) > 0 {
			r.PrevNode = dirNode(a, markers[0])
			n.CreatedIndex = r.PrevNode.CreatedIndex
		}
		return r, true, nil
	}
	return nil, false, nil
}

// ancestorGone converts the removal at revision rev of the markers of
// directories above the watched key (above: their delete events), when no
// key of the watch's own range changed at rev. The watched keys then stay
// in v3 below a missing marker: invisible, gone for v2 readers at rev. v2
// tells its (live) watchers of the nodes below the directory with one
// event of the directory; so does this, when the watched key (or the
// subtree's root) was visible just before rev: every directory above it
// had its marker and it had its file or marker. It gives nothing when an
// onv3 write of rev removed the marker (a recursive or directory delete
// with nothing of this range below it, a reap of orphans: their record
// lies above the key), or when the key was not visible (it never existed,
// or a directory above had gone before: v2 removes a subtree once).
//
// The event is the outermost directory removed: "expire" when its marker
// had a lease (the lease's expiry; a plain v3 client's delete of a leased
// marker looks the same), else "delete" (a plain v3 client's delete). A
// compacted revision rev-1 is reported as cleared history (historyErr).
func (w *watcher) ancestorGone(ctx context.Context, rev int64, above []*clientv3.Event) (*client.Response, error) {
	l := w.k.l
	anc := Ancestors(w.key)
	ops := make([]clientv3.Op, 0, 2*len(anc)+2)
	for _, a := range anc {
		ops = append(ops, clientv3.OpGet(l.RecordKey(a), clientv3.WithRev(rev), clientv3.WithKeysOnly()),
			clientv3.OpGet(l.DirKey(a), clientv3.WithRev(rev-1), clientv3.WithKeysOnly()))
	}
	ops = append(ops, clientv3.OpGet(l.FileKey(w.key), clientv3.WithRev(rev-1), clientv3.WithKeysOnly()),
		clientv3.OpGet(l.DirKey(w.key), clientv3.WithRev(rev-1), clientv3.WithKeysOnly()))
	resp, err := w.k.c.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, historyErr(ctx, rev, fmt.Errorf("reading the directories above %s at %d: %w", w.key, rev-1, err))
	}
	found := func(i int) bool { return len(resp.Responses[i].GetResponseRange().Kvs) > 0 }
	for i := range anc {
		if recs := resp.Responses[2*i].GetResponseRange().Kvs; len(recs) > 0 && recs[0].ModRevision == rev {
			return nil, nil // an onv3 write, with nothing of this watch below
		}
		if !found(2*i + 1) {
			return nil, nil // not visible: a directory above was missing
		}
	}
	if n := 2 * len(anc); !found(n) && !found(n+1) {
		return nil, nil // the watched key did not exist
	}
	gone := above[0]
	for _, ev := range above[1:] {
		if len(ev.Kv.Key) < len(gone.Kv.Key) {
			gone = ev
		}
	}
	dir, _ := l.Parse(string(gone.Kv.Key))
	r := &client.Response{Action: actionDelete, Node: &client.Node{Key: dir, Dir: true, ModifiedIndex: uint64(rev)}}
	if prev := gone.PrevKv; prev != nil {
		if prev.Lease != 0 {
			r.Action = actionExpire
		}
		r.PrevNode = dirNode(dir, prev)
		r.Node.CreatedIndex = r.PrevNode.CreatedIndex
	}
	return r, nil
}

// implicitDir reports whether the creation of directory dir's marker at
// revision rev, seen without an action record in the watch's range, came
// with a write below it: v2 creates such a directory on the way, with no
// event of its own. It is so for an onv3 write below a directory watched
// alone (the write's record lies below, outside the range) and for a plain
// v3 client that writes a key with its markers. The other events of the
// revision tell when the range covers what lies below; a watcher of the
// directory alone reads the keys below it at rev, with that modification
// revision (the directory was created at rev, so at rev its subtree holds
// what that write put there).
func (w *watcher) implicitDir(ctx context.Context, dir string, rev int64, evs []*clientv3.Event) (bool, error) {
	l := w.k.l
	for _, ev := range evs {
		if key, kind := l.Parse(string(ev.Kv.Key)); kind != Foreign && ev.Type == clientv3.EventTypePut && strings.HasPrefix(key, dir+"/") {
			return true, nil
		}
	}
	if w.recursive || dir != w.key {
		return false, nil // the range covers the subtree: nothing was written below
	}
	_, end := l.Below(dir)
	resp, err := w.k.c.Get(ctx, l.DirKey(dir)+"\x00", clientv3.WithRange(end), clientv3.WithRev(rev),
		clientv3.WithMinModRev(rev), clientv3.WithMaxModRev(rev), clientv3.WithKeysOnly(), clientv3.WithLimit(1))
	if err != nil {
		return false, historyErr(ctx, rev, fmt.Errorf("reading below %s at %d: %w", dir, rev, err))
	}
	return len(resp.Kvs) > 0, nil
}

// historyGone is the failure of a read of the watch's history needed to
// convert the events of revision rev: the history was compacted after the
// watch received them. Next reports it as a compacted start (401, or a
// resync), and without a resync on every later call (watcher.lost), as v2
// answers 401 on every call for a cleared index.
type historyGone struct {
	rev int64
	err error
}

func (h historyGone) Error() string {
	return fmt.Sprintf("onv3: the history needed to convert revision %d was compacted: %v", h.rev, h.err)
}

func (h historyGone) Unwrap() error { return h.err }

// historyErr is the error of a failed read of the history at rev: a
// compacted revision is historyGone, anything else a read error.
func historyErr(ctx context.Context, rev int64, err error) error {
	if ctx.Err() == nil && (errors.Is(err, rpctypes.ErrCompacted) || rpctypes.ErrorDesc(errors.Unwrap(err)) == rpctypes.ErrorDesc(rpctypes.ErrCompacted)) {
		return historyGone{rev: rev, err: err}
	}
	return readErr(ctx, err)
}
