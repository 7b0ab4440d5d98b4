package onv3

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/v2keys/client"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// inOrderDigits is the width of the names CreateInOrder gives, as v2.
const inOrderDigits = 20

// CreateInOrder creates a key in dir named by a 20-digit zero-padded
// number, as v2 does, in one transaction that also creates dir if needed.
// The number is the next revision at the time of the read, or one more than
// the greatest such name in dir if that is larger; the transaction commits
// only if no name from it on was written since, so names are unique and
// increase in creation order also under concurrency. Its reads and
// compares do not grow with the number of names in dir. Unlike v2 the name
// need not equal the node's CreatedIndex (other writes may come between
// the read and the commit).
func (k *keysAPI) CreateInOrder(ctx context.Context, dir, value string, opts *client.CreateInOrderOptions) (*client.Response, error) {
	var o client.CreateInOrderOptions
	if opts != nil {
		o = *opts
	}
	if strings.IndexByte(dir, 0) >= 0 {
		return nil, errNUL
	}
	dir = Canonical(dir)
	if o.TTL > 0 && o.TTL < time.Second {
		return nil, unsupported("a TTL under one second")
	}
	var lease clientv3.LeaseID
	var leaseTTL int64
	if o.TTL > 0 {
		resp, err := k.c.Grant(ctx, int64(o.TTL/time.Second))
		if err != nil {
			return nil, readErr(ctx, err)
		}
		lease, leaseTTL = resp.ID, resp.TTL
	}
	l := k.l
	decide := func(v *pathView) (*plan, error) {
		var missing []string
		if dir != "/" {
			m, reap, err := v.createPath()
			if err != nil {
				return nil, err
			}
			if reap != "" {
				return nil, reapFirst{reap}
			}
			switch {
			case v.dir != nil:
			case v.file != nil:
				return nil, v2Error(client.ErrorCodeNotDir, dir, v.rev)
			case v.orphansBelow():
				return nil, reapFirst{dir}
			default:
				m = append(m, dir)
			}
			missing = m
		}
		// Every name onv3 gave is at most the revision of its commit (it
		// is one more than a revision read before, or than a name that
		// obeys the same bound), so only names above the path's read
		// revision can exceed the next revision: those (normally none;
		// a migrated or plain v3 writer may have made some) are read, not
		// the whole queue, which etcd would read and count in full.
		start, _ := l.Below(dir)
		hi := start + strings.Repeat("9", inOrderDigits) + "\xff"
		resp, err := k.c.Get(ctx, inOrderName(start, v.rev+1), clientv3.WithRange(hi), clientv3.WithKeysOnly())
		if err != nil {
			return nil, readErr(ctx, err)
		}
		next := resp.Header.Revision + 1
		for i := len(resp.Kvs) - 1; i >= 0; i-- {
			name := strings.TrimPrefix(string(resp.Kvs[i].Key), start)
			if len(name) < inOrderDigits {
				continue
			}
			if n, err := strconv.ParseInt(name[:inOrderDigits], 10, 64); err == nil && n >= next {
				next = n + 1
			}
			break
		}
		key := strings.TrimPrefix(inOrderName(start, next), l.Prefix)
		var ops []clientv3.Op
		for _, d := range missing {
			ops = append(ops, clientv3.OpPut(l.DirKey(d), ""))
		}
		var po []clientv3.OpOption
		if lease != 0 {
			po = append(po, clientv3.WithLease(lease))
		}
		ops = append(ops, clientv3.OpPut(l.FileKey(key), value, po...))
		// No name from next on was written since the read: the name is
		// new, and greater than every name created before it. (Smaller
		// names created since were created, and named, before it.)
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(inOrderName(start, next)), "<", resp.Header.Revision+1).WithRange(hi)}
		return &plan{cmps: cmps, ops: ops, record: actionCreate, recordKey: key, answer: func(rev int64) *client.Response {
			n := &client.Node{Key: key, Value: value, CreatedIndex: uint64(rev), ModifiedIndex: uint64(rev)}
			if lease != 0 {
				setTTL(n, leaseTTL)
			}
			return &client.Response{Action: actionCreate, Node: n}
		}}, nil
	}
	// For the root, the path read is harmless: the root has no key.
	resp, err := k.write(ctx, dir, readDir, decide, nil)
	if err != nil && lease != 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = k.c.Revoke(rctx, lease)
		cancel()
	}
	return resp, err
}

// inOrderName is the v3 key of the in-order name n in the directory whose
// range starts at start (Layout.Below).
func inOrderName(start string, n int64) string {
	return start + fmt.Sprintf("%0*d", inOrderDigits, n)
}
