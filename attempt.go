package client

import (
	"errors"
	"strings"
)

// Errors a caller can test for with errors.Is on what the client returns.
var (
	// ErrOutcomeUnknown is reported (through a *ClusterError) when a write
	// failed after its request may have reached a member: the answer never
	// came, or the member answered with a 5xx, or a retry met a conflict
	// that the first attempt may itself have caused. The write may have been
	// applied, or may be applied later (etcd commits a write it could not
	// confirm in time once quorum returns). It never accompanies a write
	// that provably did not happen.
	ErrOutcomeUnknown = errors.New("client: the write may or may not have been applied")

	// ErrMemberSilent is an endpoint's failure when a member stopped
	// answering liveness checks while a watch waited on it (it accepts
	// connections but sends nothing: a stopped process or a partition).
	ErrMemberSilent = errors.New("client: member stopped answering")

	// ErrResponseStalled is an endpoint's failure when a response body
	// stopped arriving for longer than HeaderTimeoutPerRequest.
	ErrResponseStalled = errors.New("client: response stalled")

	// ErrClientClosed is returned by every call on a client after Close.
	ErrClientClosed = errors.New("client: closed")
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
