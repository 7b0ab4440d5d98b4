package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/v2keys/client"
)

// Exit statuses, the same values as etcdctl v2's.
const (
	ExitSuccess           = 0
	ExitBadArgs           = 1 // bad usage, and failures of member/user/role/auth commands
	ExitBadConnection     = 2 // no endpoint could be reached while syncing the cluster
	ExitBadAuth           = 3 // the password could not be obtained
	ExitServerError       = 4 // the cluster answered with an error, or the request failed
	ExitClusterNotHealthy = 5 // cluster-health found a member that is not healthy

	// ExitNoHelpTopic is the status of an unknown command or subcommand,
	// as etcdctl's (its command-line library answers it as an unknown help
	// topic). It is the same number as ExitBadAuth.
	ExitNoHelpTopic = 3
)

// hasErrorCode reports whether err is, or wraps, the keys API error with
// this code.
func hasErrorCode(err error, code int) bool {
	var kerr client.Error
	return errors.As(err, &kerr) && kerr.Code == code
}

// fail prints err the way etcdctl v2 does and returns code: "Error:  <err>"
// (two spaces), then for a *ClusterError one line per failed attempt, in
// etcdctl's words ("error #i: <cause>", without the endpoint, which
// ClusterError.Detail would add). This
// holds under --output json too: etcdctl meant to print a keys API error as
// JSON there, but its check never matched, and scripts parse the text.
func (e *env) fail(code int, err error) int {
	fmt.Fprintln(e.stderr, "Error: ", err)
	var cerr *client.ClusterError
	if errors.As(err, &cerr) {
		for i, a := range cerr.Errors {
			fmt.Fprintf(e.stderr, "error #%d: %s\n", i, a)
		}
		fmt.Fprintln(e.stderr)
	}
	return code
}

// failf is fail with a formatted message.
func (e *env) failf(code int, format string, args ...any) int {
	return e.fail(code, fmt.Errorf(format, args...))
}

// isConnectionError reports whether err means that no member could be
// reached at all: every attempt of a *ClusterError failed to connect, or
// timed out. It decides between ExitBadConnection and ExitServerError.
func isConnectionError(err error) bool {
	var cerr *client.ClusterError
	if errors.As(err, &cerr) {
		if len(cerr.Errors) == 0 {
			return false
		}
		for _, a := range cerr.Errors {
			if !isConnectionError(a) {
				return false
			}
		}
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "read") {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
