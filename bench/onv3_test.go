package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	v2keys "github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The onv3 benchmarks put three clients side by side on one etcd 3.4
// process started with --enable-v2, over the same keys:
//
//   - onv3: the v2 KeysAPI of github.com/v2keys/client/onv3 on the v3 API;
//   - clientv3: raw go.etcd.io/etcd/client/v3 doing the least work the same
//     v2 operation needs (the floor onv3 is measured against), on the same
//     clientv3 client as onv3;
//   - v3txn: raw clientv3 doing the least a v3 client must do to keep the
//     v2 operation's meaning, without onv3's action records: one
//     transaction that reads (get) or writes (set, cas) the key only while
//     its directories exist and it is no directory, returning the previous
//     value (v2 answers with prevNode). It separates what the v2 semantics
//     cost on v3 from what onv3 adds;
//   - v2: this repository's root client on the native v2 API, with the
//     same guarantee (Quorum reads).
//
// They run with BENCH_ONV3=1 (compare.sh --onv3) or BENCH_SMOKE=1
// (compare.sh --smoke, on small sizes); otherwise they are skipped, so that
// the default v2keys-versus-upstream run stays as it was.

// onv3Impls are the clients of the onv3 benchmarks; BENCH_ROUND rotates
// which one runs first.
func onv3Impls(tb testing.TB) []string {
	all := []string{"onv3", "clientv3", "v3txn", "v2"}
	round := 0
	if s := os.Getenv("BENCH_ROUND"); s != "" {
		r, err := strconv.Atoi(s)
		if err != nil {
			tb.Fatalf("BENCH_ROUND=%q: %v", s, err)
		}
		round = r % len(all)
	}
	return append(all[round:], all[:round]...)
}

// onv3Asked reports whether the onv3 benchmarks were asked for at full
// size (BENCH_ONV3=1, compare.sh --onv3).
func onv3Asked() bool { return os.Getenv("BENCH_ONV3") == "1" }

// smokeOnly reports whether the onv3 benchmarks run only as CI's smoke
// run (compare.sh --smoke), at small sizes.
func smokeOnly() bool { return smoke() && !onv3Asked() }

// onv3Enabled skips b unless the onv3 benchmarks were asked for.
func onv3Enabled(b *testing.B) {
	b.Helper()
	if !onv3Asked() && !smoke() {
		b.Skip("onv3 benchmarks run with BENCH_ONV3=1 (compare.sh --onv3) or BENCH_SMOKE=1")
	}
	etcdtest.Require(b)
}

// onv3Env is one etcd serving v2 and v3, with the three clients.
type onv3Env struct {
	url    string
	pid    int              // the etcd process
	cli    *clientv3.Client // shared by onv3 and clientv3
	prefix string           // onv3's layout prefix
	onv3   v2keys.KeysAPI
	v2     v2keys.KeysAPI
}

func newOnV3Env(b *testing.B) *onv3Env {
	b.Helper()
	c := etcdtest.StartCluster(b, etcdtest.Options{API: etcdtest.V2})
	url := c.ClientURLs()[0]
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	c2, err := v2keys.New(v2keys.Config{Endpoints: []string{url}})
	if err != nil {
		b.Fatal(err)
	}
	const prefix = "/onv3bench"
	return &onv3Env{url: url, pid: c.Members()[0].PID(), cli: cli, prefix: prefix, onv3: onv3.NewKeysAPI(cli, prefix), v2: v2keys.NewKeysAPI(c2)}
}

// onv3Op is one operation of one client, run by worker (0 to conc-1); each
// worker touches keys of its own.
type onv3Op func(ctx context.Context, worker int) error

// onv3OpSet is, for one client, the operation of each kind, once the keys
// it needs are set up (untimed).
type onv3OpSet struct {
	get, set, cas onv3Op
}

// BenchmarkOnV3 times one-key Get (quorum), Set of an existing key and
// compare-and-swap by index at 1 and 16 goroutines through onv3, raw
// clientv3 (Get, Put, a Txn comparing ModRevision) and native v2.
func BenchmarkOnV3(b *testing.B) {
	onv3Enabled(b)
	e := newOnV3Env(b)
	ctx := context.Background()
	const workers = 16
	if _, err := e.onv3.Set(ctx, "/ob/key", keyValue, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := e.v2.Set(ctx, "/ob/key", keyValue, nil); err != nil {
		b.Fatal(err)
	}
	setKey := func(w int) string { return fmt.Sprintf("/ob/set/w%02d", w) }
	casKey := func(w int) string { return fmt.Sprintf("/ob/cas/w%02d", w) }

	// Each worker's compare-and-swap key keeps the index its next swap
	// expects; raw clientv3 writes keys of its own (below /raw), so that
	// onv3's indexes stay valid.
	mkSets := map[string]func() onv3OpSet{
		"onv3": func() onv3OpSet { return keysOps(b, e.onv3, setKey, casKey, workers) },
		"v2":   func() onv3OpSet { return keysOps(b, e.v2, setKey, casKey, workers) },
		"clientv3": func() onv3OpSet {
			idx := make([]int64, workers)
			for w := range workers {
				r, err := e.cli.Put(ctx, e.prefix+"/raw"+casKey(w), "0")
				if err != nil {
					b.Fatal(err)
				}
				idx[w] = r.Header.Revision
			}
			return onv3OpSet{
				get: func(ctx context.Context, _ int) error {
					_, err := e.cli.Get(ctx, e.prefix+"/ob/key")
					return err
				},
				set: func(ctx context.Context, w int) error {
					_, err := e.cli.Put(ctx, e.prefix+"/raw"+setKey(w), keyValue)
					return err
				},
				cas: func(ctx context.Context, w int) error {
					k := e.prefix + "/raw" + casKey(w)
					t, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", idx[w])).Then(clientv3.OpPut(k, keyValue)).Commit()
					if err != nil {
						return err
					}
					if !t.Succeeded {
						return fmt.Errorf("clientv3: compare-and-swap of %s at %d failed", k, idx[w])
					}
					idx[w] = t.Header.Revision
					return nil
				},
			}
		},
	}
	mkSets["v3txn"] = func() onv3OpSet { return v3txnOps(b, e, setKey, casKey, workers) }
	sets := map[string]onv3OpSet{}
	for name, mk := range mkSets {
		sets[name] = mk()
	}
	for _, op := range []string{"get", "set", "cas"} {
		for _, conc := range []int{1, workers} {
			b.Run(fmt.Sprintf("op=%s/conc=%d", op, conc), func(b *testing.B) {
				for _, im := range onv3Impls(b) {
					b.Run("impl="+im, func(b *testing.B) {
						s := sets[im]
						f := map[string]onv3Op{"get": s.get, "set": s.set, "cas": s.cas}[op]
						if err := f(ctx, 0); err != nil { // warm the connection
							b.Fatal(err)
						}
						b.ReportAllocs()
						var m cpuMeter
						m.start(e.pid)
						runConcurrent(b, conc, f)
						m.report(b)
					})
				}
			})
		}
	}
}

// keysOps are the operations of a v2 KeysAPI (onv3 or native v2).
func keysOps(b *testing.B, k v2keys.KeysAPI, setKey, casKey func(int) string, workers int) onv3OpSet {
	b.Helper()
	ctx := context.Background()
	idx := make([]uint64, workers)
	for w := range workers {
		r, err := k.Set(ctx, casKey(w), "0", nil)
		if err != nil {
			b.Fatal(err)
		}
		idx[w] = r.Node.ModifiedIndex
	}
	quorum := &v2keys.GetOptions{Quorum: true}
	return onv3OpSet{
		get: func(ctx context.Context, _ int) error {
			_, err := k.Get(ctx, "/ob/key", quorum)
			return err
		},
		set: func(ctx context.Context, w int) error {
			_, err := k.Set(ctx, setKey(w), keyValue, nil)
			return err
		},
		cas: func(ctx context.Context, w int) error {
			r, err := k.Set(ctx, casKey(w), keyValue, &v2keys.SetOptions{PrevIndex: idx[w]})
			if err != nil {
				return err
			}
			idx[w] = r.Node.ModifiedIndex
			return nil
		},
	}
}

// v3txnOps are the v3txn operations: single transactions with the
// conditions of the v2 operation (the directories above the key exist,
// the key is no directory) on keys of their own (below /txn).
func v3txnOps(b *testing.B, e *onv3Env, setKey, casKey func(int) string, workers int) onv3OpSet {
	b.Helper()
	ctx := context.Background()
	l := onv3.Layout{Prefix: e.prefix}
	conds := func(key string) []clientv3.Cmp {
		var cmps []clientv3.Cmp
		for _, a := range onv3.Ancestors(key) {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(l.DirKey(a)), ">", 0))
		}
		return append(cmps, clientv3.Compare(clientv3.CreateRevision(l.DirKey(key)), "=", 0))
	}
	idx := make([]int64, workers)
	for w := range workers {
		for _, k := range []string{setKey(w), casKey(w)} {
			// Through onv3, so that the directories' markers exist.
			r, err := e.onv3.Set(ctx, "/txn"+k, "0", nil)
			if err != nil {
				b.Fatal(err)
			}
			idx[w] = int64(r.Node.ModifiedIndex)
		}
	}
	getKey := "/ob/key"
	getOps := []clientv3.Op{clientv3.OpGet(l.FileKey(getKey)), clientv3.OpGet(l.DirKey(getKey))}
	for _, a := range onv3.Ancestors(getKey) {
		getOps = append(getOps, clientv3.OpGet(l.DirKey(a)))
	}
	return onv3OpSet{
		get: func(ctx context.Context, _ int) error {
			_, err := e.cli.Txn(ctx).Then(getOps...).Commit()
			return err
		},
		set: func(ctx context.Context, w int) error {
			k := "/txn" + setKey(w)
			t, err := e.cli.Txn(ctx).If(conds(k)...).Then(clientv3.OpPut(l.FileKey(k), keyValue, clientv3.WithPrevKV())).Commit()
			if err == nil && !t.Succeeded {
				err = fmt.Errorf("v3txn: set of %s failed", k)
			}
			return err
		},
		cas: func(ctx context.Context, w int) error {
			k := "/txn" + casKey(w)
			cmps := append(conds(k), clientv3.Compare(clientv3.ModRevision(l.FileKey(k)), "=", idx[w]))
			t, err := e.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(l.FileKey(k), keyValue, clientv3.WithPrevKV())).Commit()
			if err != nil {
				return err
			}
			if !t.Succeeded {
				return fmt.Errorf("v3txn: compare-and-swap of %s at %d failed", k, idx[w])
			}
			idx[w] = t.Header.Revision
			return nil
		},
	}
}

// BenchmarkOnV3RecursiveGet times a recursive Get of a subtree of 100
// directories of 1,000 keys (10 of 100 under BENCH_SMOKE) through onv3 and
// native v2 (Quorum, unsorted), beside one raw clientv3 range Get of the
// subtree's keys (the least a v3 client can do to read it). The same
// keys and values are in v2 and, in onv3's layout, in v3.
func BenchmarkOnV3RecursiveGet(b *testing.B) {
	onv3Enabled(b)
	dirs, per, label := 100, 1000, "100k"
	if smokeOnly() {
		dirs, per, label = 10, 100, "1k"
	}
	e := newOnV3Env(b)
	fillOnV3Tree(b, e, dirs, per)
	start, end := onv3.Layout{Prefix: e.prefix}.Below("/big")
	ctx := context.Background()
	// get reads the tree once; count counts what a read returned (only
	// the first, untimed read is counted).
	get := map[string]func() (any, error){
		"clientv3": func() (any, error) { return e.cli.Get(ctx, start, clientv3.WithRange(end)) },
		"onv3": func() (any, error) {
			return e.onv3.Get(ctx, "/big", &v2keys.GetOptions{Recursive: true, Quorum: true})
		},
		"v2": func() (any, error) {
			return e.v2.Get(ctx, "/big", &v2keys.GetOptions{Recursive: true, Quorum: true})
		},
	}
	count := func(r any) int {
		if raw, ok := r.(*clientv3.GetResponse); ok {
			return len(raw.Kvs)
		}
		return keysCount(r.(*v2keys.Response).Node.Nodes)
	}
	want := map[string]int{"clientv3": 1 + dirs*(per+1), "onv3": dirs * (per + 1), "v2": dirs * (per + 1)}
	b.Run("keys="+label, func(b *testing.B) {
		for _, im := range onv3Impls(b) {
			if get[im] == nil {
				continue // v3txn: one range Get is the floor already
			}
			b.Run("impl="+im, func(b *testing.B) {
				// One untimed read checks that the whole tree arrives.
				r, err := get[im]()
				if err != nil {
					b.Fatalf("%s: %v", im, err)
				}
				if n := count(r); n != want[im] {
					b.Fatalf("%s: %d nodes, want %d", im, n, want[im])
				}
				b.ReportAllocs()
				var m cpuMeter
				m.start(e.pid)
				for b.Loop() {
					if _, err := get[im](); err != nil {
						b.Fatal(err)
					}
				}
				m.report(b)
			})
		}
	})
}

// keysCount counts ns and the nodes below them.
func keysCount(ns v2keys.Nodes) int {
	n := len(ns)
	for _, c := range ns {
		n += keysCount(c.Nodes)
	}
	return n
}

// fillOnV3Tree writes /big/dNNN/kNNNN (dirs x per keys) into v2 with 16
// concurrent Sets, and the same tree in onv3's layout into v3 with raw
// batched transactions (markers included, no action records).
func fillOnV3Tree(b *testing.B, e *onv3Env, dirs, per int) {
	b.Helper()
	ctx := context.Background()
	l := onv3.Layout{Prefix: e.prefix}
	const value = "some value of a key"
	keyOf := func(i int) (dir, key string) {
		dir = fmt.Sprintf("/big/d%03d", i/per)
		return dir, fmt.Sprintf("%s/k%04d", dir, i%per)
	}
	ops := []clientv3.Op{clientv3.OpPut(l.DirKey("/big"), "")}
	flush := func() {
		if _, err := e.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := range dirs * per {
		dir, key := keyOf(i)
		if i%per == 0 {
			ops = append(ops, clientv3.OpPut(l.DirKey(dir), ""))
		}
		ops = append(ops, clientv3.OpPut(l.FileKey(key), value))
		if len(ops) >= 100 {
			flush()
		}
	}
	flush()

	errs := make(chan error, 16)
	for g := range 16 {
		go func() {
			for i := g; i < dirs*per; i += 16 {
				_, key := keyOf(i)
				if _, err := e.v2.Set(ctx, key, value, nil); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
