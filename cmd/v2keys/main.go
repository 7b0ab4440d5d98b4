// Command v2keys is a command-line client for the etcd v2 keyspace, built on
// github.com/v2keys/client. Its everyday commands (get, set, ls, watch,
// member, user, role, ...) take the names, flags and output formats of
// etcdctl v2, so scripts written for etcdctl keep working; export and import
// copy a subtree to and from a JSON Lines file. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
	rest, err := e.parseGlobals(args)
	if err != nil {
		if err == errHelp {
			return ExitSuccess
		}
		return ExitBadArgs
	}
	if len(rest) == 0 {
		printUsage(stderr)
		return ExitBadArgs
	}
	return dispatch(e, commands, rest, "")
}

// dispatch finds the command named by args[0] in table and runs it with the
// remaining arguments; parent is the enclosing command's name for messages.
func dispatch(e *env, table []*command, args []string, parent string) int {
	name := args[0]
	if name == "help" || name == "--help" || name == "-h" {
		if parent == "" {
			printUsage(e.stdout)
		} else {
			printSubUsage(e.stdout, parent, table)
		}
		return ExitSuccess
	}
	for _, c := range table {
		if c.name != name {
			continue
		}
		if c.subs != nil {
			if len(args) < 2 {
				printSubUsage(e.stderr, c.name, c.subs)
				return ExitBadArgs
			}
			return dispatch(e, c.subs, args[1:], c.name)
		}
		return c.run(e, c, args[1:])
	}
	full := strings.TrimSpace(parent + " " + name)
	fmt.Fprintf(e.stderr, "Error: unknown command %q; run 'v2keys help' for the list of commands\n", full)
	return ExitBadArgs
}
