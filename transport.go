package client

import (
	"bytes"
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

// DefaultTransport is the model of the transport a Client uses when its
// Config has no Transport: each such Client gets its own clone, so that
// Close can release the client's connections without touching another's.
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

// endpointClient sends one request to one endpoint.
type endpointClient struct {
	transport     CancelableTransport
	headerTimeout time.Duration
	maxBody       int64
	liveness      *liveness // nil: waiting requests are not checked
	// closing ends with the client; Close cancels the requests that may
	// last long (watches, streamed answers) through it.
	closing context.Context
}

// do sends the action's request to ep and returns the response with its
// whole body read and closed.
func (c *endpointClient) do(ctx context.Context, act httpAction, ep *url.URL) (*http.Response, []byte, error) {
	resp, err := c.open(ctx, act, ep, false)
	if err != nil {
		return nil, nil, err
	}
	g := resp.Body.(*guardedBody)
	var body []byte
	if sink := sinkOf(act); sink != nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated) {
		body, err = readOrDecode(resp, c.maxBody, sink)
	} else {
		body, err = readBody(resp, c.maxBody)
	}
	g.Close()
	if err != nil {
		// The headers came, so a write reached the member.
		return nil, nil, attemptFailure(ep, g.fail(err), g.write)
	}
	return resp, body, nil
}

// open sends the action's request to ep and returns the response with its
// body still to be read; closing the body releases everything the request
// holds.
//
// HeaderTimeoutPerRequest bounds the wait for the headers and then every
// wait for more of the body, except for requests that wait for an event
// (wait=true): a proxy may hold their headers until the event, and the event
// may be hours away. Those are watched by liveness checks instead. Context
// errors are returned as themselves; every other failure is an
// *attemptError. A long request (a watch, or an answer streamed to the
// caller) also ends when the client is closed.
func (c *endpointClient) open(ctx context.Context, act httpAction, ep *url.URL, stream bool) (*http.Response, error) {
	req := act.HTTPRequest(*ep)
	if req == nil {
		return nil, ErrNoRequest
	}
	if err := printcURL(req); err != nil {
		return nil, err
	}
	waiting := isWaitRequest(req)

	reqCtx, cancel := context.WithCancelCause(ctx)
	var sent *sentTracker
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		sent = new(sentTracker)
		reqCtx = sent.trace(reqCtx)
	}
	g := &guardedBody{caller: ctx, ctx: reqCtx, cancel: cancel, ep: ep, idle: c.headerTimeout, write: sent != nil}
	if c.headerTimeout > 0 && !waiting {
		g.timer = time.AfterFunc(c.headerTimeout, g.timeout)
	}
	if waiting && c.liveness != nil {
		g.unwatch = c.liveness.watch(ep, func() { g.cancel(errMemberSilent) })
	}
	if (waiting || stream) && c.closing != nil {
		g.unclose = context.AfterFunc(c.closing, func() { g.cancel(ErrClientClosed) })
	}

	resp, err := c.transport.RoundTrip(req.WithContext(reqCtx))
	if err == nil && g.timer != nil && !g.timer.Stop() {
		// The deadline passed just as the headers arrived.
		resp.Body.Close()
		err = errHeaderTimeout
	}
	if err != nil {
		g.release()
		return nil, attemptFailure(ep, classifyFailure(ctx, reqCtx, ep, c.headerTimeout, err), sent.mayHaveReached(err))
	}
	g.body = resp.Body
	if g.timer != nil {
		g.reading.Store(true)
		g.timer.Reset(c.headerTimeout)
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

// guardedBody is a response body whose reads are bounded by the idle
// timeout, and whose Close releases the request's context, timer and
// liveness registration.
type guardedBody struct {
	body    io.ReadCloser
	caller  context.Context // the call's context
	ctx     context.Context // the request's, a child of caller
	cancel  context.CancelCauseFunc
	ep      *url.URL
	err     error // the first failure to read, classified; read by one goroutine
	idle    time.Duration
	timer   *time.Timer // nil when reads are not bounded
	reading atomic.Bool // headers arrived: a timeout is now a stalled body
	unwatch func()
	unclose func() bool
	closed  atomic.Bool
	write   bool // the request may change the keyspace
}

func (g *guardedBody) timeout() {
	if g.reading.Load() {
		g.cancel(errBodyStalled)
		// Transports other than *http.Transport may ignore the request
		// context while the body is read; closing the body unblocks them.
		g.body.Close()
		return
	}
	g.cancel(errHeaderTimeout)
}

// Read reads the body. A failure is classified here, once (see classifyFailure),
// and returned again by every later Read.
func (g *guardedBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.body.Read(p)
	if n > 0 && g.timer != nil && err == nil {
		g.timer.Reset(g.idle)
	}
	if err != nil && err != io.EOF {
		err = g.fail(err)
	}
	return n, err
}

// fail records err, a failure to read the body, as the body's failure and
// returns it classified; after the first failure it returns that one.
func (g *guardedBody) fail(err error) error {
	if g.err == nil {
		g.err = classifyFailure(g.caller, g.ctx, g.ep, g.idle, fmt.Errorf("client: endpoint %s: reading response: %w", g.ep, err))
	}
	return g.err
}

func (g *guardedBody) Close() error {
	if !g.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := g.body.Close()
	g.release()
	return err
}

func (g *guardedBody) release() {
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.unwatch != nil {
		g.unwatch()
	}
	if g.unclose != nil {
		g.unclose()
	}
	g.cancel(nil)
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
	buf, err := readUpTo(resp.Body, limit+1)
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	return buf, nil
}

// readUpTo reads r to its end or until n bytes were read, doubling its
// buffer as it fills (append's growth, 1.25x for large slices, would copy a
// large body many times over).
func readUpTo(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(int64(512), n))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), n))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// streamThreshold is the size above which a successful keys answer is
// decoded as it is read instead of being buffered whole: a small answer is
// cheapest decoded in place (its strings alias the buffer), a large one
// (a recursive GET of a big keyspace, which etcd sends chunked, without
// Content-Length) would cost the whole body on top of the tree. Measured
// with the bench fixture: at 128 KiB a 1k-key GET (290 KB) takes 0.56 ms
// and allocates 0.84 MB, at 1 MiB 0.70 ms and 1.5 MB.
const streamThreshold = 128 << 10

// streamedAnswer receives a large keys answer decoded while it was read.
// The keys actions embed one, so that the transport can fill it.
type streamedAnswer struct {
	res     Response
	decoded bool  // res holds the answer, and the body was not kept
	invalid error // ErrInvalidJSON or ErrEmptyBody: the answer was not a keys response
}

func (a *streamedAnswer) answer() *streamedAnswer { return a }

type answerAction interface{ answer() *streamedAnswer }

// sinkOf finds the streamedAnswer of a keys action, through the layers
// that wrap actions.
func sinkOf(act httpAction) *streamedAnswer {
	for {
		switch a := act.(type) {
		case answerAction:
			return a.answer()
		case *authedAction:
			act = a.act
		case *redirectedAction:
			act = a.action
		default:
			return nil
		}
	}
}

// readOrDecode reads a successful keys answer: whole when it is small,
// otherwise decoding it into sink as it arrives. A failure to read is
// returned as an error (the attempt failed); an answer that is not a keys
// response is recorded in sink, as the final answer.
func readOrDecode(resp *http.Response, limit int64, sink *streamedAnswer) ([]byte, error) {
	*sink = streamedAnswer{}
	if resp.ContentLength >= 0 && (resp.ContentLength <= streamThreshold || resp.ContentLength > limit) {
		return readBody(resp, limit)
	}
	head, err := readUpTo(resp.Body, min(streamThreshold, limit)+1)
	if err != nil || int64(len(head)) <= streamThreshold {
		if err == nil && int64(len(head)) > limit {
			err = fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
		}
		return head, err
	}
	body := &limitedBody{r: io.MultiReader(bytes.NewReader(head), resp.Body), left: limit}
	err = decodeStreamResponse(body, &sink.res)
	var re *readError
	switch {
	case err == nil:
		sink.decoded = true
		return nil, nil
	case errors.As(err, &re):
		return nil, re.err
	default:
		sink.decoded, sink.invalid = true, ErrInvalidJSON
		return nil, nil
	}
}

// limitedBody fails with ErrResponseTooLarge past left bytes.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, fmt.Errorf("%w: the answer is longer", ErrResponseTooLarge)
	}
	return n, err
}
