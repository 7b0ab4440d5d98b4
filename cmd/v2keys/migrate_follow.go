package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The follow: the v2 changes after a copy's listing, applied to v3 in
// order, in batches each written together with the state's applied index
// (settle, in migrate_pieces.go, applies them up to the copy's Xmax; the
// follow loop from there on).

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
		case errors.Is(err, client.ErrHistoryLost) || hasErrorCode(err, client.ErrorCodeEventIndexCleared):
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
	n := ev.Node
	if m.inPiece(n.Key, n.ModifiedIndex) {
		// A piece read after this change holds its outcome (see
		// inPiece): applying it again would take the key back.
		m.eventsInCopy++
		*applied = n.ModifiedIndex
		return nil
	}
	m.events++
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
		if !m.t.inside(n.Key) || n.Key == m.t.subtree {
			// The subtree's own removal (or an ancestor's) removes the
			// pieces read after it too; from here on, every change after
			// it is applied (see inPiece).
			m.pieceIndex = nil
		}
		for d := range m.known {
			if d == n.Key || strings.HasPrefix(d, n.Key+"/") {
				delete(m.known, d)
			}
		}
	}
	*applied = n.ModifiedIndex
	return nil
}
