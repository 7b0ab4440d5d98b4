package client

// The streaming watcher (WatcherOptions.Stream).
//
// A v2 stream (wait=true&stream=true) sends every matching event after the
// index in its X-Etcd-Index header S, one JSON object per line, for as long
// as the member keeps it; it ends when the member dies or goes silent, or
// when the member's per-watcher buffer of 100 events overflows because the
// client reads too slowly (the server then drops the event that did not
// fit, and every later one). A stream opened with a waitIndex in the past
// is useless: etcd answers it with the one historical event and then
// nothing, so a stream is always opened "from now", and history is read
// with ordinary one-event watches.
//
// A session, repeated until the watcher is closed:
//
//  1. Open a stream from now; its header gives S. Its events (all > S) are
//     read continuously into a bounded queue by a reader goroutine.
//  2. Catch up: while next <= S, an ordinary watch from waitIndex=next
//     returns the first matching event with index >= next. If that index
//     is <= S, deliver it and set next past it. If it is > S, there is no
//     matching event in [next, S]: catch-up is over. Such a watch blocks
//     only when no matching event exists after next at all; it then
//     returns with the first event after S, which is also the stream's
//     first event, so it never outwaits the stream.
//  3. Deliver the stream's events, skipping any below next (a stream
//     opened on a member that lags behind the one that served earlier
//     events starts before them).
//
// Catch-up delivers only indexes <= S and the stream only indexes > S, each
// in increasing order, so nothing is delivered twice; every matching index
// in [next, S] is found by catch-up and every one after S is on the stream
// up to where it ended, so nothing is skipped. A stream that ends, for any
// reason, ends after a contiguous run of events, and the next session
// starts from the index after the last one delivered.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// streamQueueLen bounds the events a streaming watcher holds that its
// caller has not taken yet, both those read from the stream and those
// already handed over for Next. Catch-up from history is eager for the
// same reason: events are fetched while the caller is busy (reading a
// Follow snapshot, say), before etcd's 1000-event history drops them. When
// the queues are full the watcher stops reading; the member then ends the
// stream, and the watcher catches up from history once its caller has
// taken the queued events.
var streamQueueLen = 4096

// streamWatcher is the Watcher of WatcherOptions.Stream. One goroutine
// (run) owns the position and the sessions; Next takes what it delivers.
type streamWatcher struct {
	client    *httpClusterClient
	act       waitAction // key, recursion; WaitIndex is the first index wanted (0: from now)
	next      uint64     // owned by run: every matching event below it was delivered
	maxLine   int64
	resync    bool // WatcherOptions.ResyncOnCleared
	startOnce sync.Once

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	out    chan streamItem // run queues items here, eagerly, for Next to take
	done   chan struct{}   // closed when run has ended, with err set
	err    error

	stats streamStats
}

// streamStats counts what a streaming watcher did, for tests and
// measurements.
type streamStats struct {
	sessions   atomic.Int64 // streams opened
	historical atomic.Int64 // events delivered from ordinary catch-up watches
	streamed   atomic.Int64 // events delivered from streams
}

// streamItem is what Next returns: an event or an error.
type streamItem struct {
	resp *Response
	err  error
}

func newStreamWatcher(c *httpClusterClient, act waitAction) *streamWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &streamWatcher{
		client:  c,
		act:     act,
		next:    act.WaitIndex,
		maxLine: c.endpoint.maxBody,
		ctx:     ctx,
		cancel:  cancel,
		out:     make(chan streamItem, streamQueueLen),
		done:    make(chan struct{}),
	}
}

// Next returns the next event in index order. The first call opens the
// stream, so with no AfterIndex the watcher delivers what happens after
// the first Next. If ctx ends first, Next returns ctx.Err() and the
// watcher keeps its place. After the watcher or its Client is closed, Next
// returns ErrWatcherClosed or ErrClientClosed.
func (w *streamWatcher) Next(ctx context.Context) (*Response, error) {
	w.start()
	select {
	case it := <-w.out:
		return it.resp, it.err
	case <-w.done:
		return nil, w.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start opens the stream and begins catching up, if not done yet; events
// are then kept until Next takes them.
func (w *streamWatcher) start() {
	w.startOnce.Do(func() { go w.run() })
}

// Close ends the watcher's stream and goroutines and waits for them to
// exit. Later Next calls return ErrWatcherClosed. A streaming Watcher is
// closed with
//
//	w.(io.Closer).Close()
func (w *streamWatcher) Close() error {
	w.cancel()
	w.startOnce.Do(func() {
		w.err = ErrWatcherClosed
		close(w.done)
	})
	<-w.done
	return nil
}

func (w *streamWatcher) run() {
	defer close(w.done)
	w.err = w.loop()
}

// loop runs sessions until the watcher or the client is closed. A failure
// is handed to Next as an error; a session that delivered nothing is
// followed by a growing pause, so a member that keeps ending streams at
// once is not hammered.
func (w *streamWatcher) loop() error {
	backoff := time.Duration(0)
	for {
		delivered, err := w.session()
		if w.ctx.Err() != nil {
			return ErrWatcherClosed
		}
		if err == ErrClientClosed {
			return err
		}
		if err != nil && !w.send(streamItem{err: err}) {
			return ErrWatcherClosed
		}
		if delivered {
			backoff = 0
			continue
		}
		if backoff > 0 && sleepCtx(w.ctx, backoff) != nil {
			return ErrWatcherClosed
		}
		backoff = nextBackoff(backoff)
	}
}

// send hands it to a Next call, unless the watcher is closed first.
func (w *streamWatcher) send(it streamItem) bool {
	select {
	case w.out <- it:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// session opens a stream, catches up to its start from history, then
// delivers the stream's events until it ends. It returns nil when the
// stream ended, and whether it delivered any event.
func (w *streamWatcher) session() (delivered bool, err error) {
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()

	sa := w.act
	sa.WaitIndex, sa.Stream = 0, true
	resp, err := w.client.open(ctx, &sa)
	if err != nil {
		return false, err
	}
	w.stats.sessions.Add(1)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		defer resp.Body.Close()
		body, err := resp.Body.(*guardedBody).readAll(1 << 20)
		if err != nil {
			return false, fmt.Errorf("client: reading watch error: %w", err)
		}
		return false, decodeKeysError(body)
	}
	start, err := strconv.ParseUint(headerValue(resp.Header, "X-Etcd-Index"), 10, 64)
	if err != nil {
		resp.Body.Close()
		return false, fmt.Errorf("client: stream without a valid X-Etcd-Index: %w", err)
	}
	clusterID := headerValue(resp.Header, "X-Etcd-Cluster-Id")

	events := make(chan *Response, streamQueueLen)
	var readErr error
	go func() {
		defer close(events)
		readErr = readStream(ctx, resp.Body, w.maxLine, events)
	}()
	defer func() {
		cancel()
		resp.Body.Close()
		for range events {
			// Let the reader finish.
		}
	}()

	if w.next == 0 {
		w.next = start + 1
	}
	// Catch up on history: every matching event in [next, start].
	for w.next <= start {
		wa := w.act
		wa.WaitIndex = w.next
		ev, err := watchOnce(ctx, w.client, wa)
		var cleared Error
		if err != nil && w.resync && errors.As(err, &cleared) && cleared.Code == ErrorCodeEventIndexCleared {
			// The history was cleared: hand over the current state and
			// go on after it (the stream skips what it already covers).
			snap, err := resyncSnapshot(ctx, w.client, w.act)
			if err != nil {
				return delivered, err
			}
			if !w.send(streamItem{err: &HistoryClearedError{Snapshot: snap, Cleared: cleared}}) {
				return delivered, nil
			}
			delivered = true
			w.next = snap.Index + 1
			continue
		}
		if err != nil {
			return delivered, err
		}
		idx := ev.Node.ModifiedIndex
		if idx > start {
			break // nothing in [next, start]; the stream has this one
		}
		if idx < w.next {
			return delivered, fmt.Errorf("client: watch from index %d answered with event %d", w.next, idx)
		}
		if !w.send(streamItem{resp: ev}) {
			return delivered, nil
		}
		delivered = true
		w.stats.historical.Add(1)
		w.next = idx + 1
	}
	w.next = max(w.next, start+1)

	for ev := range events {
		idx := ev.Node.ModifiedIndex
		if idx < w.next {
			continue
		}
		ev.Index, ev.ClusterID = start, clusterID
		if !w.send(streamItem{resp: ev}) {
			return delivered, nil
		}
		delivered = true
		w.stats.streamed.Add(1)
		w.next = idx + 1
	}
	if readErr != io.EOF && ctx.Err() == nil && resp.Request != nil {
		// The member died or went silent, not merely ended the stream:
		// start the next attempt at another member, as Do would.
		w.client.unpin(resp.Request.URL)
	}
	return delivered, nil
}

// readStream decodes one event per line of body into events until the
// body ends (io.EOF) or fails. A line longer than maxLine is an error.
func readStream(ctx context.Context, body io.Reader, maxLine int64, events chan<- *Response) error {
	br := bufio.NewReaderSize(body, 32<<10)
	for {
		line, err := readLine(br, maxLine)
		if line = bytes.TrimSpace(line); len(line) > 0 {
			res := new(Response)
			if derr := decodeResponse(line, res); derr != nil || res.Node == nil {
				return ErrInvalidJSON
			}
			select {
			case events <- res:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err != nil {
			return err
		}
	}
}

// readLine returns the next line of br, without sharing memory with br's
// buffer (decoded strings alias it), and with the error that ended it.
func readLine(br *bufio.Reader, maxLine int64) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		if int64(len(line)+len(part)) > maxLine {
			return nil, fmt.Errorf("%w: an event longer than %d bytes", ErrResponseTooLarge, maxLine)
		}
		line = append(line, part...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}
