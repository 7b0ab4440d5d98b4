package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/v2keys/client"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The snapshot copy: the v2 subtree, read in pieces (migrate_pieces.go),
// written to v3 by concurrent transactions, then the removal of what the
// target holds and the pieces do not; the changes after the listing are
// applied next (the follow, or settle).
//
// Resuming. The state of a copy records CopyRevision, the v3 revision of
// the state write that began it: every key of the target range with a
// higher ModRevision was written by this copy (or by an earlier attempt
// of it, each of which wrote the value some v2 snapshot had). A re-run
// after an interruption, whenever it happened (a signal, a crash, a lost
// connection), keeps CopyRevision, reads those keys (their value hashes),
// reads the subtree again (a listing at v2 index Y, then the pieces) and
// writes only the nodes whose v3 key is missing or differs; then it
// deletes every key of the range that neither the new pieces nor this run
// confirmed. The target then holds the pieces, and the changes after Y
// are applied next: the resumed copy depends on no v2 history from before
// it, so nothing between the two runs can be missed.

// testHookCopied, when set by a test, is called after each batch of the
// copy is queued for the writers, with the number of keys queued so far.
var testHookCopied func(keys int64)

// copyBatch is one Txn of the copy and what it holds, counted in the
// summary once written.
type copyBatch struct {
	txn                  *wireTxn
	puts, putBytes, dirs int64
}

// copyEntry is a key an earlier attempt of the copy wrote.
type copyEntry struct {
	sum   uint64 // FNV-1a of the value
	lease bool   // written with a lease
	seen  bool   // the new snapshot has it, unchanged: kept
}

func valueSum(v string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(v))
	return h.Sum64()
}

// copy reads the subtree in pieces (a listing at index X0 with the watch
// of the changes after it, client.Follow, then each child directory; see
// pieces), writes every key of them to v3 (except, when resuming, those an earlier attempt
// already wrote as they still are), deletes the v3 keys of the target
// that the snapshot does not have (unless fresh: the target was empty and
// had no state when the run began), and records X0 as the applied index
// in the state, whose phase stays copy until settle has applied the
// changes made while the pieces were read. It returns the Follower, whose
// Next yields the changes after X0.
func (m *migrator) copy(fresh bool) (*client.Follower, error) {
	e := m.e
	m.copies++
	listed := time.Now()
	f, err := client.Follow(e.ctx, m.v2, m.t.subtree, &client.FollowOptions{Shallow: true})
	m.fenceWait = fenceWait(time.Since(listed))
	if err != nil {
		if e.ctx.Err() != nil {
			return nil, errInterrupted
		}
		return nil, fmt.Errorf("reading v2 %s: %w", m.t.subtree, err)
	}
	snap := f.Snapshot
	fail := func(err error) (*client.Follower, error) {
		f.Close()
		return nil, err
	}
	m.known = map[string]bool{}
	m.pieceIndex = map[string]uint64{}
	if err := m.retry(m.markAbove); err != nil {
		return fail(err)
	}
	if err := m.state.check(m.t, snap.ClusterID); err != nil {
		return fail(err)
	}
	prev := m.state.cur
	st := migrateState{ClusterID: snap.ClusterID, Subtree: m.t.subtree, Prefix: m.t.prefix, Phase: phaseCopy, SnapshotIndex: snap.Index}
	resume := prev != nil && prev.Phase == phaseCopy && prev.CopyRevision > 0
	if resume {
		st.CopyRevision = prev.CopyRevision
	}
	if err := m.state.commit(nil, &st); err != nil {
		return fail(err)
	}
	if !resume {
		// The copy's own writes all come after this state write: a key
		// of the target whose revision is not above it was not written by
		// this copy.
		st.CopyRevision = m.state.rev
		if err := m.state.commit(nil, &st); err != nil {
			return fail(err)
		}
	}
	// Every write of this run comes after this revision.
	before := m.state.rev
	var have map[string]*copyEntry
	if resume {
		if have, err = m.written(st.CopyRevision, before); err != nil {
			return fail(err)
		}
	}

	prog := newProgress("copied", e.stderr)
	// The writers. On an interruption (SIGINT, SIGTERM) the Txns in flight
	// finish, and the batches still queued are dropped: a re-run resumes
	// the copy, writing what they held.
	batches := make(chan *copyBatch, m.workers)
	var wg sync.WaitGroup
	var werr atomic.Pointer[error]
	for i := 0; i < m.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cb := range batches {
				if werr.Load() != nil || e.ctx.Err() != nil {
					continue
				}
				err := m.retryUntil(e.ctx, func() error { return commitWire(m.v3, cb.txn) })
				if err != nil {
					werr.CompareAndSwap(nil, &err)
					continue
				}
				m.keys.Add(cb.puts)
				m.bytes.Add(cb.putBytes)
				m.dirs.Add(cb.dirs)
			}
		}()
	}
	// The batch being filled.
	b := &copyBatch{txn: newWireTxn(m.state.key, before, 0)}
	var queued int64
	send := func() {
		if b.txn.len() == 0 {
			return
		}
		select {
		case batches <- b: // the workers own it now
		case <-e.ctx.Done():
			return
		}
		queued += b.puts
		b = &copyBatch{txn: newWireTxn(m.state.key, before, cap(b.txn.buf))}
		if testHookCopied != nil {
			testHookCopied(queued)
		}
	}
	// The copy asks, as soon as the last piece's index is known, for
	// the first change after the listing (see settle).
	// (A copy that is the listing alone is v2 at one index already.)
	m.xmax, m.firstFence = snap.Index, nil
	opened := func(xmax uint64) {
		m.xmax = xmax
		if xmax == snap.Index {
			return
		}
		ch := make(chan fenceResult, 1)
		fctx, cancel := context.WithCancel(e.ctx)
		m.firstFence, m.stopFence = ch, cancel
		go func() { ch <- m.fence(fctx, snap.Index+1, m.fenceWait) }()
	}
	var rerr error
	for n, err := range m.pieces(f, opened) {
		if err != nil {
			rerr = err
			break
		}
		if werr.Load() != nil {
			break
		}
		if n.Dir && n.Key == "/" {
			continue // the root has no marker
		}
		key := m.t.v3Key(n.Key)
		if n.Dir {
			key = m.t.dirKey(n.Key)
		}
		if have != nil && n.Expiration == nil {
			// An earlier attempt wrote it as it still is: keep it. (A key
			// with a TTL gets a lease of this run.)
			if c := have[key]; c != nil && !c.lease && c.sum == valueSum(n.Value) {
				c.seen = true
				m.kept++
				if n.Dir {
					m.known[n.Key] = true
				}
				prog.Add(len(n.Key) + len(n.Value))
				continue
			}
		}
		var lease clientv3.LeaseID
		if n.Expiration != nil {
			id, ok, err := m.leases.forExpiration(context.Background(), *n.Expiration)
			if err != nil {
				rerr = err
				break
			}
			if !ok {
				// Expired: the sweep removes an older copy; below an
				// expired directory's missing marker, keys are orphans
				// that onv3 does not see, as v2 no longer has them.
				m.skipped.Add(1)
				continue
			}
			lease = id
		}
		if n.Dir {
			// Empty directories and directory TTLs are copied too.
			b.txn.put(key, "", int64(lease))
			b.dirs++
			m.known[n.Key] = true
		} else {
			b.txn.put(key, n.Value, int64(lease))
			b.puts++
			b.putBytes += int64(len(key) + len(n.Value))
		}
		prog.Add(len(n.Key) + len(n.Value))
		if b.txn.full() {
			send()
		}
	}
	if rerr == nil && werr.Load() == nil && e.ctx.Err() == nil {
		send()
	}
	close(batches)
	if e.ctx.Err() != nil {
		prog.Done() // its line ends before the message
		fmt.Fprintln(e.stderr, "interrupted: waiting for the transactions in flight (interrupt again to exit at once; the next run resumes either way)")
	}
	wg.Wait()
	prog.Done()
	if rerr != nil || werr.Load() != nil || e.ctx.Err() != nil {
		m.dropFence()
	}
	switch {
	case e.ctx.Err() != nil:
		return fail(errInterrupted)
	case rerr != nil:
		return fail(fmt.Errorf("reading v2 %s: %w", m.t.subtree, rerr))
	case werr.Load() != nil:
		return fail(*werr.Load())
	}
	if !fresh {
		if err := m.sweep(before, have); err != nil {
			return fail(err)
		}
	}
	// The copy is written; the phase stays copy (and CopyRevision with
	// it) until settle has applied the changes made while it was read.
	st.AppliedIndex = snap.Index
	if err := m.state.commit(nil, &st); err != nil {
		return fail(err)
	}
	return f, nil
}

// written returns the keys of the target range that the earlier attempts
// of the copy wrote (ModRevision in (from, to]), with their value hashes.
func (m *migrator) written(from, to int64) (map[string]*copyEntry, error) {
	have := map[string]*copyEntry{}
	err := m.retry(func() error {
		clear(have)
		return m.t.each(m.v3, false, []clientv3.OpOption{clientv3.WithMinModRev(from + 1), clientv3.WithMaxModRev(to)}, func(kv *kvView) {
			have[kv.Key] = &copyEntry{sum: valueSum(string(kv.Value)), lease: kv.Lease != 0}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading what the interrupted copy wrote: %w", err)
	}
	return have, nil
}

// sweep deletes the keys of the target range last written at or before
// revision rev that this copy did not confirm (have[key].seen): those the
// snapshot does not have. Its Txns carry the copy's guard (rev is the
// revision of this run's state write): a delete of this run that reaches
// etcd after a newer run took over removes nothing that run wrote.
func (m *migrator) sweep(rev int64, have map[string]*copyEntry) error {
	var stale []string
	err := m.retry(func() error {
		stale = stale[:0]
		return m.t.each(m.v3, true, []clientv3.OpOption{clientv3.WithMaxModRev(rev)}, func(kv *kvView) {
			if c := have[kv.Key]; c == nil || !c.seen {
				stale = append(stale, kv.Key)
			}
		})
	})
	if err != nil {
		return fmt.Errorf("removing stale v3 keys: %w", err)
	}
	b := batch{max: maxTxnOps}
	flush := func() error {
		if len(b.ops) == 0 {
			return nil
		}
		ops := b.ops
		b.ops = nil
		m.deleted.Add(b.deletes)
		b.reset()
		return m.retry(func() error { return commitSplit(m.v3, m.state.key, rev, ops) })
	}
	for _, k := range stale {
		b.del(k, "")
		if b.full() {
			if err := flush(); err != nil {
				return fmt.Errorf("removing stale v3 keys: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("removing stale v3 keys: %w", err)
	}
	return nil
}
