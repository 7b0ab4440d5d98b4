package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	client "github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// settings are read from the environment, so that any run can be replayed
// and lengthened:
//
//	CHAOS_SEED           seed of the first run (default: from the clock); run i uses seed+i
//	CHAOS_DURATION       chaos time per claim (default 20s), split into runs of CHAOS_RUN
//	CHAOS_RUN            length of one run, each on a fresh cluster (default 20s)
//	CHAOS_OUT            where visualizations of violations go (default $TMPDIR/v2keys-chaos)
//	CHAOS_CHECK_TIMEOUT  bound of one porcupine check (default 2m)
type settings struct {
	seed         int64
	duration     time.Duration
	run          time.Duration
	out          string
	checkTimeout time.Duration
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	s := settings{
		seed:         time.Now().UnixNano() % 1_000_000_000,
		duration:     20 * time.Second,
		run:          20 * time.Second,
		out:          filepath.Join(os.TempDir(), "v2keys-chaos"),
		checkTimeout: 2 * time.Minute,
	}
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", v, err)
		}
		s.seed = n
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{{"CHAOS_DURATION", &s.duration}, {"CHAOS_RUN", &s.run}, {"CHAOS_CHECK_TIMEOUT", &s.checkTimeout}} {
		if v := os.Getenv(d.env); v != "" {
			n, err := time.ParseDuration(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive duration", d.env, v)
			}
			*d.dst = n
		}
	}
	if v := os.Getenv("CHAOS_OUT"); v != "" {
		s.out = v
	}
	return s
}

// runs returns the seed and length of each run.
func (s settings) runs() (seeds []int64, length time.Duration) {
	length = min(s.run, s.duration)
	n := int((s.duration + length - 1) / length)
	for i := range n {
		seeds = append(seeds, s.seed+int64(i))
	}
	return seeds, length
}

// runConfig describes one run.
type runConfig struct {
	seed     int64
	length   time.Duration
	oneShot  bool // Config.OneShotWrites for the workers
	watchers bool // also run a default and a streaming recursive watcher
	onv3     bool // the KeysAPI of onv3 on a cluster serving v3, instead of the v2 client
	workers  int
}

// runResult is what a run recorded.
type runResult struct {
	recs     []Record
	faults   []Fault
	reached  func(value string) int // copies of a write that may have reached a member
	watches  []*watchLog
	endIndex uint64 // index of the end marker written after the chaos
}

const (
	// burstWrites is the size of the burst of claim 3: beyond etcd's
	// history of 1000 events.
	burstWrites  = 1200
	burstWriters = 6
	prefix       = "/chaos"
	endMarker    = prefix + "/end"
)

// runChaos starts a 3-member cluster, runs the workload and the nemesis for
// cfg.length, heals the cluster, reads every key once more, and returns the
// history. Everything it starts ends before it returns, except the cluster,
// stopped by t.Cleanup.
func runChaos(t *testing.T, cfg runConfig) *runResult {
	t.Helper()
	pids := &pidSet{}
	checkNoLeaks(t, pids)
	opts := etcdtest.Options{Size: 3}
	if cfg.onv3 {
		opts.API = etcdtest.V3
	}
	cluster := etcdtest.StartCluster(t, opts)
	for _, m := range cluster.Members() {
		pids.add(m.PID())
	}
	t.Cleanup(func() {
		for pid := range pids.pids {
			allPIDs.add(pid)
		}
	})

	rng := rand.New(rand.NewSource(cfg.seed))
	hist := NewHistory()
	res := &runResult{}

	// newClient returns a KeysAPI of its own client and the function that
	// closes that client; tr observes the requests of a v2 client (nil:
	// none).
	newClient := func(tr *Attempts) (client.KeysAPI, func()) {
		if cfg.onv3 {
			return newOnv3(t, cluster)
		}
		cc := client.Config{
			Endpoints:               cluster.ClientURLs(),
			HeaderTimeoutPerRequest: time.Second,
			WatchProbeInterval:      250 * time.Millisecond,
			OneShotWrites:           cfg.oneShot,
		}
		if tr != nil {
			cc.Transport = tr
		}
		c, err := client.New(cc)
		if err != nil {
			t.Fatal(err)
		}
		return client.NewKeysAPI(c), func() {
			if err := c.(io.Closer).Close(); err != nil {
				t.Errorf("close client: %v", err)
			}
		}
	}

	setup, closeSetup := newClient(nil)
	defer closeSetup()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	dirResp, err := setup.Set(ctx, prefix, "", &client.SetOptions{Dir: true})
	cancel()
	if err != nil {
		t.Fatalf("create %s: %v", prefix, err)
	}

	// Watchers first, from the index of the directory's creation.
	var watchWG sync.WaitGroup
	watchCtx, stopWatch := context.WithTimeout(context.Background(), cfg.length+2*time.Minute)
	defer stopWatch()
	if cfg.watchers {
		for _, stream := range []bool{false, true} {
			kapi, closeWatchClient := newClient(nil)
			defer closeWatchClient()
			name := "default watcher"
			if stream {
				name = "stream watcher"
			}
			l := &watchLog{name: name, start: dirResp.Node.ModifiedIndex, errs: map[string]int{}}
			w := kapi.Watcher(prefix, &client.WatcherOptions{AfterIndex: l.start, Recursive: true, ResyncOnCleared: true, Stream: stream})
			if closer, ok := w.(io.Closer); ok {
				defer closer.Close()
			}
			res.watches = append(res.watches, l)
			watchWG.Add(1)
			go func() {
				defer watchWG.Done()
				l.follow(watchCtx, w)
			}()
		}
	}

	keys := []string{prefix + "/k0", prefix + "/k1", prefix + "/k2", prefix + "/k3"}
	var attempts []*Attempts
	var workers []*worker
	for i := range cfg.workers {
		att := NewAttempts()
		attempts = append(attempts, att)
		kapi, closeWorkClient := newClient(att)
		defer att.Close()
		defer closeWorkClient()
		workers = append(workers, &worker{id: i, kapi: kapi, rng: rand.New(rand.NewSource(rng.Int63())),
			keys: keys, dir: prefix + "/q", hist: hist, seen: map[string]client.Node{}})
	}
	nem := &nemesis{cluster: cluster, rng: rand.New(rand.NewSource(rng.Int63())), hist: hist, pids: pids}

	runCtx, stopRun := context.WithTimeout(context.Background(), cfg.length)
	defer stopRun()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(runCtx)
		}()
	}
	if cfg.watchers {
		// One burst of burstWrites acknowledged writes early in the run,
		// from burstWriters goroutines, during which the watchers' callers take no events,
		// so that a per-request watcher falls out of etcd's 1000-event
		// history.
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepCtx(runCtx, cfg.length/4) {
				return
			}
			for _, l := range res.watches {
				l.stalled.Store(true)
			}
			var bwg sync.WaitGroup
			var written atomic.Int64
			for g := range burstWriters {
				bw := &worker{id: cfg.workers + 1 + g, kapi: setup, hist: hist, seen: map[string]client.Node{}}
				// A key per writer: each key's history is sequential, so
				// its check stays cheap (six writers on one key with no
				// reads make porcupine's search explode).
				burstKey := fmt.Sprintf("%s/burst/%d", prefix, g)
				bwg.Add(1)
				go func() {
					defer bwg.Done()
					for runCtx.Err() == nil && written.Load() < burstWrites {
						if bw.do(runCtx, Set, burstKey) == OK {
							written.Add(1)
						}
					}
				}()
			}
			bwg.Wait()
			for _, l := range res.watches {
				l.stalled.Store(false)
			}
		}()
	}
	nemErr := nem.run(runCtx)
	wg.Wait()
	res.faults = nem.faults
	if nemErr != nil {
		t.Fatalf("seed %d: %v", cfg.seed, nemErr)
	}

	// After the chaos: one more read of every key, so that the last
	// unknown writes are seen applied or not, then the end marker.
	final := &worker{id: cfg.workers, kapi: setup, keys: keys, dir: prefix + "/q", hist: hist, seen: map[string]client.Node{}}
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range append(keys, final.dir) {
		kind := Get
		if k == final.dir {
			kind = GetDir
		}
		for {
			n := len(hist.Records())
			final.do(context.Background(), kind, k)
			if r := hist.Records()[n]; !r.Dropped || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	endResp, err := setup.Set(ctx, endMarker, "end", nil)
	cancel()
	if err != nil {
		t.Fatalf("seed %d: write the end marker: %v", cfg.seed, err)
	}
	res.endIndex = endResp.Node.ModifiedIndex
	for _, l := range res.watches {
		l.target.Store(res.endIndex)
	}
	watchWG.Wait()

	res.recs = hist.Records()
	res.reached = func(v string) int {
		n := 0
		for _, a := range attempts {
			n += a.Reached(v)
		}
		return n
	}
	return res
}

// stats summarizes a run for the logs and the report.
type stats struct {
	ops, unknown, dropped, failed int
	faults                        map[string]int
	// notApplied holds a few errors of writes reported as not applied.
	notApplied []string
}

func (s *stats) add(res *runResult) {
	if s.faults == nil {
		s.faults = map[string]int{}
	}
	for _, r := range res.recs {
		switch {
		case r.Dropped:
			s.dropped++
			if r.In.Kind.isWrite() && len(s.notApplied) < 3 {
				s.notApplied = append(s.notApplied, fmt.Sprintf("%s: %s", r.In.Kind, strings.ReplaceAll(r.Err, "\n", " ")))
			}
		case r.Out.Result == Unknown:
			s.unknown++
		case r.Out.Result == Failed:
			s.failed++
		}
		if !r.Dropped {
			s.ops++
		}
	}
	for _, f := range res.faults {
		s.faults[f.Kind]++
	}
}

func (s stats) String() string {
	total := 0
	for _, n := range s.faults {
		total += n
	}
	msg := fmt.Sprintf("%d operations checked (%d unknown outcome, %d refused by the server; %d more failed without effect, not checked), %d faults %v",
		s.ops, s.unknown, s.failed, s.dropped, total, s.faults)
	if len(s.notApplied) > 0 {
		msg += fmt.Sprintf("; writes reported not applied, e.g. %q", s.notApplied)
	}
	return msg
}

// byKey returns the keys of recs, sorted, and each key's records.
func byKey(recs []Record) ([]string, map[string][]Record) {
	m := map[string][]Record{}
	for _, r := range recs {
		m[r.In.Key] = append(m[r.In.Key], r)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, m
}

// witnessTimeout bounds a check whose history is already known to be
// illegal (see Witness): it runs for the visualization only.
const witnessTimeout = 5 * time.Second

// checkKey checks one key's records with porcupine, with ghosts (extra
// copies of writes, by index in recs; see Operations), within timeout. A
// visualization is written unless name is empty. Without ghosts, a history
// holding a witness of a write applied twice (the same value under two
// indexes) is illegal without search: the check then only runs for the
// visualization, for witnessTimeout at most.
func checkKey(t *testing.T, s settings, recs []Record, faults []Fault, ghosts map[int]int, name string, timeout time.Duration) (Verdict, string) {
	t.Helper()
	dir := s.out
	if name == "" {
		dir = ""
	}
	witness := ""
	if len(ghosts) == 0 {
		if witness, _ = Witness(recs); witness != "" {
			timeout = min(timeout, witnessTimeout)
		}
	}
	start := time.Now()
	v, err := Check(Operations(recs, ghosts), timeout, dir, name, faultNotes(faults))
	if err != nil {
		t.Error(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Logf("checking %s (%d ops, %d ghosts) took %v: %s", recs[0].In.Key, len(recs), len(ghosts), took.Round(time.Millisecond), v.Result)
	}
	if witness != "" {
		if v.Result == porcupine.Ok {
			t.Errorf("%s: porcupine found a linearization although %s", recs[0].In.Key, witness)
		}
		v.Result = porcupine.Illegal
	}
	return v, witness
}

// checkSentOnce fails t for each write of one of kinds that had more than
// one copy that may have reached a member: the client must not send such a
// write again once a copy may have reached one. (A plain Delete writes no
// value, so its copies cannot be told apart here; the client's
// TestPlainDeleteIsNotSentTwice covers it.)
func checkSentOnce(t *testing.T, seed int64, res *runResult, kinds ...Kind) {
	t.Helper()
	for i, n := range resentGhosts(res, false) {
		if r := res.recs[i]; slices.Contains(kinds, r.In.Kind) {
			t.Errorf("seed %d: %s op %d: %s(%s) by client %d: %d copies may have reached a member, want one",
				seed, r.In.Key, i, r.In.Kind, r.In.Value, r.Client, n+1)
		}
	}
}

// resentGhosts returns, by record index, how many extra copies of each
// write may have been applied: every copy beyond the first that may have
// reached a member. With documented set, only the writes the client's
// documentation says a resend can apply twice (plain and PrevValue Set,
// CreateInOrder) count; otherwise every resent write does (those by index
// too). A Create or a plain Delete is never sent again once a copy may
// have reached a member, so it has no extra copy: if one had, a violation
// it explains counts as beyond the documented risk.
func resentGhosts(res *runResult, documented bool) map[int]int {
	g := map[int]int{}
	for i, r := range res.recs {
		if r.In.Value == "" || !r.In.Kind.isWrite() {
			continue
		}
		if documented && r.In.Kind != Set && r.In.Kind != CASValue && r.In.Kind != CreateInOrder {
			continue
		}
		if n := res.reached(r.In.Value); n > 1 {
			g[i] = n - 1
		}
	}
	return g
}
