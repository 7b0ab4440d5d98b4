package onv3

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/v2keys/client"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Watcher returns a v2 Watcher over a v3 watch stream: every change after
// AfterIndex (a v3 revision) exactly once and in order, v2 actions taken
// from the action records of onv3's writes (see the README for writes made
// by plain v3 clients). Stream is accepted and moot: a v3 watch always
// streams. The stream is opened by the first Next and stays open between
// calls; it ends when a Next's context ends (the next call resumes after
// the last delivered event), on an error, or on Close (reached with
// w.(io.Closer).Close()) or the clientv3 client's Close.
func (k *keysAPI) Watcher(key string, opts *client.WatcherOptions) client.Watcher {
	var o client.WatcherOptions
	if opts != nil {
		o = *opts
	}
	w := &watcher{k: k, recursive: o.Recursive, resync: o.ResyncOnCleared}
	w.life, w.end = context.WithCancel(context.Background())
	if strings.IndexByte(key, 0) >= 0 {
		w.bad = errNUL
	}
	w.key = Canonical(key)
	if o.AfterIndex > 0 {
		w.next = int64(o.AfterIndex) + 1
	}
	return w
}

type watcher struct {
	k         *keysAPI
	key       string
	recursive bool
	resync    bool
	bad       error // the key cannot be watched

	// life is the watcher's lifetime, ended by Close: every watch stream
	// opened is derived from it, so Close ends the stream at once, with or
	// without a Next in progress, and without waiting for one.
	life context.Context
	end  context.CancelFunc

	// mu serialises Next calls.
	mu      sync.Mutex
	next    int64 // first revision not yet converted; 0: from now
	stream  clientv3.WatchChan
	cancel  context.CancelFunc
	pending []*client.Response
	// lost is a revision whose conversion needs history that was
	// compacted (historyGone): every later Next reports the cleared
	// history without reopening the stream there (etcd's compaction at a
	// revision drops that revision's deletes from the history, so a
	// stream reopened at it could skip them).
	lost int64
}

var errWatcherClosed = errors.New("onv3: watcher closed")

// Close ends the watch stream, also under a Next that waits (which then
// returns an error). A later Next fails. Safe to call more than once.
func (w *watcher) Close() error {
	w.end()
	return nil
}

func (w *watcher) stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.stream, w.cancel = nil, nil
}

// rangeOf is the v3 range the watch covers; events of keys beside the
// watched ones that it also covers are filtered out by inScope. Below a
// directory the range starts at the outermost directory's marker, so that
// the one stream also carries the removal of every directory above the
// key (a directory's expiry deletes only its marker), in revision order
// with the key's own events: see ancestorGone. The root and top-level keys
// have no directory above, and their range is exactly theirs.
func (w *watcher) rangeOf() (string, string) {
	l := w.k.l
	if w.key == "/" {
		return l.Below("/")
	}
	start := l.FileKey(w.key)
	if anc := Ancestors(w.key); len(anc) > 0 {
		start = l.DirKey(anc[0])
	}
	if w.recursive {
		return start, l.Prefix + w.key + "0"
	}
	return start, l.DirKey(w.key) + "\x00"
}

// isAbove reports whether the v2 key is a directory above the watched key.
func (w *watcher) isAbove(key string) bool {
	return len(key) < len(w.key) && w.key[len(key)] == '/' && strings.HasPrefix(w.key, key)
}

func (w *watcher) inScope(key string) bool {
	if key == w.key {
		return true
	}
	return w.recursive && (w.key == "/" || strings.HasPrefix(key, w.key+"/"))
}

// Next returns the next event. See client.Watcher.
func (w *watcher) Next(ctx context.Context) (*client.Response, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bad != nil {
		return nil, w.bad
	}
	for {
		if w.life.Err() != nil {
			w.stop()
			return nil, errWatcherClosed
		}
		if len(w.pending) > 0 {
			r := w.pending[0]
			w.pending = w.pending[1:]
			return r, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if w.lost != 0 {
			return nil, w.cleared(ctx, w.lost, w.lost-1, w.lost)
		}
		if w.stream == nil {
			w.open()
		}
		var wr clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			w.stop() // the next call resumes from w.next
			return nil, ctx.Err()
		case <-w.life.Done():
			w.stop()
			return nil, errWatcherClosed
		case wr, ok = <-w.stream:
		}
		if w.life.Err() != nil { // the stream ended because Close ended it
			w.stop()
			return nil, errWatcherClosed
		}
		if !ok {
			w.stop()
			return nil, w.ended()
		}
		if wr.CompactRevision != 0 {
			w.stop()
			return nil, w.cleared(ctx, wr.CompactRevision, w.next, wr.Header.Revision)
		}
		if err := wr.Err(); err != nil {
			w.stop()
			if errors.Is(err, rpctypes.ErrNoLeader) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrNoLeader) {
				return nil, fmt.Errorf("onv3: watch stream ended: the member lost its leader, which the watch requires (%w); the next Next resumes after the last delivered event", err)
			}
			return nil, fmt.Errorf("onv3: watch: %w", err)
		}
		if wr.Created {
			if w.next == 0 {
				w.next = wr.Header.Revision + 1
			} else if err := w.checkStart(ctx, wr.Header.Revision); err != nil {
				w.stop()
				return nil, err
			}
			continue
		}
		if err := w.convert(ctx, wr); err != nil {
			w.stop()
			var hg historyGone
			if errors.As(err, &hg) {
				w.lost = hg.rev
			}
			if len(w.pending) > 0 {
				// Deliver the events before the failed revision first:
				// then the error, or the stream reopens at w.next.
				continue
			}
			if w.lost != 0 {
				return nil, w.cleared(ctx, w.lost, w.lost-1, wr.Header.Revision)
			}
			return nil, err
		}
	}
}

// ended is the error of a watch channel that clientv3 closed without a
// last response. It does so when the client was closed, and also when the
// server ended the stream (a member without a leader ends every watch that
// requires one, as onv3's do) while the channel's buffer held an event no
// Next had read yet: clientv3 then drops the reason after 250 ms.
func (w *watcher) ended() error {
	if w.k.c.Ctx().Err() != nil {
		return errors.New("onv3: watch stream ended: the clientv3 client was closed")
	}
	return errors.New("onv3: watch stream ended by the server with the clientv3 client open, its reason lost " +
		"while no Next was waiting (a member ends the watch when it has no leader, which the watch requires); " +
		"the next Next resumes after the last delivered event")
}

func (w *watcher) open() {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(w.life))
	start, end := w.rangeOf()
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithPrevKV(), clientv3.WithCreatedNotify()}
	if w.next > 0 {
		opts = append(opts, clientv3.WithRev(w.next))
	}
	w.stream, w.cancel = w.k.c.Watch(ctx, start, opts...), cancel
}

// checkStart makes sure that the history of the stream just opened at
// w.next is whole. etcd accepts a watch from the compacted revision
// itself, but its compaction dropped that revision's deletes from the
// history, so a stream from there could skip them: a read at the revision
// before tells, and a compacted one is the cleared history, as an older
// start is. (A compaction after this read and before etcd reads the
// history for the stream, some 100 ms at most, is not caught: etcd offers
// no way to.) header is the revision the stream was created at.
func (w *watcher) checkStart(ctx context.Context, header int64) error {
	if w.next-1 > header {
		return nil // a start in the future: no history to check
	}
	start, _ := w.rangeOf() // one key: compaction is of the whole keyspace
	_, err := w.k.c.Get(ctx, start, clientv3.WithRev(w.next-1), clientv3.WithCountOnly())
	if err == nil {
		return nil
	}
	err = historyErr(ctx, w.next, fmt.Errorf("reading at %d: %w", w.next-1, err))
	if errors.As(err, new(historyGone)) {
		return w.cleared(ctx, w.next, w.next-1, header)
	}
	return err
}

// cleared reports a compacted revision (the watch's start, or one that a
// conversion read: historyGone) as v2 reports a cleared event index:
// errorCode 401, or with ResyncOnCleared a fresh read of the key after
// which the watch resumes. compact is the first revision kept (or a lower
// bound of it), requested the revision asked for, index the latest known.
func (w *watcher) cleared(ctx context.Context, compact, requested, index int64) error {
	e := client.Error{Code: client.ErrorCodeEventIndexCleared, Message: messages[client.ErrorCodeEventIndexCleared],
		Cause: fmt.Sprintf("the requested history has been cleared [%d/%d]", compact, requested), Index: uint64(index)}
	if !w.resync {
		return e
	}
	snap, err := w.k.Get(ctx, w.key, &client.GetOptions{Quorum: true, Sort: true, Recursive: w.recursive})
	if err != nil {
		var ce client.Error
		if !errors.As(err, &ce) || ce.Code != client.ErrorCodeKeyNotFound {
			return err
		}
		snap = &client.Response{Index: ce.Index}
	}
	w.next, w.lost = int64(snap.Index)+1, 0
	return &client.HistoryClearedError{Snapshot: snap, Cleared: e}
}

// convert turns the events of one watch response into v2 events, one
// revision at a time, and moves w.next past them.
func (w *watcher) convert(ctx context.Context, wr clientv3.WatchResponse) error {
	evs := wr.Events
	for len(evs) > 0 {
		rev := evs[0].Kv.ModRevision
		n := 1
		for n < len(evs) && evs[n].Kv.ModRevision == rev {
			n++
		}
		rs, err := w.revision(ctx, rev, evs[:n], wr.Header)
		if err != nil {
			return err
		}
		w.pending = append(w.pending, rs...)
		w.next = rev + 1
		evs = evs[n:]
	}
	return nil
}

// revision converts the events of one revision. A write made through
// onv3 carries an action record naming its key and action: it gives one
// v2 event and the other keys of the revision (directories created on the
// way, a deleted subtree) give none, as in v2. Without a record in the
// watch's range (plain v3 clients, lease expiry, an onv3 write below a
// directory watched alone) each key gives its own event: a put is "set", a
// delete is "expire" if the key had a lease, else "delete"; but a
// directory created with keys below it is created on the way, as in v2
// (implicitDir).
func (w *watcher) revision(ctx context.Context, rev int64, evs []*clientv3.Event, h *pb.ResponseHeader) ([]*client.Response, error) {
	l := w.k.l
	byKey := map[string][]change{}
	var records, above []*clientv3.Event
	for _, ev := range evs {
		key, kind := l.Parse(string(ev.Kv.Key))
		switch kind {
		case Record:
			if ev.Type == clientv3.EventTypePut && strings.HasSuffix(string(ev.Kv.Key), "\x00") && w.inScope(key) {
				records = append(records, ev)
			}
		case File, Dir:
			switch {
			case w.inScope(key):
				byKey[key] = append(byKey[key], change{ev, kind})
			case kind == Dir && ev.Type == clientv3.EventTypeDelete && w.isAbove(key):
				above = append(above, ev)
			}
		}
	}
	var out []*client.Response
	emit := func(r *client.Response) {
		r.Index, r.ClusterID = uint64(h.Revision), clusterIDString(h.ClusterId)
		out = append(out, r)
	}
	if len(records) == 0 && len(byKey) == 0 && len(above) > 0 {
		// Nothing of this watch's range changed, but the marker of a
		// directory above it went: the watched keys vanished with it.
		r, err := w.ancestorGone(ctx, rev, above)
		if err != nil {
			return nil, err
		}
		if r != nil {
			emit(r)
		}
		return out, nil
	}
	if len(records) == 0 && w.key != "/" && anyDelete(byKey) {
		// Keys of this watch were deleted by a write whose record lies
		// outside its range: a directory above was deleted recursively
		// (v2 tells the watchers of every node below it with that one
		// event), or orphans were reaped (v2 has nothing to tell).
		r, handled, err := w.ancestorDelete(ctx, rev)
		if err != nil {
			return nil, err
		}
		if handled {
			if r != nil {
				emit(r)
			}
			return out, nil
		}
	}
	if len(records) > 0 {
		for _, rec := range records {
			key, _ := l.Parse(string(rec.Kv.Key))
			parts := strings.Split(string(rec.Kv.Value), "\x00")
			action := parts[0]
			if action == actionRefresh || action == actionReap {
				continue
			}
			r := &client.Response{Action: action}
			if len(parts) == 4 && parts[1] == "dir" {
				created, _ := strconv.ParseInt(parts[2], 10, 64)
				mod, _ := strconv.ParseInt(parts[3], 10, 64)
				r.Node = &client.Node{Key: key, Dir: true, CreatedIndex: uint64(created), ModifiedIndex: uint64(rev)}
				r.PrevNode = &client.Node{Key: key, Dir: true, CreatedIndex: uint64(created), ModifiedIndex: uint64(mod)}
				emit(r)
				continue
			}
			for _, c := range byKey[key] {
				if c.ev.Type == clientv3.EventTypePut {
					n := kvNode(key, c.kind, c.ev.Kv)
					if err := newTTLs(w.k.c).fill(ctx, n, c.ev.Kv.Lease); err != nil {
						return nil, err
					}
					r.Node = n
				} else if r.Node == nil {
					r.Node = &client.Node{Key: key, Dir: c.kind == Dir, CreatedIndex: uint64(c.ev.PrevKv.GetCreateRevision()), ModifiedIndex: uint64(rev)}
				}
				if c.ev.PrevKv != nil && r.PrevNode == nil {
					r.PrevNode = kvNode(key, c.kind, c.ev.PrevKv)
				}
			}
			if r.Node == nil {
				continue // not a change of this watch's keys
			}
			emit(r)
		}
		return out, nil
	}
	for _, ev := range evs {
		key, kind := l.Parse(string(ev.Kv.Key))
		if (kind != File && kind != Dir) || !w.inScope(key) {
			continue
		}
		if kind == Dir && ev.Type == clientv3.EventTypePut && ev.PrevKv == nil {
			implicit, err := w.implicitDir(ctx, key, rev, evs)
			if err != nil {
				return nil, err
			}
			if implicit {
				continue
			}
		}
		r := &client.Response{Action: actionSet}
		if ev.Type == clientv3.EventTypePut {
			r.Node = kvNode(key, kind, ev.Kv)
			if err := newTTLs(w.k.c).fill(ctx, r.Node, ev.Kv.Lease); err != nil {
				return nil, err
			}
		} else {
			r.Action = actionDelete
			if ev.PrevKv != nil && ev.PrevKv.Lease != 0 {
				r.Action = actionExpire
			}
			r.Node = &client.Node{Key: key, Dir: kind == Dir, CreatedIndex: uint64(ev.PrevKv.GetCreateRevision()), ModifiedIndex: uint64(rev)}
		}
		if ev.PrevKv != nil {
			r.PrevNode = kvNode(key, kind, ev.PrevKv)
		}
		emit(r)
	}
	return out, nil
}

// change is one event of a key of the watch, with what the key is.
type change struct {
	ev   *clientv3.Event
	kind Kind
}

// anyDelete reports whether a change of byKey is a delete.
func anyDelete(byKey map[string][]change) bool {
	for _, cs := range byKey {
		for _, c := range cs {
			if c.ev.Type == clientv3.EventTypeDelete {
				return true
			}
		}
	}
	return false
}

func kvNode(key string, kind Kind, kv *mvccpb.KeyValue) *client.Node {
	if kind == Dir {
		return dirNode(key, kv)
	}
	return fileNode(key, kv)
}
