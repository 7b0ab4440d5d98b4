package onv3

import (
	"context"
	"fmt"
	"strings"

	"github.com/v2keys/client"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Delete removes a key or directory as v2 does, in one v3 transaction: a
// recursive delete is the directory's marker and everything below it,
// removed by one range delete whatever the size of the tree.
func (k *keysAPI) Delete(ctx context.Context, key string, opts *client.DeleteOptions) (*client.Response, error) {
	var o client.DeleteOptions
	if opts != nil {
		o = *opts
	}
	if strings.IndexByte(key, 0) >= 0 {
		return nil, errNUL
	}
	key = Canonical(key)
	if key == "/" {
		rev, err := k.rootIndex(ctx)
		if err != nil {
			return nil, err
		}
		return nil, v2Error(client.ErrorCodeRootROnly, "/", rev)
	}
	if o.Recursive {
		o.Dir = true
	}
	mode := readKey
	if o.Dir && !o.Recursive {
		mode = readBelow // to tell whether the directory is empty
	}
	l := k.l
	return k.write(ctx, key, mode, func(v *pathView) (*plan, error) {
		kv, dir, err := v.lookup()
		if err != nil {
			return nil, err
		}
		var prev *client.Node
		if dir {
			prev = dirNode(key, kv)
		} else {
			prev = fileNode(key, kv)
		}
		if err := newTTLs(k.c).fill(ctx, prev, kv.Lease); err != nil {
			return nil, err
		}
		action := actionDelete
		var ops []clientv3.Op
		var cmps []clientv3.Cmp
		start, end := l.Below(key)
		switch {
		case o.PrevValue != "" || o.PrevIndex > 0:
			if dir {
				return nil, v2Error(client.ErrorCodeNotFile, key, v.rev)
			}
			if cause, ok := compareFailed(string(kv.Value), kv.ModRevision, o.PrevValue, o.PrevIndex); !ok {
				return nil, v2Error(client.ErrorCodeTestFailed, cause, v.rev)
			}
			action = actionCompareAndDelete
			ops = append(ops, clientv3.OpDelete(l.FileKey(key)))
		case !dir:
			ops = append(ops, clientv3.OpDelete(l.FileKey(key)))
		case !o.Dir:
			return nil, v2Error(client.ErrorCodeNotFile, key, v.rev)
		default:
			if !o.Recursive {
				for _, c := range v.below {
					if ck, kind := l.Parse(string(c.Key)); (kind == File || kind == Dir) && parentOf(ck) == key {
						return nil, v2Error(client.ErrorCodeDirNotEmpty, key, v.rev)
					}
				}
				// Still empty at commit: nothing below was written since.
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(start), "<", v.rev+1).WithRange(end))
			}
			// The marker and everything below it (orphans and records too).
			ops = append(ops, clientv3.OpDelete(start, clientv3.WithRange(end)))
		}
		return &plan{cmps: cmps, ops: ops, record: action, answer: func(rev int64) *client.Response {
			n := &client.Node{Key: key, Dir: dir, CreatedIndex: uint64(kv.CreateRevision), ModifiedIndex: uint64(rev)}
			return &client.Response{Action: action, Node: n, PrevNode: prev}
		}}, nil
	}, k.deleteFast(key, o))
}

// deleteFast is the plan of deleting a file whose directories exist (and
// whose condition holds), tried before anything is read.
func (k *keysAPI) deleteFast(key string, o client.DeleteOptions) *plan {
	l := k.l
	file := l.FileKey(key)
	cmps := append(k.ancestorsExist(key),
		clientv3.Compare(clientv3.CreateRevision(l.DirKey(key)), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(file), ">", 0))
	action := actionDelete
	if o.PrevValue != "" || o.PrevIndex > 0 {
		action = actionCompareAndDelete
		if o.PrevIndex > 0 {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(file), "=", int64(o.PrevIndex)))
		}
		if o.PrevValue != "" {
			cmps = append(cmps, clientv3.Compare(clientv3.Value(file), "=", o.PrevValue))
		}
	}
	return &plan{cmps: cmps, ops: []clientv3.Op{clientv3.OpDelete(file, clientv3.WithPrevKV())}, record: action,
		answerTxn: func(ctx context.Context, resp *clientv3.TxnResponse) (*client.Response, error) {
			prevs := resp.Responses[0].GetResponseDeleteRange().GetPrevKvs()
			if len(prevs) != 1 {
				return nil, fmt.Errorf("onv3: delete of %s: the server returned %d previous values", key, len(prevs))
			}
			prev := fileNode(key, prevs[0])
			if err := newTTLs(k.c).fill(ctx, prev, prevs[0].Lease); err != nil {
				return nil, err
			}
			n := &client.Node{Key: key, CreatedIndex: uint64(prevs[0].CreateRevision), ModifiedIndex: uint64(resp.Header.Revision)}
			return &client.Response{Action: action, Node: n, PrevNode: prev}, nil
		}}
}

// parentOf is the directory holding key ("/" for a top-level key).
func parentOf(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 {
		return "/"
	}
	return key[:i]
}
