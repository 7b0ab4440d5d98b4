package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxShownDiffs bounds the differences verify prints one by one.
const maxShownDiffs = 20

// verify compares the v2 subtree (read with Walk) with the v3 target
// range in onv3's layout: every v2 key must be in v3 with the same value,
// every v2 directory (but the root) must have its marker, each with a lease
// whose remaining TTL is within tolerance of the v2 node's if it has a TTL
// and without a lease otherwise, and v3 must have no other key (action
// records that onv3 writes beside its keys are not counted). It holds
// one entry per v2 key (the v3 key, a hash of the value and the
// expiration) while it reads the v3 side. It writes nothing.
func (m *migrator) verify(tolerance time.Duration) int {
	e := m.e
	type want struct {
		sum [sha256.Size]byte
		exp time.Time
	}
	wants := map[string]want{}
	v2dirs := 0
	res, err := client.Walk(e.ctx, m.v2, m.t.subtree, &client.WalkOptions{Quorum: true}, func(n *client.Node) error {
		if n.Dir && n.Key == "/" {
			return nil
		}
		w := want{sum: sha256.Sum256([]byte(n.Value))}
		if n.Expiration != nil {
			w.exp = *n.Expiration
		}
		if n.Dir {
			v2dirs++
			wants[m.t.dirKey(n.Key)] = w
			return nil
		}
		wants[m.t.v3Key(n.Key)] = w
		return nil
	})
	if err != nil {
		return e.fail(ExitServerError, fmt.Errorf("reading v2 %s: %w", m.t.subtree, err))
	}
	v2keys := len(wants) - v2dirs

	var missing, extra, differ, ttl, v3keys int
	shown := 0
	show := func(format string, args ...any) {
		if shown++; shown <= maxShownDiffs {
			fmt.Fprintf(e.stdout, format+"\n", args...)
		} else if shown == maxShownDiffs+1 {
			fmt.Fprintln(e.stdout, "(further differences not shown)")
		}
	}
	remaining := map[int64]time.Duration{} // lease ID → TTL left (negative: gone)
	leaseLeft := func(id int64) (time.Duration, error) {
		if d, ok := remaining[id]; ok {
			return d, nil
		}
		ctx, cancel := e.requestContext()
		defer cancel()
		resp, err := m.v3.TimeToLive(ctx, clientv3.LeaseID(id))
		if err != nil {
			return 0, err
		}
		d := time.Duration(resp.TTL) * time.Second
		remaining[id] = d
		return d, nil
	}
	layout := m.t.layout()
	_, err = m.t.scan(e.ctx, m.v3, false, func(kv *kvView) error {
		if _, kind := layout.Parse(kv.Key); kind == onv3.Record {
			return nil
		}
		v3keys++
		w, ok := wants[kv.Key]
		if !ok {
			extra++
			show("extra in v3: %s", kv.Key)
			return nil
		}
		delete(wants, kv.Key)
		if sha256.Sum256(kv.Value) != w.sum {
			differ++
			show("different value: %s", kv.Key)
			return nil
		}
		switch {
		case w.exp.IsZero() && kv.Lease != 0:
			ttl++
			show("TTL mismatch: %s: v3 key has a lease, v2 key has no TTL", kv.Key)
		case !w.exp.IsZero() && kv.Lease == 0:
			ttl++
			show("TTL mismatch: %s: v2 key expires in %v, v3 key has no lease", kv.Key, time.Until(w.exp).Round(time.Second))
		case !w.exp.IsZero():
			left, err := leaseLeft(kv.Lease)
			if err != nil {
				return err
			}
			v2left := time.Until(w.exp)
			if d := left - v2left; d > tolerance+time.Second || d < -tolerance-time.Second {
				ttl++
				show("TTL mismatch: %s: v2 key expires in %v, v3 lease in %v", kv.Key, v2left.Round(time.Second), left)
			}
		}
		return nil
	})
	if err != nil {
		return e.fail(ExitServerError, fmt.Errorf("reading v3 %q: %w", m.t.under(), err))
	}
	if len(wants) > 0 {
		keys := make([]string, 0, len(wants))
		for k := range wants {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			missing++
			show("missing in v3: %s", k)
		}
	}
	fmt.Fprintf(e.stdout, "verified v2 %s (index %d, %d keys, %d directories) against v3 %q (%d keys and markers): %d missing, %d extra, %d different values, %d TTL mismatches\n",
		m.t.subtree, res.Index, v2keys, v2dirs, m.t.under(), v3keys, missing, extra, differ, ttl)
	if missing+extra+differ+ttl > 0 {
		return ExitDifferent
	}
	return ExitSuccess
}

// cmdV3Get prints v3 keys (one, or all under a prefix with --prefix) as
// "key = value", with the time left on a key's lease: a small look at the
// v3 side of a migration without etcdctl.
func cmdV3Get(fs *flag.FlagSet) action {
	prefix := fs.Bool("prefix", false, "print every key that starts with <key>")
	v3eps := fs.String("v3-endpoints", "", "comma-separated v3 endpoints (default: the global endpoints)")
	return func(e *env, args []string) int {
		if len(args) == 0 {
			return e.fail(ExitBadArgs, fmt.Errorf("key required"))
		}
		cli, err := e.newV3Client(*v3eps)
		if err != nil {
			return e.fail(ExitBadConnection, err)
		}
		defer cli.Close()
		ctx, cancel := e.requestContext()
		defer cancel()
		var opts []clientv3.OpOption
		if *prefix {
			opts = append(opts, clientv3.WithPrefix())
		}
		resp, err := cli.Get(ctx, args[0], opts...)
		if err != nil {
			return e.fail(ExitServerError, err)
		}
		if len(resp.Kvs) == 0 && !*prefix {
			return e.fail(ExitServerError, fmt.Errorf("v3 key %q not found", args[0]))
		}
		for _, kv := range resp.Kvs {
			line := string(kv.Key) + " = " + strings.TrimRight(string(kv.Value), "\n")
			if kv.Lease != 0 {
				if l, err := cli.TimeToLive(ctx, clientv3.LeaseID(kv.Lease)); err == nil {
					line += fmt.Sprintf("  (lease %x, %ds left)", kv.Lease, l.TTL)
				}
			}
			fmt.Fprintln(e.stdout, line)
		}
		return ExitSuccess
	}
}
