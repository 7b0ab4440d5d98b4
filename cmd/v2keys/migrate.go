package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ExitDifferent is the status of migrate --verify when the two sides
// differ.
const ExitDifferent = 6

// migrator copies one v2 subtree into the v3 keyspace and keeps it in sync.
type migrator struct {
	e       *env
	v2      client.Client
	kapi    client.KeysAPI
	v3      *clientv3.Client
	t       target
	state   *stateStore
	leases  *leases
	workers int
	follow  bool

	start                         time.Time
	keys, bytes, deleted, skipped atomic.Int64
	kept                          int64        // keys and markers an interrupted copy wrote, still as v2 has them
	dirs                          atomic.Int64 // directory markers written
	// known holds the v2 directories whose markers the copy or the
	// follow wrote (used by the follow only, one goroutine): a file set
	// below a directory v2 created implicitly (no event of its own) gets
	// the markers of its missing directories in the same batch.
	known                           map[string]bool
	events, eventPuts, eventDeletes int64
	eventsInCopy                    int64 // changes not applied: a piece read after them holds them
	copies                          int
	warned                          atomic.Int64

	// The last copy: the highest index of its pieces (Xmax), the fence
	// it started when its last piece was requested, and how long a fence
	// waits (see settle).
	xmax       uint64
	firstFence <-chan fenceResult
	stopFence  context.CancelFunc
	fenceWait  time.Duration
	// pieceIndex maps each child directory the last copy read as a piece
	// to the index its read answered at (see inPiece).
	pieceIndex map[string]uint64
}

// errHistoryLost means that the v2 changes to apply next are no longer in
// etcd's history: a new snapshot must be copied.
var errHistoryLost = errors.New("v2 history lost")

// errInterrupted ends a copy that the run's context stopped.
var errInterrupted = errors.New("interrupted")

func cmdMigrate(fs *flag.FlagSet) action {
	prefix := fs.String("prefix", "", "v3 prefix: v2 key /a/b becomes v3 key <prefix>/a/b")
	v3eps := fs.String("v3-endpoints", "", "comma-separated v3 endpoints of the target cluster (default: the v2 endpoints)")
	stateKey := fs.String("state-key", "", "v3 key holding the migration's progress (default \"v2keys-migrate:<prefix><key>\")")
	follow := fs.Bool("follow", false, "after the copy, keep applying v2 changes until interrupted")
	verify := fs.Bool("verify", false, "compare the v2 subtree with the v3 copy, write nothing")
	tolerance := fs.Duration("ttl-tolerance", 3*time.Second, "with --verify: largest accepted difference between a v2 TTL and its v3 lease")
	overwrite := fs.Bool("overwrite", false, "start a migration into a v3 range that already holds keys (keys not in v2 are deleted)")
	workers := fs.Int("concurrency", 16, "number of v3 transactions in flight during the copy")
	return func(e *env, args []string) int {
		if len(args) == 0 {
			return e.fail(ExitBadArgs, errors.New("v2 key (the subtree to migrate, e.g. / or /app) required"))
		}
		if *workers < 1 {
			return e.fail(ExitBadArgs, errors.New("--concurrency must be at least 1"))
		}
		if *verify && *follow {
			return e.fail(ExitBadArgs, errors.New("--verify and --follow exclude each other: stop the follow (and the writers), then run migrate --verify"))
		}
		if *tolerance < 0 {
			return e.fail(ExitBadArgs, errors.New("--ttl-tolerance must not be negative"))
		}
		if strings.ContainsRune(*prefix, 0) {
			return e.fail(ExitBadArgs, errors.New("--prefix must not contain NUL"))
		}
		t := target{subtree: canonicalKey("/" + strings.TrimPrefix(args[0], "/")), prefix: strings.TrimRight(*prefix, "/")}
		if *stateKey == "" {
			*stateKey = defaultStateKey(t)
		}
		if t.contains(*stateKey) {
			return e.fail(ExitBadArgs, fmt.Errorf("--state-key %q is inside the target range %q: choose a key outside it", *stateKey, t.under()))
		}

		v2, code := e.newClient(true)
		if v2 == nil {
			return code
		}
		v3, err := e.newV3Client(*v3eps)
		if err != nil {
			if e.ctx.Err() != nil {
				return e.fail(ExitServerError, err)
			}
			return e.fail(ExitBadConnection, err)
		}
		e.closers = append(e.closers, v3)
		m := &migrator{
			e: e, v2: v2, kapi: client.NewKeysAPI(v2), v3: v3, t: t,
			state:   &stateStore{cli: v3, key: *stateKey},
			leases:  newLeases(v3),
			known:   map[string]bool{},
			workers: *workers,
			follow:  *follow,
			start:   time.Now(),
		}
		if *verify {
			return m.verify(*tolerance)
		}
		return m.run(*overwrite)
	}
}

// run checks the state and the source, then copies and follows.
func (m *migrator) run(overwrite bool) int {
	e := m.e
	ctx, cancel := e.requestContext()
	err := m.state.load(ctx)
	var clusterID string
	if err == nil {
		var resp *client.Response
		resp, err = m.kapi.Get(ctx, m.t.subtree, &client.GetOptions{Quorum: true})
		if err == nil {
			clusterID = resp.ClusterID
		} else if client.IsKeyNotFound(err) {
			err = fmt.Errorf("v2 key %s not found: %w", m.t.subtree, err)
		}
	}
	var existing int64
	if err == nil && m.state.cur == nil {
		existing, err = m.t.count(ctx, m.v3)
	}
	cancel()
	if errors.Is(err, errNotState) {
		return e.fail(ExitBadArgs, err)
	}
	if err != nil {
		return e.fail(ExitServerError, err)
	}
	if err := m.state.check(m.t, clusterID); err != nil {
		return e.fail(ExitBadArgs, err)
	}
	if m.state.cur == nil && existing > 0 && !overwrite {
		return e.failf(ExitBadArgs, "the v3 target %q already holds %d keys and there is no migration state (%q): choose an empty --prefix, or pass --overwrite to replace them (keys there that are not in v2 are deleted)",
			m.t.under(), existing, m.state.key)
	}

	var next func(context.Context) (*client.Response, error)
	var stop func()
	if st := m.state.cur; st != nil && st.Phase == phaseFollow && m.follow {
		fmt.Fprintf(e.stderr, "resuming: following v2 changes after index %d\n", st.AppliedIndex)
		w := m.kapi.Watcher(m.t.subtree, &client.WatcherOptions{AfterIndex: st.AppliedIndex, Recursive: true, Stream: true})
		next, stop = w.Next, func() { closeWatcher(w) }
	} else {
		if st != nil && st.Phase == phaseCopy {
			if st.CopyRevision > 0 {
				fmt.Fprintf(e.stderr, "resuming the copy of a previous run: what it wrote that v2 still holds is kept, the rest is copied from a new snapshot\n")
			} else {
				fmt.Fprintf(e.stderr, "the copy of a previous run did not finish: copying again\n")
			}
		}
		// A target that was empty, with no state, needs no sweep: every
		// key in it after the copy was written by the copy.
		f, err := m.copyAndSettle(st == nil && existing == 0)
		if err != nil {
			return m.failCopy(err)
		}
		if !m.follow {
			f.Close()
			m.summary()
			return ExitSuccess
		}
		next, stop = f.Next, func() { f.Close() }
	}
	for {
		err := m.followLoop(next)
		stop()
		if errors.Is(err, errHistoryLost) {
			m.historyLost()
			f, err := m.copyAndSettle(false)
			if err != nil {
				return m.failCopy(err)
			}
			next, stop = f.Next, func() { f.Close() }
			continue
		}
		m.summary()
		if err != nil && e.ctx.Err() == nil {
			return e.fail(ExitServerError, err)
		}
		return ExitSuccess
	}
}

// copyAndSettle copies a snapshot of the subtree (copy) and applies the
// changes made while its pieces were read (settle), then records the
// phase follow; it copies again when those changes are no longer in
// etcd's history. Until the phase is follow, an interrupted run is
// resumed as a copy by the next one (see Exactness in migrate_pieces.go).
func (m *migrator) copyAndSettle(fresh bool) (*client.Follower, error) {
	for {
		f, err := m.copy(fresh)
		if err != nil {
			return nil, err
		}
		err = m.settle(f, m.xmax, m.firstFence, m.fenceWait)
		if err == nil {
			st := *m.state.cur
			st.Phase, st.CopyRevision = phaseFollow, 0
			err = m.commitState(nil, &st)
		}
		if err == nil {
			return f, nil
		}
		f.Close()
		if !errors.Is(err, errHistoryLost) {
			return nil, err
		}
		m.historyLost()
		fresh = false
	}
}

func (m *migrator) historyLost() {
	fmt.Fprintf(m.e.stderr, "v2 changes after index %d are no longer in etcd's history: copying a new snapshot and removing what it no longer has\n", m.state.cur.AppliedIndex)
}

func closeWatcher(w client.Watcher) {
	if c, ok := w.(io.Closer); ok {
		c.Close()
	}
}

func (m *migrator) failCopy(err error) int {
	m.summary()
	if errors.Is(err, errInterrupted) {
		return m.e.fail(ExitServerError, errors.New("interrupted before the copy finished; run the same command again to resume it"))
	}
	return m.e.fail(ExitServerError, err)
}

// retry runs an idempotent write until it succeeds, for up to a minute:
// a v3 cluster electing a leader refuses writes for a moment.
func (m *migrator) retry(write func() error) error {
	return m.retryUntil(context.Background(), write)
}

// retryUntil is retry that makes no new attempt once ctx is done (the
// error is then the last attempt's).
func (m *migrator) retryUntil(ctx context.Context, write func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := write()
		if err == nil || errors.Is(err, errStateChanged) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		m.warn(err)
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// warn prints a transient failure (the first few).
func (m *migrator) warn(err error) {
	if m.warned.Add(1) <= 10 {
		fmt.Fprintf(m.e.stderr, "retrying after: %v\n", err)
	}
}

// markAbove writes the markers of the directories above the subtree root
// that are missing, each only if it is (outside the target range, so that
// the copy reads through onv3 where v2 had it).
func (m *migrator) markAbove() error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	for _, d := range onv3.Ancestors(m.t.subtree) {
		k := m.t.dirKey(d)
		if _, err := m.v3.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, "")).Commit(); err != nil {
			return fmt.Errorf("v3 write: %w", err)
		}
	}
	return nil
}

// commitState writes ops with the new state, retrying when the v3 cluster
// fails for a moment. A Txn whose answer was lost may have been applied:
// the state key then holds exactly what was written.
func (m *migrator) commitState(ops []clientv3.Op, st *migrateState) error {
	return m.retry(func() error {
		err := m.state.commit(ops, st)
		if err == nil || errors.Is(err, errStateChanged) {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		resp, gerr := m.v3.Get(ctx, m.state.key)
		if gerr != nil || len(resp.Kvs) == 0 || resp.Kvs[0].ModRevision == m.state.rev {
			return err // not applied (or unknown yet): try again
		}
		saved := m.state.rev
		if lerr := m.state.load(ctx); lerr == nil && m.state.cur.Updated.Equal(st.Updated) && m.state.cur.AppliedIndex == st.AppliedIndex {
			return nil // it was applied
		}
		m.state.rev = saved
		return errStateChanged
	})
}

// summary prints what the run did, on stdout.
func (m *migrator) summary() {
	d := time.Since(m.start)
	keys := m.keys.Load()
	rate := 0.0
	if s := d.Seconds(); s > 0 {
		rate = float64(keys) / s
	}
	kept := ""
	if m.kept > 0 {
		kept = fmt.Sprintf(", %d kept from the interrupted copy", m.kept)
	}
	inCopy := ""
	if m.eventsInCopy > 0 {
		inCopy = fmt.Sprintf(" (%d more already in the copy)", m.eventsInCopy)
	}
	fmt.Fprintf(m.e.stdout, "migrated v2 %s to v3 %q: %d keys written (%s)%s, %d directories, %d leases, %d events applied%s, %d keys deleted, %d expired skipped, %d snapshot copies, in %v (%.0f keys/s)\n",
		m.t.subtree, m.t.under(), keys, humanBytes(m.bytes.Load()), kept, m.dirs.Load(), m.leases.count(), m.events, inCopy,
		m.deleted.Load()+m.eventDeletes, m.skipped.Load(), m.copies, d.Round(time.Millisecond), rate)
	if st := m.state.cur; st != nil {
		fmt.Fprintf(m.e.stdout, "state in v3 key %q: phase %s, snapshot index %d, applied index %d\n", m.state.key, st.Phase, st.SnapshotIndex, st.AppliedIndex)
	}
}

// count returns the number of keys in the target range.
func (t target) count(ctx context.Context, cli *clientv3.Client) (int64, error) {
	var n int64
	if r := t.root(); r != "" {
		resp, err := cli.Get(ctx, r, clientv3.WithCountOnly())
		if err != nil {
			return 0, err
		}
		n += resp.Count
	}
	resp, err := cli.Get(ctx, t.under(), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return n + resp.Count, nil
}
