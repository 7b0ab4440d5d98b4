// Command v2keys is a command-line client for the etcd v2 keyspace, built on
// github.com/v2keys/client. Its everyday commands (get, set, ls, watch,
// member, user, role, ...) take the names, flags and output formats of
// etcdctl v2, so scripts written for etcdctl keep working; export and import
// copy a subtree to and from a JSON Lines file. See README.md.
package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/v2keys/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first SIGINT or SIGTERM asks the command to stop cleanly (a
	// migrate copy lets its transactions in flight finish, which can take
	// a request timeout on a hung member); once it arrived the signals get
	// their default action back, so a second one ends the process at once,
	// as users expect of a second Ctrl-C. Everything v2keys writes stays
	// safe to stop at any point (see README.md, "Stopping a copy").
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one v2keys command line (without the program name) and
// returns its exit status. It is the whole program but for signal handling
// and os.Exit, so tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext is run with a context whose end interrupts long-running
// commands (watch, exec-watch, cluster-health --forever) as Ctrl-C does.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	defer e.close()
	rest, code, ok := e.parseGlobals(args)
	if !ok {
		return code
	}
	if len(rest) == 0 {
		// As etcdctl: no command is a request for help, on stdout, status 0.
		printUsage(stdout)
		return ExitSuccess
	}
	return dispatch(e, nil, rest)
}

// env is what a command runs with: its context (ended by Ctrl-C), its
// standard streams, the parsed global flags, and what it opened.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	g      *globals

	transport *http.Transport // built by newClient; idle connections closed by close
	closers   []io.Closer
}

// close releases the clients and connections a command opened.
func (e *env) close() {
	for _, c := range e.closers {
		c.Close()
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	if e.g != nil && e.g.debug {
		client.DisablecURLDebug()
	}
}

// requestContext bounds one command (or, for export and import, one
// request) by --total-timeout and by the run's context.
func (e *env) requestContext() (context.Context, context.CancelFunc) {
	if e.g.totalTimeout <= 0 {
		return context.WithCancel(e.ctx)
	}
	return context.WithTimeout(e.ctx, e.g.totalTimeout)
}

// version is the module version v2keys was built from, "(devel)" for a
// build from a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
