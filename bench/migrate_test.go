package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// BenchmarkMigrate puts N keys into v2 of one etcd, then times, in
// alternating rounds on that same etcd, `v2keys migrate` (the built
// command, in its own process) against raw clientv3 batch writers putting
// the same keys (already in memory, untimed) into v3, one per shape of
// rawShapes. Each run writes a fresh prefix, which is deleted (and the
// revisions compacted) after it. Reported: medians of keys/s of migrate
// and of the best raw shape, their ratio, the peak RSS of the migrate
// process, and where the CPU went (medians, seconds per run): the migrate
// process's and the raw writer's (this process's) CPU time, and etcd's
// during each (when the benchmark started etcd itself). Both sides share
// the machine's two cores with etcd, so CPU time is what bounds them.
//
// It runs with BENCH_MIGRATE=1 (compare.sh --migrate) or BENCH_SMOKE=1
// (compare.sh --smoke: 2000 keys, one round, so that CI's run stays
// short); otherwise it is skipped, as it takes minutes. N is 100k by
// default (BENCH_MIGRATE_KEYS overrides it, e.g. 1000000), rounds
// BENCH_MIGRATE_ROUNDS (default 3). V2KEYS_BIN names a built v2keys;
// otherwise the benchmark builds ../cmd/v2keys. BENCH_MIGRATE_ENDPOINT
// names an etcd (v2 enabled) to use instead of starting one, and
// BENCH_MIGRATE_FILLED a v2 directory in it already holding the N keys
// (put as the benchmark puts them): the fill of 1M keys takes long.
func BenchmarkMigrate(b *testing.B) {
	if os.Getenv("BENCH_MIGRATE") != "1" && !smoke() {
		b.Skip("takes minutes: run it with BENCH_MIGRATE=1 (compare.sh --migrate)")
	}
	etcdtest.Require(b)
	n := envInt(b, "BENCH_MIGRATE_KEYS", 100000)
	rounds := envInt(b, "BENCH_MIGRATE_ROUNDS", 3)
	if smoke() {
		n, rounds = envInt(b, "BENCH_MIGRATE_KEYS", 2000), 1
	}
	bin := v2keysBinary(b)
	ep := os.Getenv("BENCH_MIGRATE_ENDPOINT")
	etcdPID := 0 // unknown for an etcd not started here: no etcd CPU figures
	if ep == "" {
		c := etcdtest.StartCluster(b, etcdtest.Options{API: etcdtest.V2, Flags: []string{"--quota-backend-bytes", "8589934592"}})
		ep = c.ClientURLs()[0]
		etcdPID = c.Members()[0].PID()
	}
	root := "/mb"
	if os.Getenv("BENCH_MIGRATE_FILLED") != "" {
		root = os.Getenv("BENCH_MIGRATE_FILLED")
	} else {
		start := time.Now()
		fillV2(b, ep, root, n)
		b.Logf("%d keys put into v2 in %v", n, time.Since(start).Round(time.Millisecond))
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	kvs := readV2(b, ep, root)
	if len(kvs) != n {
		b.Fatalf("read %d keys back from v2, put %d", len(kvs), n)
	}

	b.Run(fmt.Sprintf("keys=%s", countLabel(n)), func(b *testing.B) {
		var mig []float64
		var migCPU, migEtcd []time.Duration
		raw := map[string][]float64{}
		rawCPU, rawEtcd := map[string][]time.Duration{}, map[string][]time.Duration{}
		var rss int64
		for i := 0; i < b.N; i++ {
			for r := 0; r < rounds; r++ {
				runMigrate := func() {
					prefix := fmt.Sprintf("/mig%d-%d", i, r)
					e0 := etcdCPU(etcdPID)
					d, kib, cpu := timeMigrate(b, bin, ep, prefix, root, n)
					migEtcd = append(migEtcd, etcdCPU(etcdPID)-e0)
					mig = append(mig, float64(n)/d.Seconds())
					migCPU = append(migCPU, cpu)
					rss = max(rss, kib)
					clearV3(b, cli, prefix, "v2keys-migrate:"+prefix+root)
				}
				if r%2 == 1 {
					runMigrate()
				}
				for _, s := range rawShapes {
					prefix := fmt.Sprintf("/raw%d-%d", i, r)
					e0, c0 := etcdCPU(etcdPID), selfCPU()
					d := timeRaw(b, cli, prefix, kvs, s)
					rawCPU[s.String()] = append(rawCPU[s.String()], selfCPU()-c0)
					rawEtcd[s.String()] = append(rawEtcd[s.String()], etcdCPU(etcdPID)-e0)
					raw[s.String()] = append(raw[s.String()], float64(n)/d.Seconds())
					clearV3(b, cli, prefix, "")
				}
				if r%2 == 0 {
					runMigrate()
				}
			}
		}
		best, bestName := 0.0, ""
		for name, v := range raw {
			if m := median(v); m > best {
				best, bestName = m, name
			}
			b.Logf("raw %s: %.0f keys/s (rounds %.0f); CPU s: client %s, etcd %s", name, median(v), v, seconds(rawCPU[name]), seconds(rawEtcd[name]))
		}
		m := median(mig)
		b.Logf("migrate: %.0f keys/s (rounds %.0f), peak RSS %d KiB; CPU s: migrate process %s, etcd %s", m, mig, rss, seconds(migCPU), seconds(migEtcd))
		b.Logf("best raw %s %.0f keys/s; ratio %.2fx", bestName, best, m/best)
		b.ReportMetric(m, "migrate-keys/s")
		b.ReportMetric(best, "raw-keys/s")
		b.ReportMetric(m/best, "migrate/raw")
		b.ReportMetric(float64(rss), "migrate-peak-RSS-KiB")
		b.ReportMetric(medianDuration(migCPU).Seconds(), "migrate-cpu-s")
		b.ReportMetric(medianDuration(rawCPU[bestName]).Seconds(), "raw-client-cpu-s")
		if etcdPID != 0 {
			b.ReportMetric(medianDuration(migEtcd).Seconds(), "migrate-etcd-cpu-s")
			b.ReportMetric(medianDuration(rawEtcd[bestName]).Seconds(), "raw-etcd-cpu-s")
		}
		b.ReportMetric(0, "ns/op")
	})
}

// etcdCPU is processCPU of the etcd the benchmark started, and a large
// negative duration (shown as "-") when it did not start one.
func etcdCPU(pid int) time.Duration {
	if pid == 0 {
		return -time.Hour
	}
	return processCPU(pid)
}

// seconds formats CPU times of the rounds, "-" where unknown.
func seconds(v []time.Duration) string {
	f := make([]string, len(v))
	for i, d := range v {
		f[i] = "-"
		if d >= 0 && d < time.Hour {
			f[i] = fmt.Sprintf("%.2f", d.Seconds())
		}
	}
	return "[" + strings.Join(f, " ") + "]"
}

func medianDuration(v []time.Duration) time.Duration {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return time.Duration(median(f))
}

// rawShape is a raw writer: Ops puts per Txn, Conc Txns in flight.
type rawShape struct{ Ops, Conc int }

func (s rawShape) String() string { return fmt.Sprintf("%dx%d", s.Ops, s.Conc) }

// rawShapes are the raw writers measured (the best one is the reference):
// the shapes measured in /work/shared/V3.md §5 and one in between.
var rawShapes = []rawShape{{100, 4}, {128, 8}, {128, 16}}

type kv struct{ key, value string }

// smoke reports whether compare.sh --smoke runs the benchmarks.
func smoke() bool {
	return os.Getenv("BENCH_SMOKE") == "1"
}

func envInt(tb testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		tb.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}

func countLabel(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// v2keysBinary returns $V2KEYS_BIN or builds the command.
func v2keysBinary(tb testing.TB) string {
	if p := os.Getenv("V2KEYS_BIN"); p != "" {
		return p
	}
	out := filepath.Join(tb.TempDir(), "v2keys")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join("..", "cmd", "v2keys")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building v2keys: %v\n%s", err, msg)
	}
	return out
}

// fillV2 puts n keys below root, in 100 directories, 64 goroutines.
func fillV2(tb testing.TB, ep, root string, n int) {
	tb.Helper()
	cl, err := client.New(client.Config{Endpoints: []string{ep}})
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.(interface{ Close() error }).Close()
	k := client.NewKeysAPI(cl)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 64 {
				key := fmt.Sprintf("%s/d%02d/key%07d", root, i%100, i)
				val := fmt.Sprintf("value %07d %s", i, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ")
				if _, err := k.Set(context.Background(), key, val, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatalf("filling v2: %v", err)
	}
}

// readV2 returns the files below root with their values, in v3 form
// (the key relative to a prefix).
func readV2(tb testing.TB, ep, root string) []kv {
	cl, err := client.New(client.Config{Endpoints: []string{ep}})
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.(interface{ Close() error }).Close()
	resp, err := client.NewKeysAPI(cl).Get(context.Background(), root, &client.GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		tb.Fatal(err)
	}
	var out []kv
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		if !n.Dir {
			out = append(out, kv{n.Key, n.Value})
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	return out
}

// timeMigrate runs `v2keys migrate --prefix prefix root` and returns its
// wall time, the child's peak RSS in KiB and its CPU time (user and
// system; -1 without /usr/bin/time).
func timeMigrate(tb testing.TB, bin, ep, prefix, root string, n int) (time.Duration, int64, time.Duration) {
	tb.Helper()
	// --timeout: on a loaded machine the headers of a 1M-key quorum
	// read can take more than the default 2 s.
	args := []string{"--timeout", "30s", "--endpoints", ep, "migrate", "--prefix", prefix, root}
	// The peak RSS comes from /usr/bin/time (Debian package "time"), whose
	// child migrate is: the rusage of a child of this process would count
	// this process's memory too (Linux records the hiwater RSS of the
	// address space the child shared until exec).
	timeBin, _ := exec.LookPath("/usr/bin/time")
	cmd := exec.Command(bin, args...)
	if timeBin != "" {
		cmd = exec.Command(timeBin, append([]string{"-f", "migrate-peak-rss-kib %M cpu %U %S", bin}, args...)...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		tb.Fatalf("migrate: %v\n%s%s", err, out.String(), errb.String())
	}
	if want := fmt.Sprintf(": %d keys written", n); !bytes.Contains(out.Bytes(), []byte(want)) {
		tb.Fatalf("migrate summary lacks %q: %s", want, out.String())
	}
	var kib int64
	cpu := time.Duration(-1)
	if timeBin != "" {
		i := bytes.LastIndex(errb.Bytes(), []byte("migrate-peak-rss-kib "))
		if i < 0 {
			tb.Fatalf("no peak RSS from /usr/bin/time: %s", errb.String())
		}
		f := strings.Fields(string(errb.Bytes()[i:]))
		if len(f) < 5 {
			tb.Fatalf("/usr/bin/time printed %q", errb.Bytes()[i:])
		}
		if kib, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			tb.Fatalf("peak RSS from /usr/bin/time: %v", err)
		}
		user, err1 := strconv.ParseFloat(f[3], 64)
		sys, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil {
			tb.Fatalf("CPU time from /usr/bin/time: %q", f[2:5])
		}
		cpu = time.Duration((user + sys) * float64(time.Second))
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		kib = ru.Maxrss // an upper bound: includes this process's RSS
	}
	return d, kib, cpu
}

// timeRaw writes kvs under prefix in Txns of s.Ops puts, s.Conc at a time.
func timeRaw(tb testing.TB, cli *clientv3.Client, prefix string, kvs []kv, s rawShape) time.Duration {
	tb.Helper()
	batches := make(chan []clientv3.Op, s.Conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ferr error
	start := time.Now()
	for w := 0; w < s.Conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ops := range batches {
				if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
				}
			}
		}()
	}
	for chunk := range slices.Chunk(kvs, s.Ops) {
		ops := make([]clientv3.Op, len(chunk))
		for i, e := range chunk {
			ops[i] = clientv3.OpPut(prefix+e.key, e.value)
		}
		batches <- ops
	}
	close(batches)
	wg.Wait()
	d := time.Since(start)
	if ferr != nil {
		tb.Fatalf("raw %s: %v", s, ferr)
	}
	return d
}

// clearV3 deletes the prefix range (and key, if any) and compacts, so that
// the rounds do not grow etcd's database. A busy server may time a request
// out ("etcdserver: request timed out"): each step is retried.
func clearV3(tb testing.TB, cli *clientv3.Client, prefix, key string) {
	tb.Helper()
	ctx := context.Background()
	var rev int64
	steps := []func() error{
		func() error { _, err := cli.Delete(ctx, prefix+"/", clientv3.WithPrefix()); return err },
		func() error { _, err := cli.Delete(ctx, prefix); return err },
		func() error {
			if key == "" {
				return nil
			}
			_, err := cli.Delete(ctx, key)
			return err
		},
		func() error {
			resp, err := cli.Get(ctx, "v2keys-bench-rev")
			if err == nil {
				rev = resp.Header.Revision
			}
			return err
		},
		// Physical: wait until etcd has removed the old revisions, so that
		// its background compaction does not slow the next run down.
		func() error { _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); return err },
	}
	for _, step := range steps {
		// A delete of 1M keys is one raft entry, which a busy etcd may
		// take longer to apply than its request timeout: retry for up to
		// two minutes.
		var err error
		for deadline := time.Now().Add(2 * time.Minute); ; {
			if err = step(); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		if err != nil {
			tb.Fatalf("clearing v3 %s: %v", prefix, err)
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
