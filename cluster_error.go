package client

import (
	"fmt"
	"strings"
)

// ClusterError is returned when no endpoint could serve a request. Errors
// holds one entry per failed attempt, in the order the endpoints were tried;
// a write that must not be sent twice (see Config.OneShotWrites) stops
// after the first attempt that may have reached a member, so it may list
// fewer attempts than there are endpoints.
//
// ClusterError is always returned as a pointer. errors.Is(err,
// ErrClusterUnavailable) is true for it; errors.Is(err, ErrOutcomeUnknown)
// is true when the request was a write that may have been applied; and
// errors.Is and errors.As also look through to each attempt's cause (a
// syscall.ECONNREFUSED, say).
type ClusterError struct {
	Errors []error
}

// Error returns the same text as upstream: the ErrClusterUnavailable message
// followed by "; error #i: <cause>\n" for each attempt.
func (ce *ClusterError) Error() string {
	var b strings.Builder
	b.WriteString(ErrClusterUnavailable.Error())
	for i, e := range ce.Errors {
		fmt.Fprintf(&b, "; error #%d: %s\n", i, e)
	}
	return b.String()
}

// Detail returns one line "error #i: <endpoint>: <cause>" per attempt.
func (ce *ClusterError) Detail() string {
	var b strings.Builder
	for i, e := range ce.Errors {
		msg := e.Error()
		if a, ok := e.(*attemptError); ok {
			msg = a.detail()
		}
		fmt.Fprintf(&b, "error #%d: %s\n", i, msg)
	}
	return b.String()
}

// Is reports ErrClusterUnavailable as the condition of every ClusterError,
// and ErrOutcomeUnknown when a write may have been applied.
func (ce *ClusterError) Is(target error) bool {
	switch target {
	case ErrClusterUnavailable:
		return true
	case ErrOutcomeUnknown:
		for _, e := range ce.Errors {
			if mayHaveApplied(e) {
				return true
			}
		}
	}
	return false
}

// Unwrap exposes each attempt's error to errors.Is and errors.As.
func (ce *ClusterError) Unwrap() []error {
	return ce.Errors
}
