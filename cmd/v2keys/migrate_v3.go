package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/v2keys/client/onv3"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The v3 side of migrate: the client, the target range, batched writes
// (one Txn per batch), and leases shared by keys that expire in the same
// second.

const (
	// maxTxnOps is etcd's default --max-txn-ops: the size of the copy's
	// transactions (commitWire and commitSplit halve a batch that a
	// cluster with a lower limit refuses).
	maxTxnOps = 128
	// maxBatchOps is the size of a followed batch: below maxTxnOps,
	// leaving room for the state update that rides along with it.
	maxBatchOps = 100
	// maxBatchBytes stays well below etcd's default --max-request-bytes
	// (1.5 MiB).
	maxBatchBytes = 1 << 20
)

// newV3Client connects to the v3 endpoints (comma-separated, or the v2
// endpoints when empty) with the TLS settings and credentials of the global
// flags, and checks that they answer within --total-timeout, so that an
// unreachable target is a clear error before anything is read or written.
func (e *env) newV3Client(endpoints string) (*clientv3.Client, error) {
	var eps []string
	if endpoints == "" {
		list, err := e.endpointList()
		if err != nil {
			return nil, err
		}
		eps = list
	} else {
		for _, ep := range strings.Split(endpoints, ",") {
			if ep = strings.TrimSpace(ep); ep == "" {
				continue
			}
			if !strings.Contains(ep, "://") {
				ep = "http://" + ep
			}
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return nil, errors.New("no v3 endpoints")
	}
	cfg := clientv3.Config{
		Endpoints:   eps,
		DialTimeout: e.g.timeout,
		Logger:      zap.NewNop(),
	}
	for _, ep := range eps {
		if strings.HasPrefix(ep, "https://") {
			tr, err := e.newTransport()
			if err != nil {
				return nil, err
			}
			cfg.TLS = tr.TLSClientConfig.Clone()
			if cfg.TLS == nil {
				cfg.TLS = &tls.Config{}
			}
			break
		}
	}
	user, pass, err := e.credentials()
	if err != nil {
		return nil, err
	}
	cfg.Username, cfg.Password = user, pass
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("v3 endpoints %s: %w", strings.Join(eps, ","), err)
	}
	ctx, cancel := e.requestContext()
	defer cancel()
	if _, err := cli.Get(ctx, "v2keys-probe", clientv3.WithCountOnly()); err != nil {
		cli.Close()
		if e.ctx.Err() != nil {
			return nil, e.ctx.Err()
		}
		return nil, fmt.Errorf("v3 endpoints %s do not answer: %w", strings.Join(eps, ","), err)
	}
	return cli, nil
}

// target is the v3 range a v2 subtree is copied to, in onv3's layout
// (onv3/README.md, "Layout"; the functions are onv3's, so that what
// migrate writes reads through onv3 as it read in v2): v2 file K becomes
// v3 key prefix+K, directory D the marker prefix+D+"/"; the subtree root S
// becomes prefix+S (or its marker) and everything below it prefix+S+"/...".
type target struct {
	subtree string // v2 key, canonical ("/" or "/a/b")
	prefix  string // v3 prefix, without trailing "/"
}

func (t target) layout() onv3.Layout { return onv3.Layout{Prefix: t.prefix} }

// v3Key is the v3 key of the v2 file key.
func (t target) v3Key(v2key string) string { return t.layout().FileKey(v2key) }

// dirKey is the v3 marker of the v2 directory key (not the root).
func (t target) dirKey(v2key string) string { return t.layout().DirKey(v2key) }

// inside reports whether the v2 key is the subtree root or below it.
func (t target) inside(v2key string) bool {
	return t.subtree == "/" || v2key == t.subtree || strings.HasPrefix(v2key, t.subtree+"/")
}

// v2Under is the v2 prefix of every key below the subtree.
func (t target) v2Under() string {
	if t.subtree == "/" {
		return "/"
	}
	return t.subtree + "/"
}

// root is the v3 key of the subtree root ("" when the subtree is "/",
// which has no key of its own); under is the v3 prefix of everything below.
func (t target) root() string {
	if t.subtree == "/" {
		return ""
	}
	return t.prefix + t.subtree
}

func (t target) under() string {
	if t.subtree == "/" {
		return t.prefix + "/"
	}
	return t.prefix + t.subtree + "/"
}

// contains reports whether the v3 key k is in the target range.
func (t target) contains(k string) bool {
	return (t.root() != "" && k == t.root()) || strings.HasPrefix(k, t.under())
}

// scanPage is the page size of scan. etcd walks the whole rest of the
// range for every page (to count it: 3.5's treeIndex.Revisions), so a page costs time
// in proportion to what is left: 10000 keys (a few MB) keep a 1M-key scan
// to 100 walks where pages of 1000 took 1000.
const scanPage = 10000

// scan calls fn with every key-value of the target range, in pages of
// scanPage read at one revision (the first page's), values included unless
// keysOnly. It returns the revision read.
func (t target) scan(ctx context.Context, cli *clientv3.Client, keysOnly bool, fn func(kv *kvView) error) (int64, error) {
	var rev int64
	visit := func(start, end string) error {
		for {
			opts := []clientv3.OpOption{clientv3.WithLimit(scanPage)}
			if end != "" {
				opts = append(opts, clientv3.WithRange(end))
			}
			if keysOnly {
				opts = append(opts, clientv3.WithKeysOnly())
			}
			if rev != 0 {
				opts = append(opts, clientv3.WithRev(rev))
			}
			resp, err := cli.Get(ctx, start, opts...)
			if err != nil {
				return err
			}
			if rev == 0 {
				rev = resp.Header.Revision
			}
			for _, kv := range resp.Kvs {
				if err := fn(&kvView{Key: string(kv.Key), Value: kv.Value, Lease: kv.Lease, ModRevision: kv.ModRevision}); err != nil {
					return err
				}
			}
			if !resp.More || end == "" || len(resp.Kvs) == 0 {
				return nil
			}
			start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
	if r := t.root(); r != "" {
		if err := visit(r, ""); err != nil {
			return rev, err
		}
	}
	u := t.under()
	return rev, visit(u, clientv3.GetPrefixRangeEnd(u))
}

// each calls fn with every key-value of the target range that the options
// (filters such as WithMaxModRev) select, read in one request per part of
// the range (the root key, the keys under it). Unlike a paged scan, whose
// every page costs etcd 3.4 a walk of the whole remaining range, this
// walks it once (a filter makes etcd read the range without a limit
// anyway); the answer holds only the selected keys (values too, unless
// keysOnly).
func (t target) each(cli *clientv3.Client, keysOnly bool, filters []clientv3.OpOption, fn func(kv *kvView)) error {
	read := func(key string, opts ...clientv3.OpOption) error {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		opts = append(opts, filters...)
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		resp, err := cli.Get(ctx, key, opts...)
		if err != nil {
			return fmt.Errorf("v3 read: %w", err)
		}
		for _, kv := range resp.Kvs {
			fn(&kvView{Key: string(kv.Key), Value: kv.Value, Lease: kv.Lease, ModRevision: kv.ModRevision})
		}
		return nil
	}
	if r := t.root(); r != "" {
		if err := read(r); err != nil {
			return err
		}
	}
	return read(t.under(), clientv3.WithPrefix())
}

// kvView is the part of a v3 key-value that migrate looks at.
type kvView struct {
	Key         string
	Value       []byte
	Lease       int64
	ModRevision int64
}

// leases hands out one lease per expiration second: every key whose v2
// expiration falls in the same second shares it. Safe for concurrent use.
type leases struct {
	cli     *clientv3.Client
	mu      sync.Mutex
	bySec   map[int64]clientv3.LeaseID
	granted int64
}

func newLeases(cli *clientv3.Client) *leases {
	return &leases{cli: cli, bySec: map[int64]clientv3.LeaseID{}}
}

// forExpiration returns the lease for a key expiring at exp, granting it
// with the time left (rounded up to whole seconds) if needed; ok is false
// when exp has passed.
func (l *leases) forExpiration(ctx context.Context, exp time.Time) (id clientv3.LeaseID, ok bool, err error) {
	now := time.Now()
	sec := int64(math.Ceil(float64(exp.UnixNano()) / 1e9))
	ttl := sec - now.Unix()
	if !exp.After(now) || ttl <= 0 {
		return 0, false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if id, found := l.bySec[sec]; found {
		return id, true, nil
	}
	for s := range l.bySec { // forget leases that have run out
		if s < now.Unix() {
			delete(l.bySec, s)
		}
	}
	resp, err := l.cli.Grant(ctx, ttl)
	if err != nil {
		return 0, false, fmt.Errorf("v3 lease grant: %w", err)
	}
	l.bySec[sec] = resp.ID
	l.granted++
	return resp.ID, true, nil
}

func (l *leases) count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.granted
}

// batch collects the operations of one Txn. etcd refuses a Txn that
// touches one key twice or puts a key inside a range it deletes, so
// conflicts reports whether an operation must wait for the next batch.
type batch struct {
	max      int // operations per Txn; 0 means maxBatchOps
	ops      []clientv3.Op
	keys     map[string]bool
	prefixes []string // deleted prefixes
	bytes    int
	puts     int64
	putBytes int64
	dirs     int64 // directory markers among the puts
	deletes  int64
}

func (b *batch) reset() {
	b.ops = b.ops[:0]
	clear(b.keys)
	b.prefixes = b.prefixes[:0]
	b.bytes, b.puts, b.putBytes, b.deletes, b.dirs = 0, 0, 0, 0, 0
}

func (b *batch) full() bool {
	limit := b.max
	if limit == 0 {
		limit = maxBatchOps
	}
	return len(b.ops) >= limit || b.bytes >= maxBatchBytes
}

func (b *batch) conflicts(key, prefix string) bool {
	if b.keys[key] {
		return true
	}
	for _, p := range b.prefixes {
		if strings.HasPrefix(key, p) || (prefix != "" && (strings.HasPrefix(p, prefix) || strings.HasPrefix(prefix, p))) {
			return true
		}
	}
	if prefix != "" {
		for k := range b.keys {
			if strings.HasPrefix(k, prefix) {
				return true
			}
		}
	}
	return false
}

func (b *batch) put(key string, value string, lease clientv3.LeaseID) {
	if b.keys == nil {
		b.keys = map[string]bool{}
	}
	var opts []clientv3.OpOption
	if lease != 0 {
		opts = append(opts, clientv3.WithLease(lease))
	}
	b.ops = append(b.ops, clientv3.OpPut(key, value, opts...))
	b.keys[key] = true
	b.bytes += len(key) + len(value) + 16
	b.puts++
	b.putBytes += int64(len(key) + len(value))
}

// putDir writes a directory marker (empty, with the directory's lease if
// it has a TTL); it counts as a directory, not as a key.
func (b *batch) putDir(key string, lease clientv3.LeaseID) {
	b.put(key, "", lease)
	b.puts--
	b.putBytes -= int64(len(key))
	b.dirs++
}

// del deletes key, and with prefix also every key starting with prefix.
func (b *batch) del(key, prefix string) {
	if b.keys == nil {
		b.keys = map[string]bool{}
	}
	b.ops = append(b.ops, clientv3.OpDelete(key))
	b.keys[key] = true
	if prefix != "" {
		b.ops = append(b.ops, clientv3.OpDelete(prefix, clientv3.WithPrefix()))
		b.prefixes = append(b.prefixes, prefix)
	}
	b.bytes += len(key) + len(prefix) + 16
	b.deletes++
}

// writeTimeout bounds one Txn; it runs on its own context so that an
// interruption lets the batch in flight finish.
const writeTimeout = 30 * time.Second

// commitSplit writes ops in one Txn guarded as the copy's are (it applies
// only while ModRevision(stateKey) == rev, else errStateChanged, so a late
// Txn of a run that was killed cannot undo what a newer run wrote), or,
// when the cluster refuses a Txn that large (a --max-txn-ops or
// --max-request-bytes below the defaults), in two halves, recursively.
// The operations are independent, so the split changes nothing but the
// number of revisions.
func commitSplit(cli *clientv3.Client, stateKey string, rev int64, ops []clientv3.Op) error {
	err := commitGuarded(cli, stateKey, rev, ops)
	if len(ops) > 1 && (errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge)) {
		if err := commitSplit(cli, stateKey, rev, ops[:len(ops)/2]); err != nil {
			return err
		}
		return commitSplit(cli, stateKey, rev, ops[len(ops)/2:])
	}
	return err
}

// commitGuarded writes ops in one Txn if ModRevision(stateKey) == rev.
func commitGuarded(cli *clientv3.Client, stateKey string, rev int64, ops []clientv3.Op) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(stateKey), "=", rev)).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("v3 write: %w", err)
	}
	if !resp.Succeeded {
		return errStateChanged
	}
	return nil
}
