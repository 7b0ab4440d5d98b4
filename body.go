package client

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sync/atomic"
	"time"
)

// guardedBody is the body of an answer as the client hands it out. Each of
// its reads waits at most the idle timeout (the caller's own time between
// two reads does not count: an answer opened now and read later, or read
// by a slow Walk callback, is not a stalled one) and, when limit is set,
// all of them together deliver at most a size;
// a failure to read is classified here, once; and its Close releases the
// request's context, timer and liveness registration.
type guardedBody struct {
	body   io.ReadCloser
	caller context.Context // the call's context
	ctx    context.Context // the request's, a child of caller
	cancel context.CancelCauseFunc
	ep     *url.URL
	length int64 // Content-Length, -1 if unknown
	limit  int64 // bytes a Read may deliver in all; 0: no limit
	n      int64 // bytes delivered
	// err is the first failure to read, classified. Only the goroutine
	// that reads the body uses it.
	err     error
	idle    time.Duration
	timer   *time.Timer // nil when reads are not bounded; runs while a Read waits
	reading atomic.Bool // headers arrived: a timeout is now a stalled body
	unwatch func()
	unclose func() bool
	closed  atomic.Bool
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

// Read reads the body, waiting at most the idle timeout. A failure, or
// more than limit bytes, is classified here (see classifyFailure) and
// returned again by every later Read.
func (g *guardedBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.timer != nil {
		g.timer.Reset(g.idle)
	}
	n, err := g.body.Read(p)
	if g.timer != nil {
		g.timer.Stop()
	}
	g.n += int64(n)
	if g.limit > 0 && g.n > g.limit {
		err = fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, g.limit)
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

// failed returns the body's failure to arrive, or nil.
func (g *guardedBody) failed() error { return g.err }

// readAll reads the rest of the body into a buffer of its own, sized from
// Content-Length when the server sent one, refusing more than limit bytes.
// Its errors are classified, as Read's.
func (g *guardedBody) readAll(limit int64) ([]byte, error) {
	if g.length > limit {
		return nil, g.fail(fmt.Errorf("%w: Content-Length %d exceeds the limit of %d bytes", ErrResponseTooLarge, g.length, limit))
	}
	if g.length >= 0 {
		buf := make([]byte, g.length)
		if _, err := io.ReadFull(g, buf); err != nil {
			return nil, g.fail(err)
		}
		return buf, nil
	}
	buf, err := readUpTo(g, limit+1)
	if err != nil {
		return nil, g.fail(err)
	}
	if int64(len(buf)) > limit {
		return nil, g.fail(fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit))
	}
	return buf, nil
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
