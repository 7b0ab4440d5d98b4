package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
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

// DefaultTransport is used by a Client whose Config has no Transport.
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

// ErrResponseTooLarge is returned (wrapped with the endpoint) when a response
// body exceeds Config.MaxResponseBytes. Like any per-endpoint failure it
// moves the request on to the next endpoint.
var ErrResponseTooLarge = errors.New("client: response body too large")

// endpointClient sends one request to one endpoint and reads the answer.
type endpointClient struct {
	transport     CancelableTransport
	headerTimeout time.Duration
	maxBody       int64
}

// do sends the action's request to ep and returns the response with its
// whole body read. The response body is closed when do returns.
//
// The header timeout bounds only the wait for response headers, and not at
// all for requests that wait for an event (wait=true), whose headers a proxy
// may hold back until the event happens. Context errors are returned as
// themselves.
func (c *endpointClient) do(ctx context.Context, act httpAction, ep *url.URL) (*http.Response, []byte, error) {
	req := act.HTTPRequest(*ep)
	if req == nil {
		return nil, nil, ErrNoRequest
	}
	if err := printcURL(req); err != nil {
		return nil, nil, err
	}

	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var timedOut atomic.Bool
	var timer *time.Timer
	if c.headerTimeout > 0 && !isWaitRequest(req) {
		timer = time.AfterFunc(c.headerTimeout, func() {
			timedOut.Store(true)
			cancel()
		})
	}

	resp, err := c.transport.RoundTrip(req.WithContext(reqCtx))
	if timer != nil && !timer.Stop() && err == nil {
		// The deadline passed just as the headers arrived; the body read
		// would fail on the cancelled context, so report the timeout.
		resp.Body.Close()
		resp, err = nil, errors.New("timeout")
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, ctxErr
		}
		if timedOut.Load() {
			return nil, nil, fmt.Errorf("client: endpoint %s exceeded header timeout", ep)
		}
		return nil, nil, err
	}
	defer resp.Body.Close()

	// Transports other than *http.Transport may ignore the request context
	// while the body is read; closing the body unblocks them.
	stop := context.AfterFunc(reqCtx, func() { resp.Body.Close() })
	defer stop()

	body, err := readBody(resp, c.maxBody)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, ctxErr
		}
		return nil, nil, fmt.Errorf("client: endpoint %s: reading response: %w", ep, err)
	}
	return resp, body, nil
}

// readBody reads the whole body into a buffer of its own, sized from
// Content-Length when the server sent one, refusing more than limit bytes.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds the limit of %d bytes", ErrResponseTooLarge, resp.ContentLength, limit)
	}
	if resp.ContentLength >= 0 {
		buf := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
