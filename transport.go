package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// CancelableTransport mimics net/http.Transport, but requires that the object
// also support request cancellation. The client cancels requests through
// their context; CancelRequest is part of the interface only so that code
// written for the upstream client keeps compiling.
type CancelableTransport interface {
	http.RoundTripper
	CancelRequest(req *http.Request)
}

// DefaultTransport is the model of the transport a Client uses when its
// Config has no Transport: each such Client gets its own clone, so that
// Close can release the client's connections without touching another's.
// (A DefaultTransport replaced by something other than an *http.Transport
// cannot be cloned; it is then shared, and Close leaves it alone.)
//
// Unlike upstream's, it keeps enough idle connections per member for a
// service that issues requests from many goroutines: with Go's default of two
// idle connections per host, every burst above two concurrent requests opens
// and tears down TCP connections, which halves throughput against a local
// member.
var DefaultTransport CancelableTransport = &http.Transport{
	Proxy: http.ProxyFromEnvironment,
	DialContext: (&net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
	}).DialContext,
	TLSHandshakeTimeout: 10 * time.Second,
	MaxIdleConns:        1024,
	MaxIdleConnsPerHost: 256,
	IdleConnTimeout:     90 * time.Second,
}

// DefaultRequestTimeout is a per-request timeout suggested for callers'
// contexts; the client itself does not apply it.
var DefaultRequestTimeout = 5 * time.Second

// maxResponseBytes bounds a response body read into memory when
// Config.MaxResponseBytes is zero. A 1M-key recursive GET is about 232 MB, so
// the bound leaves room for large keyspaces while refusing a runaway body.
const maxResponseBytes = 1 << 30

// Causes of a request's cancellation other than the caller's context; they
// become the endpoint's error.
var (
	errHeaderTimeout = errors.New("header timeout")
	errBodyStalled   = errors.New("body stalled")
	errMemberSilent  = errors.New("member silent")
)

// endpointClient sends one request to one endpoint, following redirects.
type endpointClient struct {
	transport     CancelableTransport
	headerTimeout time.Duration
	maxBody       int64
	credentials   *credentials // nil: none
	checkRedirect CheckRedirectFunc
	liveness      *liveness // nil: waiting requests are not checked
	// closing ends with the client; Close cancels the requests that may
	// last long (watches, streamed answers) through it.
	closing context.Context
}

// credentials are sent as HTTP basic authentication with every request.
type credentials struct {
	username string
	password string
}

// send sends req to ep and follows 3xx answers to their Location, asking
// checkRedirect before each new hop; it returns the first other answer,
// its body open. Real etcd members do not redirect (followers forward
// writes themselves); proxies and etcd 0.4 do.
func (c *endpointClient) send(ctx context.Context, req *request, ep *url.URL) (*http.Response, error) {
	var loc *url.URL
	for i := 0; i < maxRedirectChecks; i++ {
		if i > 0 {
			if err := c.checkRedirect(i); err != nil {
				return nil, err
			}
		}
		resp, err := c.roundTrip(ctx, req, ep, loc)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 != 3 {
			return resp, nil
		}
		resp.Body.Close()
		// These two texts are upstream's, without the package prefix,
		// kept for callers that match them.
		hdr := resp.Header.Get("Location")
		if hdr == "" {
			return nil, fmt.Errorf("location header not set")
		}
		if loc, err = url.Parse(hdr); err != nil {
			return nil, fmt.Errorf("location header not valid URL: %s", hdr)
		}
	}
	return nil, errTooManyRedirectChecks
}

// roundTrip sends req's request to ep, or to loc when following a redirect
// from ep, and returns the response with its body (a *guardedBody) still
// to be read; closing the body releases everything the request holds.
//
// HeaderTimeoutPerRequest bounds the wait for the headers and then every
// wait for more of the body, except for requests that wait for an event: a
// proxy may hold their headers until the event, and the event may be hours
// away. Those are watched by liveness checks instead. Context errors are
// returned as themselves; every other failure is an *attemptError. A long
// request (a watch, or an answer handed over open) also ends when the
// client is closed.
func (c *endpointClient) roundTrip(ctx context.Context, req *request, ep, loc *url.URL) (*http.Response, error) {
	hreq := req.action.HTTPRequest(*ep)
	if hreq == nil {
		return nil, ErrNoRequest
	}
	if loc != nil {
		// Built afresh for ep, so that its body is new; sent to loc.
		u := *loc
		hreq.URL, hreq.Host = &u, u.Host
	}
	if c.credentials != nil {
		hreq.SetBasicAuth(c.credentials.username, c.credentials.password)
	}
	if err := printcURL(hreq); err != nil {
		return nil, err
	}

	reqCtx, cancel := context.WithCancelCause(ctx)
	var sent *sentTracker
	if req.kind.write {
		sent = new(sentTracker)
		reqCtx = sent.trace(reqCtx)
	}
	g := &guardedBody{caller: ctx, ctx: reqCtx, cancel: cancel, ep: ep, idle: c.headerTimeout}
	if c.headerTimeout > 0 && !req.kind.wait {
		g.timer = time.AfterFunc(c.headerTimeout, g.timeout)
	}
	if req.kind.wait && c.liveness != nil {
		g.unwatch = c.liveness.watch(ep, func() { g.cancel(errMemberSilent) })
	}
	if (req.kind.wait || req.open) && c.closing != nil {
		g.unclose = context.AfterFunc(c.closing, func() { g.cancel(ErrClientClosed) })
	}

	resp, err := c.transport.RoundTrip(hreq.WithContext(reqCtx))
	if err == nil && g.timer != nil && !g.timer.Stop() {
		// The deadline passed just as the headers arrived.
		resp.Body.Close()
		err = errHeaderTimeout
	}
	if err != nil {
		g.release()
		return nil, attemptFailure(ep, classifyFailure(ctx, reqCtx, ep, c.headerTimeout, err), sent.mayHaveReached(err))
	}
	g.body, g.length = resp.Body, resp.ContentLength
	if g.timer != nil {
		// Stopped above; from now on it runs while a Read waits.
		g.reading.Store(true)
	}
	resp.Body = g
	return resp, nil
}

// classifyFailure turns the failure of a request to ep, sent with reqCtx on
// behalf of the caller's ctx, into what the caller sees: the caller's own
// context error as itself, ErrClientClosed after Close, and otherwise an
// error that names the endpoint and the cause (the header timeout, a body
// that stalled for longer than idle, a silent member, or err itself).
func classifyFailure(ctx, reqCtx context.Context, ep *url.URL, idle time.Duration, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	switch context.Cause(reqCtx) {
	case ErrClientClosed:
		return ErrClientClosed
	case errHeaderTimeout:
		err = fmt.Errorf("client: endpoint %s exceeded header timeout", ep)
	case errBodyStalled:
		err = fmt.Errorf("client: endpoint %s: response stalled for %v: %w", ep, idle, ErrResponseStalled)
	case errMemberSilent:
		err = fmt.Errorf("client: endpoint %s: %w", ep, ErrMemberSilent)
	}
	return err
}

// attemptFailure makes a classified failure the endpoint's failure, unless
// it ends the call (a context error, ErrClientClosed), which is returned as
// itself.
func attemptFailure(ep *url.URL, err error, mayHaveReached bool) error {
	if endsCall(err) {
		return err
	}
	return &attemptError{endpoint: ep.String(), err: err, mayHaveApplied: mayHaveReached}
}

// endsCall reports whether err ends a call instead of moving it to the
// next endpoint.
func endsCall(err error) bool {
	return err == context.Canceled || err == context.DeadlineExceeded || err == ErrClientClosed
}
