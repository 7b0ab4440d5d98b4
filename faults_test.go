package client

// Fault tests on real 3-member etcd clusters: members are SIGKILLed and
// SIGSTOPed (by PID, through internal/etcdtest) while the client writes and
// watches, and the tests check the client's promises: no acknowledged write
// is lost, no write reported as failed (without ErrOutcomeUnknown) was
// applied, requests and watches move on within bounds, and watchers miss no
// event and repeat none. Measured times are printed with t.Logf (go test -v
// -run TestFault).
//
// The tests are not parallel: each runs three etcd processes and the
// machine they run on may have two cores. Bounds are generous enough for a
// loaded machine and tight enough to tell a failover from a hang.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

const (
	faultHeaderTimeout = time.Second
	faultProbeInterval = 250 * time.Millisecond
)

// faultClient is a client over the given endpoints in that order (the first
// is pinned) with the fault tests' header timeout and probe interval.
func faultClient(t *testing.T, members ...*etcdtest.Member) *httpClusterClient {
	t.Helper()
	return newTestClient(t, Config{HeaderTimeoutPerRequest: faultHeaderTimeout, WatchProbeInterval: faultProbeInterval}, memberURLs(members)...)
}

func memberURLs(members []*etcdtest.Member) []string {
	urls := make([]string, len(members))
	for i, m := range members {
		urls[i] = m.ClientURL()
	}
	return urls
}

// startFaultCluster starts a 3-member cluster and returns its leader first,
// then the two followers.
func startFaultCluster(t *testing.T, ctx context.Context) (*etcdtest.Cluster, []*etcdtest.Member) {
	t.Helper()
	cluster := etcdtest.Start(t, 3)
	leader, err := cluster.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ordered := []*etcdtest.Member{leader}
	for _, m := range cluster.Members() {
		if m != leader {
			ordered = append(ordered, m)
		}
	}
	return cluster, ordered
}

func faultCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// flatten returns the leaf keys and values of a node tree.
func flatten(n *Node, out map[string]string) map[string]string {
	if out == nil {
		out = make(map[string]string)
	}
	if n == nil {
		return out
	}
	if !n.Dir {
		out[n.Key] = n.Value
	}
	for _, c := range n.Nodes {
		flatten(c, out)
	}
	return out
}

// stateOf reads prefix recursively from the given members through a client
// over them (a quorum read when quorum is set).
func stateOf(t *testing.T, ctx context.Context, prefix string, quorum bool, members ...*etcdtest.Member) (map[string]string, error) {
	t.Helper()
	c := faultClient(t, members...)
	defer c.Close()
	resp, err := NewKeysAPI(c).Get(ctx, prefix, &GetOptions{Recursive: true, Sort: true, Quorum: quorum})
	if IsKeyNotFound(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return flatten(resp.Node, nil), nil
}

// waitConsistent waits until every member answers a local (not quorum)
// recursive GET of prefix with the same keys and values, and returns them.
func waitConsistent(t *testing.T, ctx context.Context, prefix string, members []*etcdtest.Member) map[string]string {
	t.Helper()
	start := time.Now()
	for {
		var states []map[string]string
		var lastErr error
		for _, m := range members {
			s, err := stateOf(t, ctx, prefix, false, m)
			if err != nil {
				lastErr = err
				break
			}
			states = append(states, s)
		}
		if lastErr == nil {
			same := true
			for _, s := range states[1:] {
				same = same && reflect.DeepEqual(s, states[0])
			}
			if same {
				t.Logf("all %d members agree on %d keys under %s (after %v)", len(members), len(states[0]), prefix, time.Since(start).Round(time.Millisecond))
				return states[0]
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("members do not agree on %s: %v (last error: %v)", prefix, states, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeOutcome is how one write ended, as the client reported it.
type writeOutcome int

const (
	acked    writeOutcome = iota // success
	unknown                      // failed with ErrOutcomeUnknown
	failed                       // failed without it: must not have been applied
	ctxEnded                     // the write's context ended: outcome not reported
)

func (o writeOutcome) String() string {
	return [...]string{"acknowledged", "outcome unknown", "failed", "context ended"}[o]
}

func classify(err error) writeOutcome {
	switch {
	case err == nil:
		return acked
	case errors.Is(err, ErrOutcomeUnknown):
		return unknown
	case err == context.DeadlineExceeded || err == context.Canceled:
		return ctxEnded
	default:
		return failed
	}
}

type writeRecord struct {
	key, value string
	outcome    writeOutcome
	err        error
	start, end time.Time
	index      uint64 // modifiedIndex when acknowledged
}

// writeLog collects the writes of concurrent writers.
type writeLog struct {
	mu      sync.Mutex
	records []writeRecord
}

func (l *writeLog) add(r writeRecord) {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
}

func (l *writeLog) all() []writeRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]writeRecord(nil), l.records...)
}

// checkWrites compares the writes with the state read afterwards: every
// acknowledged write is there with its value, every write that failed
// without ErrOutcomeUnknown is absent. It returns how many writes of unknown
// outcome were applied and how many were not.
func checkWrites(t *testing.T, records []writeRecord, state map[string]string) (applied, notApplied int) {
	t.Helper()
	counts := map[writeOutcome]int{}
	for _, r := range records {
		counts[r.outcome]++
		v, present := state[r.key]
		switch r.outcome {
		case acked:
			if !present || v != r.value {
				t.Errorf("acknowledged write %s=%s lost (present %v, value %q)", r.key, r.value, present, v)
			}
		case failed:
			if present {
				t.Errorf("write %s reported failed without ErrOutcomeUnknown, but it was applied; error: %v", r.key, r.err)
			}
		case unknown, ctxEnded:
			if present {
				applied++
			} else {
				notApplied++
			}
		}
	}
	t.Logf("writes: %d acknowledged, %d failed, %d outcome unknown, %d context ended; of the last two, %d applied",
		counts[acked], counts[failed], counts[unknown], counts[ctxEnded], applied)
	return applied, notApplied
}

// TestFaultKillPinnedMemberDuringWrites: four writers write unique keys
// (creates and plain sets) through a client pinned to the leader, which is
// SIGKILLed in the middle. Every acknowledged write survives, no write
// reported as failed was applied, and no write takes longer than a header
// timeout plus an election.
func TestFaultKillPinnedMemberDuringWrites(t *testing.T) {
	ctx := faultCtx(t, 90*time.Second)
	_, members := startFaultCluster(t, ctx)
	victim, survivors := members[0], members[1:]
	kapi := NewKeysAPI(faultClient(t, members...))

	var log writeLog
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := writeRecord{key: fmt.Sprintf("/kill/w%d/%05d", g, i), value: fmt.Sprintf("v%d.%d", g, i), start: time.Now()}
				wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				var resp *Response
				if i%2 == 0 {
					resp, r.err = kapi.Create(wctx, r.key, r.value)
				} else {
					resp, r.err = kapi.Set(wctx, r.key, r.value, nil)
				}
				cancel()
				r.end, r.outcome = time.Now(), classify(r.err)
				if resp != nil && resp.Node != nil {
					r.index = resp.Node.ModifiedIndex
				}
				log.add(r)
			}
		}(g)
	}

	time.Sleep(time.Second)
	killedAt := time.Now()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	records := log.all()
	var firstAckAfter, slowest time.Duration
	var slowestRec writeRecord
	before := 0
	for _, r := range records {
		if r.end.Before(killedAt) {
			before++
			continue
		}
		if d := r.end.Sub(r.start); d > slowest {
			slowest, slowestRec = d, r
		}
		if r.outcome == acked && r.start.After(killedAt) && (firstAckAfter == 0 || r.end.Sub(killedAt) < firstAckAfter) {
			firstAckAfter = r.end.Sub(killedAt)
		}
	}
	t.Logf("%d writes before the kill, %d in total; first write started after the kill acknowledged %v after it; slowest write across the kill %v (%v)",
		before, len(records), firstAckAfter.Round(time.Millisecond), slowest.Round(time.Millisecond), slowestRec.outcome)
	if before == 0 || firstAckAfter == 0 {
		t.Fatal("no writes before the kill, or none acknowledged after it")
	}
	// Header timeout (1 s) plus an election (about 1 s with 500 ms
	// election timeout), with room for a loaded machine.
	if limit := 6 * time.Second; slowest > limit || firstAckAfter > limit {
		t.Errorf("writes took too long across the kill: slowest %v, first acknowledged after %v; want under %v", slowest, firstAckAfter, limit)
	}

	state, err := stateOf(t, ctx, "/kill", true, survivors...)
	if err != nil {
		t.Fatal(err)
	}
	checkWrites(t, records, state)
	for _, r := range records {
		if r.outcome != acked && r.outcome != unknown {
			t.Logf("%s: %v: %v", r.key, r.outcome, r.err)
		}
	}
}

// TestFaultPausePinnedMember: the member a client is pinned to, and a watch
// waits on, is SIGSTOPed: it accepts connections and says nothing. Requests
// that cannot apply twice move on after the header timeout (plus an
// election when the leader stopped), the watch within two probe intervals;
// a create, and with OneShotWrites a plain set, fail as unknown after the
// header timeout instead; after SIGCONT all three members hold the same
// data.
func TestFaultPausePinnedMember(t *testing.T) {
	for _, leader := range []bool{true, false} {
		name := "follower"
		if leader {
			name = "leader"
		}
		t.Run(name, func(t *testing.T) {
			ctx := faultCtx(t, 90*time.Second)
			_, members := startFaultCluster(t, ctx)
			victim, others := members[0], members[1:]
			if !leader {
				victim, others = members[1], []*etcdtest.Member{members[0], members[2]}
			}
			order := append([]*etcdtest.Member{victim}, others...)
			kapi := NewKeysAPI(faultClient(t, order...))
			wkapi := NewKeysAPI(faultClient(t, order...)) // the watch's own client
			other := NewKeysAPI(faultClient(t, others...))

			// The key the compare-and-swap through the stopped member
			// swaps; written before the watch's start.
			pre, err := kapi.Set(ctx, "/pause/by-pinned", "-", nil)
			if err != nil {
				t.Fatal(err)
			}
			base, err := kapi.Set(ctx, "/pause/before", "0", nil)
			if err != nil {
				t.Fatal(err)
			}
			events := make(chan *Response, 16)
			// The watch ends before the cluster is stopped.
			wctx, stopWatch := context.WithCancel(ctx)
			watchDone := make(chan struct{})
			t.Cleanup(func() { stopWatch(); <-watchDone })
			go func() {
				defer close(watchDone)
				w := wkapi.Watcher("/pause", &WatcherOptions{AfterIndex: base.Node.ModifiedIndex, Recursive: true})
				for {
					ev, err := w.Next(wctx)
					if err != nil {
						if wctx.Err() != nil {
							return
						}
						t.Errorf("watch: %v", err)
						continue
					}
					events <- ev
				}
			}()
			time.Sleep(500 * time.Millisecond) // the watch waits on the victim

			pausedAt := time.Now()
			if err := victim.Pause(); err != nil {
				t.Fatal(err)
			}
			// A write through the members that still run: its event
			// must reach the watch that waited on the stopped member.
			set, err := setRetrying(ctx, other, "/pause/by-other", "1")
			if err != nil {
				t.Fatal(err)
			}
			acked := time.Since(pausedAt)
			var ev *Response
			select {
			case ev = <-events:
			case <-time.After(15 * time.Second):
				t.Fatal("the watch did not move on from the stopped member")
			}
			delivered := time.Since(pausedAt)
			if ev.Node.ModifiedIndex != set.Node.ModifiedIndex {
				t.Fatalf("event %+v, want the write at %d", ev.Node, set.Node.ModifiedIndex)
			}

			// A compare-and-swap by index through the client pinned to
			// the stopped member fails over: a second copy would be
			// refused, the key's index having moved on.
			t0 := time.Now()
			pinnedSet, err := kapi.Set(ctx, "/pause/by-pinned", "2", &SetOptions{PrevIndex: pre.Node.ModifiedIndex})
			if err != nil {
				t.Fatalf("compare-and-swap through the client pinned to the stopped member: %v", err)
			}
			failover := time.Since(t0)
			// A create through another client pinned to it does not, in
			// either config: it may still be applied there (a late copy
			// would bring its key back after a delete), so it fails as
			// unknown.
			ckapi := NewKeysAPI(faultClient(t, order...))
			t0 = time.Now()
			_, errCreate := ckapi.Create(ctx, "/pause/create-once", "5")
			createFailed := time.Since(t0)
			var ccerr *ClusterError
			if !errors.As(errCreate, &ccerr) || len(ccerr.Errors) != 1 || !errors.Is(errCreate, ErrOutcomeUnknown) {
				t.Fatalf("create through the stopped member: %v, want one attempt with ErrOutcomeUnknown", errCreate)
			}
			if createFailed > faultHeaderTimeout+2*time.Second {
				t.Errorf("create through the stopped member failed after %v", createFailed)
			}
			// With OneShotWrites, a plain set through another client
			// pinned to it does not: it may still be applied there, so it
			// fails as unknown, and the next call starts at the next
			// member. (By default it is resent, as upstream does.)
			skapi := NewKeysAPI(newTestClient(t, Config{HeaderTimeoutPerRequest: faultHeaderTimeout, WatchProbeInterval: faultProbeInterval, OneShotWrites: true}, memberURLs(order)...))
			t0 = time.Now()
			_, errOnce := skapi.Set(ctx, "/pause/set-once", "3", nil)
			setFailed := time.Since(t0)
			var cerr *ClusterError
			if !errors.As(errOnce, &cerr) || len(cerr.Errors) != 1 || !errors.Is(errOnce, ErrOutcomeUnknown) {
				t.Fatalf("plain set through the stopped member: %v, want one attempt with ErrOutcomeUnknown", errOnce)
			}
			if _, err := setRetrying(ctx, skapi, "/pause/set-next", "4"); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s stopped: write through the others acknowledged after %v, its event delivered to the watch after %v; compare-and-swap through the pinned client took %v; create and one-shot plain set through it failed as unknown after %v and %v",
				name, acked.Round(time.Millisecond), delivered.Round(time.Millisecond), failover.Round(time.Millisecond), createFailed.Round(time.Millisecond), setFailed.Round(time.Millisecond))
			if setFailed > faultHeaderTimeout+2*time.Second {
				t.Errorf("plain set through the stopped member failed after %v", setFailed)
			}

			// The watch waits 2 probe intervals at most before leaving,
			// and the event cannot come before the write is acknowledged.
			if limit := max(acked, 2*faultProbeInterval) + time.Second; delivered > limit {
				t.Errorf("watch moved on after %v, want under %v", delivered, limit)
			}
			limit := faultHeaderTimeout + 2*time.Second
			if leader {
				limit += 2 * time.Second // an election
			}
			if failover > limit {
				t.Errorf("write through the pinned client took %v, want under %v", failover, limit)
			}
			select {
			case ev := <-events:
				if ev.Node.Key != "/pause/by-pinned" {
					t.Fatalf("next event %+v", ev.Node)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no event for the write through the pinned client")
			}

			if err := victim.Resume(); err != nil {
				t.Fatal(err)
			}
			state := waitConsistent(t, ctx, "/pause", members)
			_, setOnceApplied := state["/pause/set-once"]
			delete(state, "/pause/set-once")
			createOnce, createOnceApplied := state["/pause/create-once"]
			delete(state, "/pause/create-once")
			if createOnceApplied && createOnce != "5" {
				t.Errorf("the create of unknown outcome left %q", createOnce)
			}
			want := map[string]string{"/pause/before": "0", "/pause/by-other": "1", "/pause/by-pinned": "2", "/pause/set-next": "4"}
			if !reflect.DeepEqual(state, want) {
				t.Fatalf("state after resume %v, want %v", state, want)
			}
			// The first attempts of the compare-and-swap, the create and
			// the plain set sat in the stopped member's socket buffer;
			// after SIGCONT etcd reads them and may apply them. The
			// compare-and-swap's is refused (the index moved on), so the
			// node is the acknowledged one.
			now, err := other.Get(ctx, "/pause/by-pinned", &GetOptions{Quorum: true})
			if err != nil {
				t.Fatal(err)
			}
			if now.Node.ModifiedIndex != pinnedSet.Node.ModifiedIndex {
				t.Errorf("compare-and-swap acknowledged at index %d was applied again (now at %d)", pinnedSet.Node.ModifiedIndex, now.Node.ModifiedIndex)
			}
			t.Logf("after SIGCONT: of unknown outcome, the create was applied: %v, the plain set: %v", createOnceApplied, setOnceApplied)
		})
	}
}

// setRetrying sets key until it is acknowledged or ctx ends; right after a
// leader stopped, writes may fail until the others elect a new one. Only
// for idempotent test writes.
func setRetrying(ctx context.Context, kapi KeysAPI, key, value string) (*Response, error) {
	for {
		resp, err := kapi.Set(ctx, key, value, nil)
		if err == nil || ctx.Err() != nil {
			return resp, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaultWatchAcrossMemberLoss: a recursive watcher whose member is
// killed, or stopped, goes on from the same index on another member, and
// its events are exactly those of a reference watcher on a member that
// stays up: no gap, no duplicate. Each acknowledged write is among them.
func TestFaultWatchAcrossMemberLoss(t *testing.T) {
	for _, fault := range []string{"kill", "stop"} {
		t.Run(fault, func(t *testing.T) {
			ctx := faultCtx(t, 90*time.Second)
			_, members := startFaultCluster(t, ctx)
			// The victim is the leader: the writes also go through an
			// election.
			victim, ref, third := members[0], members[1], members[2]
			writer := NewKeysAPI(faultClient(t, third, ref, victim))
			start, err := writer.Set(ctx, "/watch/start", "0", nil)
			if err != nil {
				t.Fatal(err)
			}

			type result struct {
				indexes []uint64
				keys    []string
				at      []time.Time // when each event was delivered
				errs    int
			}
			watch := func(kapi KeysAPI, out chan<- result) {
				var r result
				w := kapi.Watcher("/watch", &WatcherOptions{AfterIndex: start.Node.ModifiedIndex, Recursive: true})
				for {
					ev, err := w.Next(ctx)
					if err != nil {
						if ctx.Err() != nil {
							out <- r
							return
						}
						r.errs++
						time.Sleep(50 * time.Millisecond)
						continue
					}
					r.indexes = append(r.indexes, ev.Node.ModifiedIndex)
					r.keys = append(r.keys, ev.Node.Key)
					r.at = append(r.at, time.Now())
					if ev.Node.Key == "/watch/done" {
						out <- r
						return
					}
				}
			}
			victimWatch, refWatch := make(chan result, 1), make(chan result, 1)
			go watch(NewKeysAPI(faultClient(t, victim, ref, third)), victimWatch)
			go watch(NewKeysAPI(faultClient(t, ref)), refWatch)

			var log writeLog
			const writes = 300
			for i := 0; i < writes; i++ {
				if i == writes/3 {
					if fault == "kill" {
						err = victim.Kill()
					} else {
						err = victim.Pause()
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				r := writeRecord{key: fmt.Sprintf("/watch/k%04d", i), value: fmt.Sprint(i), start: time.Now()}
				var resp *Response
				resp, r.err = writer.Set(ctx, r.key, r.value, nil)
				r.end, r.outcome = time.Now(), classify(r.err)
				if r.err == nil {
					r.index = resp.Node.ModifiedIndex
				}
				log.add(r)
				time.Sleep(5 * time.Millisecond)
			}
			if _, err := setRetrying(ctx, writer, "/watch/done", "end"); err != nil {
				t.Fatal(err)
			}
			got, want := <-victimWatch, <-refWatch
			// The delay of each event on each watch: from the write's
			// acknowledgement to the event's delivery.
			acks := map[string]time.Time{}
			for _, r := range log.all() {
				if r.outcome == acked {
					acks[r.key] = r.end
				}
			}
			maxDelay := func(r result) (worst time.Duration) {
				for i, k := range r.keys {
					if at, ok := acks[k]; ok && i < len(r.at) {
						worst = max(worst, r.at[i].Sub(at))
					}
				}
				return worst
			}
			t.Logf("%s of the watched member (the leader) after %d writes; %d events; longest delay from acknowledgement to event: %v on the lost member's watch, %v on the reference; watch errors: %d, %d",
				fault, writes/3, len(want.indexes), maxDelay(got).Round(time.Millisecond), maxDelay(want).Round(time.Millisecond), got.errs, want.errs)
			if d := maxDelay(got); d > 2*faultProbeInterval+3*time.Second {
				t.Errorf("the watch on the lost member delivered an event %v after its write", d)
			}
			if !reflect.DeepEqual(got.indexes, want.indexes) || !reflect.DeepEqual(got.keys, want.keys) {
				t.Fatalf("the watch on the lost member saw %d events, the reference %d; they differ:\n%v\n%v", len(got.indexes), len(want.indexes), got.indexes, want.indexes)
			}
			if !sort.SliceIsSorted(got.indexes, func(i, j int) bool { return got.indexes[i] <= got.indexes[j] }) {
				t.Fatalf("indexes not strictly increasing: %v", got.indexes)
			}
			seen := map[string]uint64{}
			for i, k := range got.keys {
				seen[k] = got.indexes[i]
			}
			for _, r := range log.all() {
				switch _, ok := seen[r.key]; {
				case r.outcome == acked && seen[r.key] != r.index:
					t.Errorf("acknowledged write %s at %d: watched at %d (seen %v)", r.key, r.index, seen[r.key], ok)
				case r.outcome == failed && ok:
					t.Errorf("write %s reported failed (%v) was watched", r.key, r.err)
				}
			}
			state, err := stateOf(t, ctx, "/watch", true, ref, third)
			if err != nil {
				t.Fatal(err)
			}
			checkWrites(t, log.all(), state)
		})
	}
}

// TestFaultQuorumLoss: with two of three members killed, writes to the
// survivor fail within the header timeout (or, without one, when etcd gives
// up after its request timeout) with ErrOutcomeUnknown; after the two come
// back every acknowledged write is intact, and the test records whether
// etcd applied the writes whose outcome was unknown.
func TestFaultQuorumLoss(t *testing.T) {
	ctx := faultCtx(t, 120*time.Second)
	_, members := startFaultCluster(t, ctx)
	survivor, lost := members[0], members[1:] // the leader survives
	order := []*etcdtest.Member{survivor, lost[0], lost[1]}
	kapi := NewKeysAPI(faultClient(t, order...))
	noTimeout := NewKeysAPI(newTestClient(t, Config{WatchProbeInterval: faultProbeInterval}, memberURLs(order)...))

	var log writeLog
	for i := 0; i < 20; i++ {
		r := writeRecord{key: fmt.Sprintf("/quorum/before/%02d", i), value: fmt.Sprint(i)}
		_, r.err = kapi.Set(ctx, r.key, r.value, nil)
		if r.outcome = classify(r.err); r.err != nil {
			t.Fatal(r.err)
		}
		log.add(r)
	}
	for _, m := range lost {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
	}

	write := func(kapi KeysAPI, key string, d time.Duration) (error, time.Duration) {
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		t0 := time.Now()
		_, err := kapi.Set(wctx, key, "maybe", nil)
		log.add(writeRecord{key: key, value: "maybe", err: err, outcome: classify(err)})
		return err, time.Since(t0)
	}
	// With the header timeout: the survivor takes the write and says
	// nothing; the others refuse connections.
	errHT, dHT := write(kapi, "/quorum/header-timeout", 30*time.Second)
	// Without it, etcd answers 500 errorCode 300 after its request timeout.
	err500, d500 := write(noTimeout, "/quorum/server-timeout", 30*time.Second)
	// Only a context deadline: the context error comes back as itself,
	// which says nothing about the outcome.
	errCtx, dCtx := write(noTimeout, "/quorum/ctx-deadline", 2*time.Second)
	t.Logf("quorum lost: write failed after %v with header timeout %v; after %v without header timeout; after %v with a 2 s context deadline (%v)",
		dHT.Round(time.Millisecond), faultHeaderTimeout, d500.Round(time.Millisecond), dCtx.Round(time.Millisecond), errCtx)
	for _, c := range []struct {
		name  string
		err   error
		d     time.Duration
		limit time.Duration
	}{
		{"with header timeout", errHT, dHT, faultHeaderTimeout + 2*time.Second},
		{"without header timeout", err500, d500, 12 * time.Second},
	} {
		if !errors.Is(c.err, ErrOutcomeUnknown) || !errors.Is(c.err, ErrClusterUnavailable) {
			t.Errorf("write %s: %v, want a ClusterError with ErrOutcomeUnknown", c.name, c.err)
		}
		if c.d > c.limit {
			t.Errorf("write %s failed after %v, want under %v", c.name, c.d, c.limit)
		}
		var cerr *ClusterError
		if errors.As(c.err, &cerr) {
			t.Logf("%s: %s", c.name, cerr.Detail())
		}
	}
	if errCtx != context.DeadlineExceeded {
		t.Errorf("write with a context deadline: %v, want context.DeadlineExceeded itself", errCtx)
	}

	// A plain read is served by the survivor alone (possibly stale); a
	// quorum read is not.
	if _, err := kapi.Get(ctx, "/quorum/before/00", nil); err != nil {
		t.Errorf("local read without quorum: %v", err)
	}

	restartedAt := time.Now()
	for _, m := range lost {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("quorum back %v after the restarts began", time.Since(restartedAt).Round(time.Millisecond))
	state := waitConsistent(t, ctx, "/quorum", members)
	checkWrites(t, log.all(), state)
	for _, k := range []string{"/quorum/header-timeout", "/quorum/server-timeout", "/quorum/ctx-deadline"} {
		_, ok := state[k]
		t.Logf("write %s of unknown outcome: applied after quorum returned: %v", k, ok)
	}
}
