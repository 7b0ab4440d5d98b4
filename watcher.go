package client

import (
	"context"
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
}

func (k *httpKeysAPI) Watcher(key string, opts *WatcherOptions) Watcher {
	act := waitAction{Prefix: k.prefix, Key: key}
	if opts != nil {
		act.Recursive = opts.Recursive
		if opts.AfterIndex > 0 {
			act.WaitIndex = opts.AfterIndex + 1
		}
	}
	return &httpWatcher{client: k.client, nextWait: act}
}

// httpWatcher asks for one event per request, each time from the index after
// the last event it delivered.
type httpWatcher struct {
	client httpClient

	// mu makes concurrent Next calls safe; they are served one at a time.
	mu       sync.Mutex
	nextWait waitAction
}

// emptyBodyBackoff bounds how fast a watcher retries a server that keeps
// closing watches with an empty body, so that it cannot spin.
const (
	emptyBodyBackoffMin = 10 * time.Millisecond
	emptyBodyBackoffMax = time.Second
)

func (w *httpWatcher) Next(ctx context.Context) (*Response, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	backoff := time.Duration(0)
	for {
		act := w.nextWait
		httpResp, body, err := w.client.Do(ctx, &act)
		if err != nil {
			return nil, err
		}
		resp, err := unmarshalHTTPResponse(httpResp.StatusCode, httpResp.Header, body)
		if err == ErrEmptyBody {
			// The server ended the watch early (api.md: "connection being
			// closed prematurely"); ask again from the same index.
			if backoff > 0 {
				if err := sleepCtx(ctx, backoff); err != nil {
					return nil, err
				}
			}
			backoff = min(max(2*backoff, emptyBodyBackoffMin), emptyBodyBackoffMax)
			continue
		}
		if err != nil {
			return nil, err
		}
		if resp.Node == nil {
			return nil, ErrInvalidJSON
		}
		w.nextWait.WaitIndex = resp.Node.ModifiedIndex + 1
		return resp, nil
	}
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

type waitAction struct {
	Prefix    string
	Key       string
	WaitIndex uint64
	Recursive bool
}

func (w *waitAction) HTTPRequest(ep url.URL) *http.Request {
	u := v2KeysURL(ep, w.Prefix, w.Key)
	var q query
	q.add("recursive", formatBool(w.Recursive))
	q.add("wait", "true")
	q.add("waitIndex", strconv.FormatUint(w.WaitIndex, 10))
	withQuery(u, q.String())
	return newRequest(http.MethodGet, u, "", "")
}
