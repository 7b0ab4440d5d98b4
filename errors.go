package client

import (
	"errors"
	"fmt"
)

// Sentinel errors of the client core. They are compared with == by code
// written for the upstream client, so they are returned as themselves, never
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
