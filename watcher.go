package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Watcher delivers the events that happen to a key, or to a directory and
// its children, one at a time.
type Watcher interface {
	// Next blocks until an etcd event occurs, then returns a Response
	// representing that event. The behavior of Next depends on the
	// WatcherOptions used to construct the Watcher. Next is designed to
	// be called repeatedly, each time blocking until a subsequent event
	// is available.
	//
	// If the provided context is cancelled, Next will return a non-nil
	// error. Any other failures encountered while waiting for the next
	// event (connection issues, deserialization failures, etc) will
	// also result in a non-nil error. After an error, Next may be called
	// again: it resumes from the index after the last delivered event.
	Next(context.Context) (*Response, error)
}

// WatcherOptions are the options of KeysAPI.Watcher.
type WatcherOptions struct {
	// AfterIndex defines the index after-which the Watcher should
	// start emitting events. For example, if a value of 5 is
	// provided, the first event will have an index >= 6.
	//
	// Setting AfterIndex to 0 (default) means that the Watcher
	// should start watching for events starting at the current
	// index, whatever that may be.
	AfterIndex uint64

	// Recursive specifies whether or not the Watcher should emit
	// events that occur in children of the given keyspace. If set
	// to false (default), events will be limited to those that
	// occur for the exact key.
	Recursive bool

	// ResyncOnCleared makes the Watcher recover when the server no longer
	// holds the events it asks for (etcd keeps the last 1000): instead of
	// failing with Error{Code: ErrorCodeEventIndexCleared} on every call,
	// Next reads the watched key afresh (a quorum, sorted GET, recursive
	// if the Watcher is) and returns a *HistoryClearedError holding that
	// state. The following Next continues with the events after the GET
	// (from its X-Etcd-Index + 1, as etcd's API documentation says), so
	// the snapshot plus the events that follow it describe the key
	// exactly; the events in between are lost and the caller must treat
	// the snapshot as a replacement of what it knew.
	//
	// Without it (the default, upstream's behaviour) Next returns the
	// Error and the Watcher keeps asking for the same index.
	ResyncOnCleared bool

	// Stream makes the Watcher receive events over one long-lived request
	// (a v2 stream=true watch) instead of one request per event, so that it
	// keeps up with bursts of writes that would make a per-request watcher
	// fall more than the server's 1000 events of history behind and fail
	// with ErrorCodeEventIndexCleared. Events come in index order with no
	// gap and no duplicate, also across a member's failure: the watcher
	// catches up on missed history with ordinary watches and resumes.
	//
	// A streaming Watcher runs goroutines and holds a request open from
	// its first Next until it is closed: call its Close method, reached
	// with w.(io.Closer).Close(), or close the Client. After a Next error
	// the next call resumes after the last delivered event. A context
	// ending a Next returns the context's error and loses nothing: events
	// that arrive meanwhile are kept (up to a bounded queue; beyond it the
	// watcher lets the stream go and catches up later from its history).
	//
	// Stream is an extension of this package; upstream has no such option.
	// It takes effect with a Client made by New (any other Client gets the
	// default Watcher).
	Stream bool
}

func (k *httpKeysAPI) Watcher(key string, opts *WatcherOptions) Watcher {
	act := waitAction{Prefix: k.prefix, Key: key}
	if opts != nil {
		act.Recursive = opts.Recursive
		if opts.AfterIndex > 0 {
			act.WaitIndex = opts.AfterIndex + 1
		}
		if hc, ok := k.client.(*httpClusterClient); ok && opts.Stream {
			w := newStreamWatcher(hc, act)
			w.resync = opts.ResyncOnCleared
			return w
		}
	}
	w := &httpWatcher{client: k.client, nextWait: act}
	if opts != nil {
		w.resync = opts.ResyncOnCleared
	}
	return w
}

// httpWatcher asks for one event per request, each time from the index after
// the last event it delivered.
type httpWatcher struct {
	client httpClient
	resync bool // ResyncOnCleared

	// mu makes concurrent Next calls safe; they are served one at a time.
	mu       sync.Mutex
	nextWait waitAction
}

// emptyBodyBackoffMin and emptyBodyBackoffMax bound how fast a watcher
// retries a server that keeps closing watches with an empty body, so that
// it cannot spin.
const (
	emptyBodyBackoffMin = 10 * time.Millisecond
	emptyBodyBackoffMax = time.Second
)

func (w *httpWatcher) Next(ctx context.Context) (*Response, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	resp, err := watchOnce(ctx, w.client, w.nextWait)
	var cleared Error
	if err != nil && w.resync && errors.As(err, &cleared) && cleared.Code == ErrorCodeEventIndexCleared {
		return nil, w.resynchronize(ctx, cleared)
	}
	if err != nil {
		return nil, err
	}
	w.nextWait.WaitIndex = resp.Node.ModifiedIndex + 1
	return resp, nil
}

// watchOnce sends one ordinary watch and returns its event, which always
// has a Node. A watch the server ends with an empty body is asked again
// from the same index, after a growing pause.
func watchOnce(ctx context.Context, client httpClient, act waitAction) (*Response, error) {
	backoff := time.Duration(0)
	for {
		a := act
		resp, _, err := doKeys(ctx, client, &a)
		if err == ErrEmptyBody {
			// The server ended the watch early (api.md: "connection being
			// closed prematurely"); ask again from the same index.
			if backoff > 0 {
				if err := sleepCtx(ctx, backoff); err != nil {
					return nil, err
				}
			}
			backoff = nextBackoff(backoff)
			continue
		}
		if err != nil {
			return nil, err
		}
		if resp.Node == nil {
			return nil, ErrInvalidJSON
		}
		return resp, nil
	}
}

// resynchronize reads the watched key and moves the watcher to the index
// after that read. If the read fails, the watcher is unchanged, so the next
// Next meets the cleared history again and retries.
func (w *httpWatcher) resynchronize(ctx context.Context, cleared Error) error {
	snap, err := resyncSnapshot(ctx, w.client, w.nextWait)
	if err != nil {
		return err
	}
	w.nextWait.WaitIndex = snap.Index + 1
	return &HistoryClearedError{Snapshot: snap, Cleared: cleared}
}

// resyncSnapshot reads the state of the key a watch is for (a quorum,
// sorted GET, recursive if the watch is): the Snapshot of a
// HistoryClearedError. A missing key gives a Response with a nil Node and
// the index of the "key not found" answer.
func resyncSnapshot(ctx context.Context, client httpClient, act waitAction) (*Response, error) {
	get := &getAction{Prefix: act.Prefix, Key: act.Key,
		GetOptions: GetOptions{Recursive: act.Recursive, Sort: true, Quorum: true}}
	snap, header, err := doKeys(ctx, client, get)
	var e Error
	switch {
	case err == nil:
		return snap, nil
	case errors.As(err, &e) && e.Code == ErrorCodeKeyNotFound:
		return &Response{Index: e.Index, ClusterID: headerValue(header, "X-Etcd-Cluster-Id")}, nil
	default:
		return nil, err
	}
}

func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, emptyBodyBackoffMin), emptyBodyBackoffMax)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitAction is a watch: one event from WaitIndex on (0: from now), or with
// Stream every event from now on, one JSON object per line.
type waitAction struct {
	Prefix    string
	Key       string
	WaitIndex uint64
	Recursive bool
	Stream    bool
}

func (w *waitAction) describe() requestKind { return requestKind{wait: true} }

func (w *waitAction) HTTPRequest(ep url.URL) *http.Request {
	u := v2KeysURL(ep, w.Prefix, w.Key)
	var q query
	q.add("recursive", formatBool(w.Recursive))
	if w.Stream {
		q.add("stream", "true")
	}
	q.add("wait", "true")
	q.add("waitIndex", strconv.FormatUint(w.WaitIndex, 10))
	withQuery(u, q.String())
	return newRequest(http.MethodGet, u, "", "")
}
