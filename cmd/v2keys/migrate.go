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
	copies                          int
	warned                          atomic.Int64

	// The last copy: the highest index of its pieces, the fence a
	// one-shot copy started when its last piece was requested, and how
	// long a fence waits (see settle).
	xmax       uint64
	firstFence <-chan fenceResult
	stopFence  context.CancelFunc
	fenceWait  time.Duration
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
		f, err := m.copy(st == nil && existing == 0)
		if err != nil {
			return m.failCopy(err)
		}
		for !m.follow {
			err := m.settle(f, m.xmax, m.firstFence, m.fenceWait)
			f.Close()
			if errors.Is(err, errHistoryLost) {
				fmt.Fprintf(e.stderr, "v2 changes after index %d are no longer in etcd's history: copying a new snapshot and removing what it no longer has\n", m.state.cur.AppliedIndex)
				if f, err = m.copy(false); err != nil {
					return m.failCopy(err)
				}
				continue
			}
			if err != nil {
				return m.failCopy(err)
			}
			m.summary()
			return ExitSuccess
		}
		next, stop = f.Next, func() { f.Close() }
	}
	for {
		err := m.followLoop(next)
		stop()
		if errors.Is(err, errHistoryLost) {
			fmt.Fprintf(e.stderr, "v2 changes after index %d are no longer in etcd's history: copying a new snapshot and removing what it no longer has\n", m.state.cur.AppliedIndex)
			f, err := m.copy(false)
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

// commitBatch writes the changes of b and the state with its applied
// index moved to applied, in one Txn, counts them in the summary and
// empties b; it writes nothing when b is empty and applied is the state's.
func (m *migrator) commitBatch(b *batch, applied uint64) error {
	if len(b.ops) == 0 && applied == m.state.cur.AppliedIndex {
		return nil
	}
	st := *m.state.cur
	st.AppliedIndex = applied
	if err := m.commitState(b.ops, &st); err != nil {
		return err
	}
	m.keys.Add(b.puts)
	m.bytes.Add(b.putBytes)
	m.dirs.Add(b.dirs)
	m.eventDeletes += b.deletes
	b.reset()
	return nil
}

// followLoop applies the changes next returns until the run's context
// ends (nil after the batch in flight is written) or the history is lost
// (errHistoryLost). Changes are written in batches of what has arrived,
// each in one Txn with the state's new applied index.
func (m *migrator) followLoop(next func(context.Context) (*client.Response, error)) error {
	ctx := m.e.ctx
	prog := newProgress("applied", m.e.stderr)
	defer prog.Done()
	var b batch
	applied := m.state.cur.AppliedIndex
	flush := func() error { return m.commitBatch(&b, applied) }
	// handle classifies an error of next: stop (with the error to return)
	// or go on.
	handle := func(err error) (bool, error) {
		switch {
		case ctx.Err() != nil:
			return true, flush()
		case errors.Is(err, client.ErrHistoryLost) || isEventIndexCleared(err):
			if ferr := flush(); ferr != nil {
				return true, ferr
			}
			return true, errHistoryLost
		}
		return false, nil
	}
	for {
		ev, err := next(ctx)
		if err != nil {
			if stop, err := handle(err); stop {
				return err
			}
			m.warn(err)
			continue
		}
		if err := m.apply(&b, ev, flush, &applied); err != nil {
			return err
		}
		prog.Add(len(ev.Node.Key) + len(ev.Node.Value))
		// Take what else has arrived, briefly, into the same batch.
		dctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		for !b.full() {
			ev, err := next(dctx)
			if err != nil {
				if dctx.Err() != nil && ctx.Err() == nil {
					break
				}
				if stop, err := handle(err); stop {
					cancel()
					return err
				}
				break
			}
			if err := m.apply(&b, ev, flush, &applied); err != nil {
				cancel()
				return err
			}
			prog.Add(len(ev.Node.Key) + len(ev.Node.Value))
		}
		cancel()
		if err := flush(); err != nil {
			return err
		}
	}
}

func isEventIndexCleared(err error) bool {
	var kerr client.Error
	return errors.As(err, &kerr) && kerr.Code == client.ErrorCodeEventIndexCleared
}

// apply adds the v3 operations of one v2 change to b (writing b first if
// they conflict with it) and advances *applied to its index.
//
// set, create, update and compareAndSwap of a key become a Put (with the
// lease of its expiration second, if it has a TTL; one already expired
// becomes a Delete); of a directory, a Put of its marker (replacing a file
// of that name, as v2's Set with Dir does). Directories that v2 created
// implicitly on the way to the key, which have no event of their own, get
// their markers first. delete, compareAndDelete and expire become a Delete
// of the key and of everything under key/ (for a directory, its marker and
// whole subtree).
func (m *migrator) apply(b *batch, ev *client.Response, flush func() error, applied *uint64) error {
	m.events++
	n := ev.Node
	key := m.t.v3Key(n.Key)
	del := false
	put := func(k string, dir bool, value string, lease clientv3.LeaseID) error {
		if b.conflicts(k, "") {
			if err := flush(); err != nil {
				return err
			}
		}
		if dir {
			b.putDir(k, lease)
		} else {
			b.put(k, value, lease)
		}
		return nil
	}
	switch ev.Action {
	case "set", "create", "update", "compareAndSwap":
		var lease clientv3.LeaseID
		if n.Expiration != nil {
			var ok bool
			var err error
			if err = m.retry(func() error {
				lease, ok, err = m.leases.forExpiration(context.Background(), *n.Expiration)
				return err
			}); err != nil {
				return err
			}
			if !ok {
				del = true
				break
			}
		}
		for _, d := range onv3.Ancestors(n.Key) {
			if m.t.inside(d) && !m.known[d] {
				if err := put(m.t.dirKey(d), true, "", 0); err != nil {
					return err
				}
				m.known[d] = true
			}
		}
		if n.Dir {
			if b.conflicts(key, "") {
				if err := flush(); err != nil {
					return err
				}
			}
			b.del(key, "") // a file replaced by the directory, if any
			b.deletes--
			if err := put(m.t.dirKey(n.Key), true, "", lease); err != nil {
				return err
			}
			m.known[n.Key] = true
			break
		}
		if err := put(key, false, n.Value, lease); err != nil {
			return err
		}
		m.eventPuts++
	case "delete", "compareAndDelete", "expire":
		del = true
	}
	if del {
		if b.conflicts(key, key+"/") {
			if err := flush(); err != nil {
				return err
			}
		}
		b.del(key, key+"/")
		for d := range m.known {
			if d == n.Key || strings.HasPrefix(d, n.Key+"/") {
				delete(m.known, d)
			}
		}
	}
	*applied = n.ModifiedIndex
	return nil
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
	fmt.Fprintf(m.e.stdout, "migrated v2 %s to v3 %q: %d keys written (%s)%s, %d directories, %d leases, %d events applied, %d keys deleted, %d expired skipped, %d snapshot copies, in %v (%.0f keys/s)\n",
		m.t.subtree, m.t.under(), keys, humanBytes(m.bytes.Load()), kept, m.dirs.Load(), m.leases.count(), m.events,
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
