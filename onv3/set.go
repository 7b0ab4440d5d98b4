package onv3

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/v2keys/client"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Set writes a key or directory as v2 does; see client.KeysAPI. Create,
// Update, compare-and-swap and Refresh are Sets with options, as in v2.
func (k *keysAPI) Set(ctx context.Context, key, value string, opts *client.SetOptions) (*client.Response, error) {
	var o client.SetOptions
	if opts != nil {
		o = *opts
	}
	if strings.IndexByte(key, 0) >= 0 {
		return nil, errNUL
	}
	key = Canonical(key)
	if o.Dir {
		value, o.PrevValue = "", "" // the v2 client sends neither with dir=true
	}
	if o.Refresh {
		if value != "" {
			return nil, v2Error(codeRefreshValue, "A value was provided on a refresh", 0)
		}
		if o.TTL <= 0 {
			return nil, v2Error(codeRefreshTTLRequired, "No TTL value set", 0)
		}
	}
	if o.TTL > 0 && o.TTL < time.Second {
		return nil, unsupported("a TTL under one second (v2 sends it as ttl=0 and expires the key at once; a v3 lease lasts at least its minimum TTL)")
	}
	if o.PrevExist != client.PrevIgnore && o.PrevExist != client.PrevExist && o.PrevExist != client.PrevNoExist {
		return nil, v2Error(client.ErrorCodeInvalidField, "invalid value for prevExist", 0)
	}
	if key == "/" {
		rev, err := k.rootIndex(ctx)
		if err != nil {
			return nil, err
		}
		return nil, v2Error(client.ErrorCodeRootROnly, "/", rev)
	}
	w := &setWrite{ctx: ctx, k: k, key: key, value: value, o: o}
	if o.TTL > 0 {
		resp, err := k.c.Grant(ctx, int64(o.TTL/time.Second))
		if err != nil {
			return nil, readErr(ctx, err)
		}
		w.lease, w.leaseTTL = resp.ID, resp.TTL
	}
	var decide func(*pathView) (*plan, error)
	mode := readKey // update and compare-and-swap create nothing
	switch {
	case o.PrevExist == client.PrevExist && o.PrevIndex == 0 && o.PrevValue == "":
		decide = w.update
	case o.PrevExist == client.PrevExist, o.PrevExist == client.PrevIgnore && (o.PrevIndex > 0 || o.PrevValue != ""):
		decide = w.compareAndSwap
	case o.PrevExist == client.PrevNoExist:
		decide, mode = w.create, readCreate
	default:
		decide, mode = w.set, readCreate
	}
	if o.Dir && mode == readCreate {
		mode = readDir
	}
	resp, err := k.write(ctx, key, mode, decide, w.fast())
	if err != nil {
		if w.lease != 0 {
			// Best effort: the lease holds no key if the write failed.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = k.c.Revoke(rctx, w.lease)
			cancel()
		}
		return nil, err
	}
	if o.NoValueOnSuccess {
		resp.Node, resp.PrevNode = nil, nil
	}
	return resp, nil
}

// Create is Set with PrevExist=PrevNoExist, as in v2.
func (k *keysAPI) Create(ctx context.Context, key, value string) (*client.Response, error) {
	return k.Set(ctx, key, value, &client.SetOptions{PrevExist: client.PrevNoExist})
}

// Update is Set with PrevExist=PrevExist, as in v2.
func (k *keysAPI) Update(ctx context.Context, key, value string) (*client.Response, error) {
	return k.Set(ctx, key, value, &client.SetOptions{PrevExist: client.PrevExist})
}

// setWrite decides the transaction of one Set.
type setWrite struct {
	ctx      context.Context
	k        *keysAPI
	key      string
	value    string
	o        client.SetOptions
	lease    clientv3.LeaseID
	leaseTTL int64
}

func (w *setWrite) putOpts() []clientv3.OpOption {
	if w.lease != 0 {
		return []clientv3.OpOption{clientv3.WithLease(w.lease)}
	}
	return nil
}

// node is the answer's node for the key as written at rev.
func (w *setWrite) node(dir bool, created, rev int64, value string) *client.Node {
	n := &client.Node{Key: w.key, Dir: dir, CreatedIndex: uint64(created), ModifiedIndex: uint64(rev)}
	if !dir {
		n.Value = value
	}
	if created == 0 {
		n.CreatedIndex = uint64(rev)
	}
	if w.lease != 0 {
		setTTL(n, w.leaseTTL)
	}
	return n
}

// ancestors returns the puts of the missing directories.
func (w *setWrite) ancestors(missing []string) []clientv3.Op {
	var ops []clientv3.Op
	for _, d := range missing {
		ops = append(ops, clientv3.OpPut(w.k.l.DirKey(d), ""))
	}
	return ops
}

// prevNode is the v2 representation of the node before the write.
func (w *setWrite) prevNode(ctx context.Context, v *pathView) (*client.Node, error) {
	kv, dir, err := v.lookup()
	if err != nil {
		return nil, nil
	}
	var n *client.Node
	if dir {
		n = dirNode(w.key, kv)
	} else {
		n = fileNode(w.key, kv)
	}
	return n, newTTLs(w.k.c).fill(ctx, n, kv.Lease)
}

func (w *setWrite) record(action string) string {
	if w.o.Refresh {
		return actionRefresh
	}
	return action
}

// fast is the plan of the common case, tried before anything is read: the
// directories above the key exist, the key is no directory, and the
// condition of the kind of Set holds on the key itself. Refreshes and
// directories take the general path.
func (w *setWrite) fast() *plan {
	if w.o.Refresh || w.o.Dir {
		return nil
	}
	l := w.k.l
	file := l.FileKey(w.key)
	cmps := append(w.k.ancestorsExist(w.key), clientv3.Compare(clientv3.CreateRevision(l.DirKey(w.key)), "=", 0))
	action := actionSet
	o := w.o
	switch {
	case o.PrevExist == client.PrevExist && o.PrevIndex == 0 && o.PrevValue == "":
		action = actionUpdate
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(file), ">", 0))
	case o.PrevExist == client.PrevExist, o.PrevExist == client.PrevIgnore && (o.PrevIndex > 0 || o.PrevValue != ""):
		action = actionCompareAndSwap
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(file), ">", 0))
		if o.PrevIndex > 0 {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(file), "=", int64(o.PrevIndex)))
		}
		if o.PrevValue != "" {
			cmps = append(cmps, clientv3.Compare(clientv3.Value(file), "=", o.PrevValue))
		}
	case o.PrevExist == client.PrevNoExist:
		action = actionCreate
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(file), "=", 0))
	}
	put := clientv3.OpPut(file, w.value, append(w.putOpts(), clientv3.WithPrevKV())...)
	record := action
	if action == actionSet {
		// The transaction writes this one key and no marker (the
		// directories exist): its put alone tells a watcher "set", so
		// the record, a second key on a lease, is left out (it costs
		// the server about as much as the put).
		record = ""
	}
	return &plan{cmps: cmps, ops: []clientv3.Op{put}, record: record,
		answerTxn: func(ctx context.Context, resp *clientv3.TxnResponse) (*client.Response, error) {
			rev := resp.Header.Revision
			r := &client.Response{Action: action}
			var created int64
			if prev := resp.Responses[0].GetResponsePut().GetPrevKv(); prev != nil {
				created = prev.CreateRevision
				r.PrevNode = fileNode(w.key, prev)
				if err := newTTLs(w.k.c).fill(ctx, r.PrevNode, prev.Lease); err != nil {
					return nil, err
				}
			}
			r.Node = w.node(false, created, rev, w.value)
			return r, nil
		}}
}

func (w *setWrite) set(v *pathView) (*plan, error) {
	l := w.k.l
	kv, dir, err := v.lookup()
	if err != nil {
		var e client.Error
		if !errors.As(err, &e) || e.Code != client.ErrorCodeKeyNotFound || w.o.Refresh {
			return nil, err
		}
	}
	missing, reap, err := v.createPath()
	if err != nil {
		return nil, err
	}
	if reap != "" {
		return nil, reapFirst{reap}
	}
	if kv != nil && dir {
		return nil, v2Error(client.ErrorCodeNotFile, w.key, v.rev)
	}
	value := w.value
	if w.o.Refresh {
		value = string(kv.Value)
	}
	ops := w.ancestors(missing)
	var created int64
	if w.o.Dir {
		if v.orphansBelow() {
			return nil, reapFirst{w.key}
		}
		if kv != nil {
			ops = append(ops, clientv3.OpDelete(l.FileKey(w.key)))
		}
		ops = append(ops, clientv3.OpPut(l.DirKey(w.key), "", w.putOpts()...))
	} else {
		ops = append(ops, clientv3.OpPut(l.FileKey(w.key), value, w.putOpts()...))
		if kv != nil {
			created = kv.CreateRevision // a v3 put keeps it: see README, Differences
		}
	}
	prev, err := w.prevNode(w.ctx, v)
	if err != nil {
		return nil, err
	}
	return &plan{ops: ops, record: w.record(actionSet), answer: func(rev int64) *client.Response {
		return &client.Response{Action: actionSet, Node: w.node(w.o.Dir, created, rev, value), PrevNode: prev}
	}}, nil
}

func (w *setWrite) create(v *pathView) (*plan, error) {
	l := w.k.l
	missing, reap, err := v.createPath()
	if err != nil {
		return nil, err
	}
	if reap != "" {
		return nil, reapFirst{reap}
	}
	if v.dir != nil || v.file != nil {
		return nil, v2Error(client.ErrorCodeNodeExist, w.key, v.rev)
	}
	ops := w.ancestors(missing)
	if w.o.Dir {
		if v.orphansBelow() {
			return nil, reapFirst{w.key}
		}
		ops = append(ops, clientv3.OpPut(l.DirKey(w.key), "", w.putOpts()...))
	} else {
		ops = append(ops, clientv3.OpPut(l.FileKey(w.key), w.value, w.putOpts()...))
	}
	return &plan{ops: ops, record: w.record(actionCreate), answer: func(rev int64) *client.Response {
		return &client.Response{Action: actionCreate, Node: w.node(w.o.Dir, 0, rev, w.value)}
	}}, nil
}

func (w *setWrite) update(v *pathView) (*plan, error) {
	l := w.k.l
	kv, dir, err := v.lookup()
	if err != nil {
		return nil, err
	}
	if dir && w.value != "" {
		return nil, v2Error(client.ErrorCodeNotFile, w.key, v.rev)
	}
	value := w.value
	if w.o.Refresh && !dir {
		value = string(kv.Value)
	}
	var ops []clientv3.Op
	record := w.record(actionUpdate)
	if dir {
		if w.lease == 0 && kv.Lease == 0 {
			// v2 keeps a directory's ModifiedIndex when only its (absent)
			// TTL is "updated": the marker stays; the record alone makes
			// the revision and tells watchers which node changed.
			record = dirRecord(record, kv.CreateRevision, kv.ModRevision)
		} else {
			ops = append(ops, clientv3.OpPut(l.DirKey(w.key), "", w.putOpts()...))
		}
	} else {
		ops = append(ops, clientv3.OpPut(l.FileKey(w.key), value, w.putOpts()...))
	}
	prev, err := w.prevNode(w.ctx, v)
	if err != nil {
		return nil, err
	}
	return &plan{ops: ops, record: record, answer: func(rev int64) *client.Response {
		return &client.Response{Action: actionUpdate, Node: w.node(dir, kv.CreateRevision, rev, value), PrevNode: prev}
	}}, nil
}

func (w *setWrite) compareAndSwap(v *pathView) (*plan, error) {
	l := w.k.l
	kv, dir, err := v.lookup()
	if err != nil {
		return nil, err
	}
	if dir {
		return nil, v2Error(client.ErrorCodeNotFile, w.key, v.rev)
	}
	if cause, ok := compareFailed(string(kv.Value), kv.ModRevision, w.o.PrevValue, w.o.PrevIndex); !ok {
		return nil, v2Error(client.ErrorCodeTestFailed, cause, v.rev)
	}
	value := w.value
	if w.o.Refresh {
		value = string(kv.Value)
	}
	ops := []clientv3.Op{clientv3.OpPut(l.FileKey(w.key), value, w.putOpts()...)}
	prev, err := w.prevNode(w.ctx, v)
	if err != nil {
		return nil, err
	}
	return &plan{ops: ops, record: w.record(actionCompareAndSwap), answer: func(rev int64) *client.Response {
		return &client.Response{Action: actionCompareAndSwap, Node: w.node(false, kv.CreateRevision, rev, value), PrevNode: prev}
	}}, nil
}

// compareFailed checks a compare-and-swap or -delete condition as the v2
// store does and returns its cause when it fails.
func compareFailed(value string, mod int64, prevValue string, prevIndex uint64) (string, bool) {
	indexOK := prevIndex == 0 || uint64(mod) == prevIndex
	valueOK := prevValue == "" || value == prevValue
	switch {
	case indexOK && valueOK:
		return "", true
	case indexOK:
		return fmt.Sprintf("[%v != %v]", prevValue, value), false
	case valueOK:
		return fmt.Sprintf("[%v != %v]", prevIndex, strconv.FormatInt(mod, 10)), false
	default:
		return fmt.Sprintf("[%v != %v] [%v != %v]", prevValue, value, prevIndex, mod), false
	}
}
