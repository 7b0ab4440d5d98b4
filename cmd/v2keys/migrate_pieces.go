package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/v2keys/client"
)

// The copy reads the subtree in pieces: etcd answers a recursive read
// only once it has built and encoded all of it (seconds for a million
// keys, nothing to write meanwhile), while one child directory answers in
// milliseconds. So the copy lists the subtree (its files and child
// directories, a quorum read at index X0, with the streaming watch of
// every change below it opened at X0: client.Follow with Shallow), then
// reads each child directory with a recursive quorum read of its own, in
// key order, the next one requested while the current one is written, so
// that etcd encodes a piece while the copy writes the one before.
//
// Exactness. Each node of the copy is as v2 had it at some index in
// [X0, Xmax], Xmax the highest index a piece's read answered at (a child
// gone before its read counts too: its "key not found" answer carries the
// index, and the copy then holds nothing below it, v2's state at that
// index). Every change after X0 is then applied in order (settle, up to
// Xmax at least, then the follow), except those a piece holds already:
// a change to a key below child directory D with an index at or below
// the index D's piece was read at (inPiece). A key no change touched
// after X0 had the same value at every index from X0 on, so every piece
// that holds it holds that value; a key some change touched ends as the
// last such change left it: changes the piece holds are in it, and the
// later ones come after the pieces are written and in v2's order. And no
// reader of the target sees a key go back to an older state, as it would
// if a change the piece holds were applied again. The filter lives only
// in the run that read the pieces; the state's phase stays copy until
// settle has applied every change up to Xmax, so a run interrupted before
// then is resumed as a copy (new pieces, read later, written only where
// they differ: forward), and one interrupted after it replays from the
// applied index, beyond which the subtree has no change up to Xmax (the
// fence's assumption, see settle). A removal of the subtree
// itself (or above it) removes pieces read after it too: every change
// after it is then applied, pieces or not.

// testHookPiece, when set by a test, is called when the copy starts on
// piece i (its read is open, the next one not yet requested), with the
// child directory it reads.
var testHookPiece func(i int, key string)

// testHookWatch, when set by a test, wraps the Next of the copy's
// Follower in settle (to delay the changes' delivery, as a slow stream
// would).
var testHookWatch func(next func(context.Context) (*client.Response, error)) func(context.Context) (*client.Response, error)

// openedPiece is the outcome of opening one piece's read.
type openedPiece struct {
	snap *client.Snapshot
	err  error
}

// index is the v2 index the piece's read answered at: the snapshot's, or
// that of a v2 error answer (a child gone before its read answers "key
// not found" at the index it was read at). It counts toward Xmax like a
// piece that was read: the copy holds v2's state of that key as of that
// index (nothing below it), so the changes up to it must be applied for
// the copy to be v2 at one index. 0 for an answer that carries no index.
func (o openedPiece) index() uint64 {
	if o.err == nil {
		return o.snap.Index
	}
	var kerr client.Error
	if errors.As(o.err, &kerr) {
		return kerr.Index
	}
	return 0
}

// pieces yields the nodes of the listing f.Snapshot (its files and the
// subtree's own node) and then those of each child directory, read on its
// own; a child that is gone yields nothing (its removal is among the
// changes after X0). When the last piece's read has begun, opened is
// called with the highest index the pieces' reads answered at (Xmax; see
// openedPiece.index).
func (m *migrator) pieces(f *client.Follower, opened func(xmax uint64)) iter.Seq2[*client.Node, error] {
	return func(yield func(*client.Node, error) bool) {
		ctx := m.e.ctx
		under := m.t.v2Under()
		var dirs []string
		for n, err := range f.Snapshot.All() {
			if err != nil {
				yield(nil, err)
				return
			}
			if n.Dir && n.Key != m.t.subtree && strings.HasPrefix(n.Key, under) {
				dirs = append(dirs, n.Key)
				continue
			}
			if !yield(n, nil) {
				return
			}
		}
		xmax := f.Snapshot.Index
		open := func(key string) <-chan openedPiece {
			ch := make(chan openedPiece, 1)
			go func() {
				s, err := client.OpenSnapshot(ctx, m.v2, key, &client.WalkOptions{Sort: true, Quorum: true})
				ch <- openedPiece{s, err}
			}()
			return ch
		}
		var pending <-chan openedPiece
		defer func() {
			if pending != nil {
				if o := <-pending; o.snap != nil {
					o.snap.Close()
				}
			}
		}()
		if len(dirs) == 0 {
			opened(xmax)
			return
		}
		pending = open(dirs[0])
		for i, dir := range dirs {
			o := <-pending
			pending = nil
			xmax = max(xmax, o.index())
			m.pieceIndex[dir] = o.index()
			if testHookPiece != nil {
				testHookPiece(i, dir)
			}
			if i+1 < len(dirs) {
				pending = open(dirs[i+1])
			} else {
				opened(xmax)
			}
			if client.IsKeyNotFound(o.err) {
				continue
			}
			if o.err != nil {
				yield(nil, fmt.Errorf("%s: %w", dir, o.err))
				return
			}
			for n, err := range o.snap.All() {
				if err != nil {
					yield(nil, fmt.Errorf("%s: %w", dir, err))
					return
				}
				if !yield(n, nil) {
					o.snap.Close()
					return
				}
			}
		}
	}
}

// inPiece tells whether the change to key at index is one a piece of the
// last copy holds already: key is the piece's child directory or below
// it, and the piece was read at index or later.
func (m *migrator) inPiece(key string, index uint64) bool {
	if m.pieceIndex == nil || !m.t.inside(key) || key == m.t.subtree {
		return false
	}
	under := m.t.v2Under()
	child, _, _ := strings.Cut(strings.TrimPrefix(key, under), "/")
	read, ok := m.pieceIndex[under+child]
	return ok && index <= read
}

// fenceResult is what a fence watch found: the index and key of the first
// change after its start, or none (index 0) within its wait.
type fenceResult struct {
	index uint64
	key   string
	err   error
}

// fence asks v2 for the first change below the subtree with an index of
// at least from: an ordinary (not streaming) watch, which etcd answers at
// once from its history when there is such a change up to its current
// index, and otherwise only at the next change. No answer within wait
// means no change in [from, the member's index when the watch arrived]:
// the one assumption of a copy's single index after its catch-up (see
// settle).
func (m *migrator) fence(ctx context.Context, from uint64, wait time.Duration) fenceResult {
	w := m.kapi.Watcher(m.t.subtree, &client.WatcherOptions{AfterIndex: from - 1, Recursive: true})
	defer closeWatcher(w)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ev, err := w.Next(wctx)
	if err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			return fenceResult{}
		}
		return fenceResult{err: err}
	}
	return fenceResult{index: ev.Node.ModifiedIndex, key: ev.Node.Key}
}

// fenceWait is how long a fence waits for an answer that etcd sends at
// once if it has one: a multiple of the listing's round trip, bounded.
func fenceWait(listing time.Duration) time.Duration {
	return min(max(4*listing, 50*time.Millisecond), time.Second)
}

// watchSkips tells whether a change to key, which etcd's history matches
// for a recursive watch of the subtree, is one the watch does not deliver:
// below the subtree through a hidden name (starting with "_"), or the
// removal of a directory that is not an ancestor but merely a string
// prefix of the subtree (etcd's history compares "/ap" with "/app" as
// strings, its watches by path).
func (m *migrator) watchSkips(key string) bool {
	s := m.t.subtree
	if key == s || key == "/" || strings.HasPrefix(s, key+"/") {
		return false // the subtree, or an ancestor's removal
	}
	rel, ok := strings.CutPrefix(key, strings.TrimSuffix(s, "/")+"/")
	if !ok {
		return true
	}
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, "_") {
			return true
		}
	}
	return false
}

// settle ends a copy as v2 was at one index: it applies the changes after
// X0 (those that have arrived, then those a fence finds) up to xmax, the
// highest index of the pieces, so the target holds v2 as of xmax, or of
// the last change applied if that is later. A one-shot copy ends there; a
// follow goes on from there. first is the fence started when the last
// piece was requested.
func (m *migrator) settle(f *client.Follower, xmax uint64, first <-chan fenceResult, wait time.Duration) error {
	ctx := m.e.ctx
	next := f.Next
	if testHookWatch != nil {
		next = testHookWatch(next)
	}
	var b batch
	applied := m.state.cur.AppliedIndex
	flush := func() error { return m.commitBatch(&b, applied) }
	// take applies the changes that arrive until one at index until or
	// later has been applied, or, with until 0, until one at xmax or
	// later has or none arrives for 5 ms.
	take := func(until uint64) error {
		goal := until
		if until == 0 {
			goal = xmax
		}
		for applied < goal {
			quiet := 5 * time.Millisecond
			if until != 0 {
				quiet = writeTimeout
			}
			dctx, cancel := context.WithTimeout(ctx, quiet)
			ev, err := next(dctx)
			cancel()
			switch {
			case err == nil:
			case ctx.Err() != nil:
				return errInterrupted
			case errors.Is(err, client.ErrHistoryLost) || hasErrorCode(err, client.ErrorCodeEventIndexCleared):
				return errHistoryLost
			case dctx.Err() != nil && until == 0:
				return flush()
			case dctx.Err() != nil:
				return fmt.Errorf("v2 change %d, found in etcd's history, did not arrive on the watch within %v", until, quiet)
			default:
				m.warn(err) // the watch goes on after a failing member
				continue
			}
			if err := m.apply(&b, ev, flush, &applied); err != nil {
				return err
			}
			if b.full() {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	}
	defer func() {
		if first != nil {
			m.stopFence()
			<-first // no goroutine outlives settle
		}
		m.firstFence = nil
	}()
	floor := applied // every change up to floor is applied, or is not delivered by watches
	for {
		if err := take(0); err != nil {
			return err
		}
		floor = max(floor, applied)
		if floor >= xmax {
			return nil
		}
		var fr fenceResult
		if first != nil {
			fr, first = <-first, nil
			m.stopFence()
			if fr.err == nil && fr.index != 0 && fr.index <= floor {
				continue // already applied: ask again from floor
			}
		} else {
			fr = m.fence(ctx, floor+1, wait)
		}
		switch {
		case ctx.Err() != nil:
			return errInterrupted
		case fr.err != nil && hasErrorCode(fr.err, client.ErrorCodeEventIndexCleared):
			return errHistoryLost
		case fr.err != nil:
			return fmt.Errorf("watching v2 %s: %w", m.t.subtree, fr.err)
		case fr.index == 0 || fr.index > xmax:
			return nil // no change in (floor, xmax]
		case m.watchSkips(fr.key):
			floor = fr.index
		default:
			if err := take(fr.index); err != nil {
				return err
			}
			floor = max(floor, applied)
		}
	}
}

// dropFence waits for the fence of a copy that failed, so that no
// goroutine of it outlives the copy.
func (m *migrator) dropFence() {
	if m.firstFence != nil {
		m.stopFence()
		<-m.firstFence
		m.firstFence = nil
	}
}
