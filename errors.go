package client

import (
	"errors"
	"fmt"
)

// Every error message of this package starts with "client: ", except
// those that upstream's client words without it, kept word for word for
// callers that match them: ErrNoRequest, the redirect failures ("location
// header not set", "location header not valid URL"), Sync's "invalid
// endpoint selection mode", the members API's "unexpected status code" and
// peer URL checks, NewSRVDiscover's "dns lookup errors", and the messages
// of the auth and members APIs' servers.

// Sentinel errors, for errors.Is. Those upstream has too are compared with
// == by code written for it, so they are returned as themselves, never
// wrapped, wherever upstream returns them.
var (
	// ErrNoEndpoints is returned when a client is given, or a Sync finds,
	// an empty list of endpoints.
	ErrNoEndpoints = errors.New("client: no endpoints available")

	// ErrTooManyRedirects is returned by DefaultCheckRedirect when a request
	// was redirected more than 10 times.
	ErrTooManyRedirects = errors.New("client: too many redirects")

	// ErrClusterUnavailable is the condition every *ClusterError reports:
	// no endpoint could serve the request. errors.Is(err, ErrClusterUnavailable)
	// is true for a *ClusterError.
	ErrClusterUnavailable = errors.New("client: etcd cluster is unavailable or misconfigured")

	// ErrNoLeaderEndpoint is returned by Sync in leader-first selection mode
	// when the cluster's leader, or its client URL, cannot be found.
	ErrNoLeaderEndpoint = errors.New("client: no leader endpoint available")

	// ErrNoRequest indicates that the HTTPRequest object could not be found
	// or was nil. No processing could continue.
	ErrNoRequest = errors.New("no HTTPRequest was available")

	// ErrInvalidJSON is returned when a server's answer is not the JSON the
	// v2 API sends; the endpoint is probably not an etcd member.
	ErrInvalidJSON = errors.New("client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint")

	// ErrEmptyBody is returned when a successful keys response has no body.
	// A Watcher treats it as "the server closed the watch early" and retries.
	ErrEmptyBody = errors.New("client: response body is empty")

	// ErrOutcomeUnknown is reported (through a *ClusterError) when a write
	// failed after its request may have reached a member: the answer never
	// came, or the member answered with a 5xx, or a retry met a conflict
	// that the first attempt may itself have caused. The write may have been
	// applied, or may be applied later (etcd commits a write it could not
	// confirm in time once quorum returns). It never accompanies a write
	// that provably did not happen. A call whose context ended returns the
	// context's error instead, which says nothing about the outcome.
	ErrOutcomeUnknown = errors.New("client: the write may or may not have been applied")

	// ErrMemberSilent is an endpoint's failure when a member stopped
	// answering liveness checks while a watch waited on it (it accepts
	// connections but sends nothing: a stopped process or a partition).
	ErrMemberSilent = errors.New("client: member stopped answering")

	// ErrResponseStalled is an endpoint's failure when a read of a response
	// body waited for more of it for longer than HeaderTimeoutPerRequest
	// (the caller's own time between two reads does not count).
	ErrResponseStalled = errors.New("client: response stalled")

	// ErrClientClosed is returned by every request of a client after its
	// Close, and ends the watches and streamed reads Close interrupts.
	ErrClientClosed = errors.New("client: closed")

	// ErrResponseTooLarge is returned (wrapped with the endpoint) when a response
	// body exceeds Config.MaxResponseBytes, or, for Walk and OpenSnapshot,
	// a single value in it does. It is that endpoint's failure, which moves
	// a request on to the next endpoint as any other does (within the
	// rules of Config.OneShotWrites), except in an answer that Walk or
	// OpenSnapshot already began reading: that read ends with it.
	ErrResponseTooLarge = errors.New("client: response body too large")

	// ErrWalkUnsupported is returned by Walk, OpenSnapshot and Follow for a
	// Client that was not made by New (a mock or a wrapper): they need to
	// read the answer as it arrives, which only the Client of this package
	// offers.
	ErrWalkUnsupported = errors.New("client: Walk and OpenSnapshot need a Client made by client.New")

	// ErrWatcherClosed is returned by Next on a streaming Watcher after its
	// Close.
	ErrWatcherClosed = errors.New("client: watcher closed")

	// ErrHistoryLost is returned by Follower.Next when changes made after the
	// snapshot are no longer in etcd's history (it keeps the last 1000 events)
	// and were not received in time: the snapshot plus the following events
	// can no longer describe the keyspace, and the caller must take a new
	// snapshot. The error also wraps the server's Error (code 401,
	// ErrorCodeEventIndexCleared).
	ErrHistoryLost = errors.New("client: changes after the snapshot were dropped from etcd's history; take a new snapshot")
)

// errTooManyRedirectChecks ends a redirect chain that a permissive
// CheckRedirect would let run forever.
var errTooManyRedirectChecks = errors.New("client: too many redirect checks")

// Error codes of the v2 keys API, as sent in the errorCode field of an error
// body and kept in Error.Code.
const (
	ErrorCodeKeyNotFound  = 100
	ErrorCodeTestFailed   = 101
	ErrorCodeNotFile      = 102
	ErrorCodeNotDir       = 104
	ErrorCodeNodeExist    = 105
	ErrorCodeRootROnly    = 107
	ErrorCodeDirNotEmpty  = 108
	ErrorCodeUnauthorized = 110

	ErrorCodePrevValueRequired = 201
	ErrorCodeTTLNaN            = 202
	ErrorCodeIndexNaN          = 203
	ErrorCodeInvalidField      = 209
	ErrorCodeInvalidForm       = 210

	ErrorCodeRaftInternal = 300
	ErrorCodeLeaderElect  = 301

	ErrorCodeWatcherCleared    = 400
	ErrorCodeEventIndexCleared = 401
)

// Error is an error answered by the v2 keys API. It is returned as a value,
// not a pointer, so callers match it with a type switch on Error or with
// errors.As(err, &client.Error{}).
type Error struct {
	// Code is one of the ErrorCode constants (or another server code).
	Code int `json:"errorCode"`
	// Message is the server's description of Code.
	Message string `json:"message"`
	// Cause names what failed, e.g. the missing key or "[prev != cur]".
	Cause string `json:"cause"`
	// Index is the etcd index when the error happened.
	Index uint64 `json:"index"`
}

// Error formats the error as "code: message (cause) [index]", like upstream.
func (e Error) Error() string {
	return fmt.Sprintf("%v: %v (%v) [%v]", e.Code, e.Message, e.Cause, e.Index)
}

// IsKeyNotFound returns true if the error code is ErrorCodeKeyNotFound.
func IsKeyNotFound(err error) bool {
	var e Error
	if errors.As(err, &e) {
		return e.Code == ErrorCodeKeyNotFound
	}
	return false
}

// HistoryClearedError is returned by Watcher.Next, for a Watcher made with
// ResyncOnCleared, when the events after the Watcher's index had been
// dropped from etcd's history. Snapshot is the watched key's state read
// afterwards; the next call to Next delivers the events after
// Snapshot.Index. It unwraps to the server's Error (code 401,
// ErrorCodeEventIndexCleared), so errors.As(err, &client.Error{}) sees it.
type HistoryClearedError struct {
	// Snapshot is the answer of a quorum GET of the watched key (recursive
	// and sorted for a recursive Watcher). Its Index is the etcd index
	// of the read. If the key does not exist, Snapshot.Node is nil and
	// Index is the index of the "key not found" answer.
	Snapshot *Response

	// Cleared is the server's answer to the watch: errorCode 401.
	Cleared Error
}

// Error describes the lost history and where the Watcher resumes.
func (e *HistoryClearedError) Error() string {
	return fmt.Sprintf("client: watch history cleared, resynced at index %d: %v", e.Snapshot.Index, e.Cleared)
}

// Unwrap returns the server's EventIndexCleared Error.
func (e *HistoryClearedError) Unwrap() error { return e.Cleared }
