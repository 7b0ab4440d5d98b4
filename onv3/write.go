package onv3

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Action names of v2 events, and the record values that tell watchers to
// report nothing.
const (
	actionSet              = "set"
	actionCreate           = "create"
	actionUpdate           = "update"
	actionCompareAndSwap   = "compareAndSwap"
	actionDelete           = "delete"
	actionCompareAndDelete = "compareAndDelete"
	actionExpire           = "expire"
	actionRefresh          = "refresh" // a TTL refresh: no v2 event
	actionReap             = "reap"    // removal of orphans: no v2 event
)

// dirRecord is the record of a write to directory key that leaves its
// marker alone: the action, "dir" and the marker's created and modified
// revisions,
// separated by NUL, so that a watcher can report the event without it.
func dirRecord(action string, created, mod int64) string {
	return action + "\x00dir\x00" + strconv.FormatInt(created, 10) + "\x00" + strconv.FormatInt(mod, 10)
}

// plan is one transaction decided from a pathView.
type plan struct {
	cmps []clientv3.Cmp
	ops  []clientv3.Op
	// record is the action record's value for the key; "" writes none:
	// a plain Set of one key, whose one put a watcher reads as "set"
	// without a record, as it reads a plain v3 client's put.
	record string
	// recordKey is the v2 key the record names, when not the key written.
	recordKey string
	// answer builds the response from the revision of the commit.
	answer func(rev int64) *client.Response
	// answerTxn, if set, builds it from the whole answer (a fast path's
	// previous key-value).
	answerTxn func(ctx context.Context, resp *clientv3.TxnResponse) (*client.Response, error)
}

// reapFirst asks the write loop to reap orphans below dir and read again.
type reapFirst struct{ dir string }

func (r reapFirst) Error() string { return "onv3: orphans below " + r.dir }

// maxAttempts bounds the retries of a write whose compares keep failing
// because other clients write the same keys.
const maxAttempts = 1000

// write runs the read-decide-commit loop of one v2 write: read the state,
// decide the transaction (or the v2 error), commit it guarded by compares
// on everything read, and decide again when the compares fail. A failed
// commit reads the state in its Else branch, so a retry costs no extra
// round trip. fast, if not nil, is tried first, before anything is read:
// a transaction guarded by what the common case needs (the directories
// above exist, ...). It has no Else branch: its reads would make every
// request of the common case several times larger, which cost the client
// about 40% more CPU and the server about 20% more per Set (bench/, A/B);
// when it fails (a directory to create, an error to report, a lost
// compare-and-swap), the state is read in a request of its own.
func (k *keysAPI) write(ctx context.Context, key string, mode readMode, decide func(v *pathView) (*plan, error), fast *plan) (*client.Response, error) {
	var reads []clientv3.Op
	var v *pathView
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			return nil, fmt.Errorf("onv3: %s: gave up after %d conflicting attempts", key, attempt)
		}
		p, tryingFast := fast, fast != nil
		fast = nil
		var cmps []clientv3.Cmp
		if p != nil {
			cmps = p.cmps
		} else {
			if v == nil {
				var err error
				if v, err = k.readPath(ctx, key, mode); err != nil {
					return nil, err
				}
			}
			var err error
			p, err = decide(v)
			var rf reapFirst
			if errors.As(err, &rf) {
				if err := k.reap(ctx, rf.dir); err != nil {
					return nil, err
				}
				v = nil
				continue
			}
			if err != nil {
				return nil, err
			}
			cmps = append(v.guards(k.l), p.cmps...)
		}
		ops := p.ops
		var rec clientv3.LeaseID
		if p.record != "" {
			var err error
			if rec, err = k.rec.get(ctx); err != nil {
				return nil, readErr(ctx, err)
			}
			recKey := key
			if p.recordKey != "" {
				recKey = p.recordKey
			}
			ops = append(ops, clientv3.OpPut(k.l.RecordKey(recKey), p.record, clientv3.WithLease(rec)))
		}
		var elseOps []clientv3.Op
		if !tryingFast {
			if reads == nil {
				reads = k.pathOps(key, mode)
			}
			elseOps = reads
		}
		resp, err := k.c.Txn(ctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
		if err != nil {
			if rec != 0 && k.dropLeaseOn(err, rec) {
				v = nil
				continue
			}
			return nil, writeErr(ctx, err)
		}
		if !resp.Succeeded {
			if tryingFast {
				continue // v is nil: read it
			}
			v = k.parsePath(key, mode, resp.Header, resp.Responses)
			if err := k.findOrphans(ctx, v, mode); err != nil {
				if !errors.Is(err, errReadAgain) {
					return nil, err
				}
				v = nil
			}
			continue
		}
		var r *client.Response
		if p.answerTxn != nil {
			if r, err = p.answerTxn(ctx, resp); err != nil {
				return nil, err
			}
		} else {
			r = p.answer(resp.Header.Revision)
		}
		r.Index, r.ClusterID = uint64(resp.Header.Revision), clusterIDString(resp.Header.ClusterId)
		return r, nil
	}
}

// dropLeaseOn forgets the record lease when the server no longer knows a
// lease of the transaction; it reports whether that was the failure.
func (k *keysAPI) dropLeaseOn(err error, rec clientv3.LeaseID) bool {
	if errors.Is(err, rpctypes.ErrLeaseNotFound) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrLeaseNotFound) {
		k.rec.drop(rec)
		return true
	}
	return false
}

// rootIndex is the revision to report in an error about the root.
func (k *keysAPI) rootIndex(ctx context.Context) (int64, error) {
	resp, err := k.c.Get(ctx, k.l.DirKey(""), clientv3.WithCountOnly())
	if err != nil {
		return 0, readErr(ctx, err)
	}
	return resp.Header.Revision, nil
}
