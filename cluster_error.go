package client

import (
	"fmt"
	"strings"
)

// ClusterError is returned when no endpoint could serve a request. Errors
// holds one entry per failed attempt, in the order the endpoints were tried.
//
// ClusterError is always returned as a pointer. errors.Is(err,
// ErrClusterUnavailable) is true for it, and errors.Is and errors.As also
// look through to each attempt's cause (a syscall.ECONNREFUSED, say).
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

// Detail returns one line "error #i: <cause>" per attempt, as upstream's
// etcdctl printed it.
func (ce *ClusterError) Detail() string {
	var b strings.Builder
	for i, e := range ce.Errors {
		fmt.Fprintf(&b, "error #%d: %s\n", i, e)
	}
	return b.String()
}

// Is reports ErrClusterUnavailable as the condition of every ClusterError.
func (ce *ClusterError) Is(target error) bool {
	return target == ErrClusterUnavailable
}

// Unwrap exposes each attempt's error to errors.Is and errors.As.
func (ce *ClusterError) Unwrap() []error {
	return ce.Errors
}
