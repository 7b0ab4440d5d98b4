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
	rest, code, ok := e.parseGlobals(args)
	if !ok {
		return code
	}
	if len(rest) == 0 {
		// As etcdctl: no command is a request for help, on stdout, status 0.
		printUsage(stdout)
		return ExitSuccess
	}
	return dispatch(e, commands, rest, "")
}

// dispatch finds the command named by args[0] in table and runs it with the
// remaining arguments; parent is the enclosing command's name for messages.
// Help, usage errors and unknown names are answered as etcdctl does: help
// on stdout with status 0, "No help topic for 'x'" on stderr with status 3.
func dispatch(e *env, table []*command, args []string, parent string) int {
	name := args[0]
	switch name {
	case "help", "h":
		if len(args) > 1 {
			return help(e, table, args[1], parent)
		}
		printGroupUsage(e.stdout, parent, table)
		return ExitSuccess
	case "--help", "-help", "-h", "--h":
		printGroupUsage(e.stdout, parent, table)
		return ExitSuccess
	}
	c := find(table, name)
	if c == nil {
		return noHelpTopic(e, name)
	}
	if c.subs != nil {
		if len(args) < 2 {
			printSubUsage(e.stdout, c.name, c.subs)
			return ExitSuccess
		}
		return dispatch(e, c.subs, args[1:], c.name)
	}
	code := c.run(e, c, args[1:])
	if e.helped {
		return ExitSuccess
	}
	return code
}

// help prints the help of the command named name in table: a group's list
// of subcommands, or a command's usage and flags.
func help(e *env, table []*command, name, parent string) int {
	c := find(table, name)
	if c == nil {
		return noHelpTopic(e, name)
	}
	if c.subs != nil {
		printSubUsage(e.stdout, c.name, c.subs)
		return ExitSuccess
	}
	c.run(e, c, []string{"-h"}) // prints the usage and runs nothing
	return ExitSuccess
}

func find(table []*command, name string) *command {
	for _, c := range table {
		if c.name == name {
			return c
		}
	}
	return nil
}

func noHelpTopic(e *env, name string) int {
	fmt.Fprintf(e.stderr, "No help topic for '%s'\n", name)
	return ExitNoHelpTopic
}

func printGroupUsage(w io.Writer, parent string, table []*command) {
	if parent == "" {
		printUsage(w)
	} else {
		printSubUsage(w, parent, table)
	}
}
