package client

// The retry and outcome rules: when a failed attempt moves a request on to
// the next endpoint (Config.OneShotWrites states them for callers), and
// when a failure must say that a write may have been applied.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
)

// attemptError is one endpoint's failure to serve one request.
type attemptError struct {
	endpoint string
	err      error
	// mayHaveApplied is set for a write whose request may have reached
	// the member.
	mayHaveApplied bool
}

// Error returns the cause's text alone, so that ClusterError.Error reads as
// upstream's.
func (e *attemptError) Error() string { return e.err.Error() }

func (e *attemptError) Unwrap() error { return e.err }

// detail names the endpoint, unless the cause already does.
func (e *attemptError) detail() string {
	msg := e.err.Error()
	if strings.Contains(msg, e.endpoint) {
		return msg
	}
	return e.endpoint + ": " + msg
}

func mayHaveApplied(err error) bool {
	var a *attemptError
	return errors.As(err, &a) && a.mayHaveApplied
}

// retryPolicy says when an action whose attempt failed may be sent to the
// next endpoint: the rules Config.OneShotWrites states, one value each.
type retryPolicy int

const (
	// retryAlways: reads, and writes the server refuses to apply twice
	// (by index).
	retryAlways retryPolicy = iota
	// retryIfUnsent: moves on only when the request provably never
	// reached a member (plain and value-conditioned deletes, creates).
	retryIfUnsent
	// resendUnlessStrict: retryAlways, or retryIfUnsent with
	// Config.OneShotWrites (plain and value-conditioned sets, updates,
	// in-order creates).
	resendUnlessStrict
)

// retryPolicyOf returns act's policy, before Config.OneShotWrites.
func retryPolicyOf(act httpAction) retryPolicy {
	return kindOf(act).retry
}

// resolve applies Config.OneShotWrites: resendUnlessStrict becomes one of
// the other two.
func (p retryPolicy) resolve(oneShotWrites bool) retryPolicy {
	if p != resendUnlessStrict {
		return p
	}
	if oneShotWrites {
		return retryIfUnsent
	}
	return retryAlways
}

// serverError describes a 5xx answer, which moves a request to the next
// endpoint. etcd answers 500 and 503 when it has no leader.
func serverError(ep *url.URL, status int) error {
	switch status {
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		return fmt.Errorf("client: etcd member %s has no leader", ep)
	default:
		return fmt.Errorf("client: etcd member %s returns server error [%s]", ep, http.StatusText(status))
	}
}

// conflictMayBeOurs reports whether a final conflict answer may have been
// caused by an earlier attempt of the same write.
func conflictMayBeOurs(errs []error, status int) bool {
	if status != http.StatusPreconditionFailed && status != http.StatusNotFound && status != http.StatusConflict {
		return false
	}
	for _, err := range errs {
		if mayHaveApplied(err) {
			return true
		}
	}
	return false
}

// conflictError decodes a conflict answer into the error the API would have
// returned for it.
func conflictError(status int, body []byte) error {
	if err := decodeKeysError(body); err != ErrInvalidJSON {
		return err
	}
	return fmt.Errorf("client: conflict: %s", http.StatusText(status))
}

// sentTracker learns from the transport whether a request was written
// completely: only then can a server have acted on it.
type sentTracker struct {
	traced atomic.Bool // the transport reports its progress
	wrote  atomic.Bool // the whole request was written
}

func (s *sentTracker) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { s.traced.Store(true) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				s.wrote.Store(true)
			}
		},
	})
}

// mayHaveReached reports whether a write that failed with err may have
// reached a server. Reads (a nil tracker) never matter.
func (s *sentTracker) mayHaveReached(err error) bool {
	if s == nil {
		return false
	}
	if s.traced.Load() {
		return s.wrote.Load()
	}
	// A transport that does not report progress: only a failed dial or name
	// lookup proves that nothing was sent.
	var dnsErr *net.DNSError
	var opErr *net.OpError
	return !errors.As(err, &dnsErr) && !(errors.As(err, &opErr) && opErr.Op == "dial")
}
