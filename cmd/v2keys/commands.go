package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/v2keys/client"
)

// The command table and its one runner. Every command is a row: its name,
// usage, argument count and group; its flags and its action come from
// setup. dispatch finds the row, runCommand parses the flags and checks
// the arguments as etcdctl does, and only then runs the action; help
// prints a row's usage without running anything.

// action runs a command with its flags parsed and its positional
// arguments, and returns the exit status.
type action func(e *env, args []string) int

// command is one row of the command table: a leaf with setup, or a group
// (member, user, role, auth) with subs.
type command struct {
	name    string
	args    string // argument synopsis, e.g. "<key> <value>"
	summary string
	// minArgs and maxArgs bound the positional arguments (maxArgs < 0:
	// no limit). More than maxArgs is a usage error; fewer than minArgs
	// the action reports itself, naming what is missing, as etcdctl does,
	// and none of the first minArgs is taken for a misplaced flag.
	minArgs, maxArgs int
	// exact, when set, is etcdctl's message for a count other than
	// minArgs (the auth, user, role and member subcommands), printed on
	// stderr before anything is done.
	exact string
	// setup defines the command's flags on fs and returns its action,
	// which reads them once fs is parsed.
	setup  func(fs *flag.FlagSet) action
	subs   []*command
	parent *command // the group of a subcommand (set by init)
}

// noFlags is the setup of a command without flags.
func noFlags(a action) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action { return a }
}

// commands is the command table, in the order help lists it. The
// everyday commands are those of etcdctl v2; export and import are ours.
// migrate (v2 keyspace to v3) and v3-get use go.etcd.io/etcd/client/v3.
var commands = []*command{
	{name: "get", args: "<key>", minArgs: 1, maxArgs: 1, summary: "retrieve the value of a key", setup: cmdGet},
	{name: "set", args: "<key> <value>", minArgs: 2, maxArgs: 2, summary: "set the value of a key", setup: cmdSet},
	{name: "mk", args: "<key> <value>", minArgs: 2, maxArgs: 2, summary: "make a new key with a given value", setup: cmdMk},
	{name: "mkdir", args: "<key>", minArgs: 1, maxArgs: 1, summary: "make a new directory", setup: dirCommand(client.PrevNoExist)},
	{name: "setdir", args: "<key>", minArgs: 1, maxArgs: 1, summary: "create a new directory or update an existing directory TTL", setup: dirCommand(client.PrevIgnore)},
	{name: "update", args: "<key> <value>", minArgs: 2, maxArgs: 2, summary: "update an existing key with a given value", setup: cmdUpdate},
	{name: "updatedir", args: "<key>", minArgs: 1, maxArgs: 1, summary: "update an existing directory", setup: dirCommand(client.PrevExist)},
	{name: "rm", args: "<key>", minArgs: 1, maxArgs: 1, summary: "remove a key or a directory", setup: cmdRm},
	{name: "rmdir", args: "<key>", minArgs: 1, maxArgs: 1, summary: "removes the key if it is an empty directory or a key-value pair", setup: noFlags(cmdRmdir)},
	{name: "ls", args: "[key]", minArgs: 0, maxArgs: 1, summary: "retrieve a directory", setup: cmdLs},
	{name: "watch", args: "<key>", minArgs: 1, maxArgs: 1, summary: "watch a key for changes", setup: cmdWatch},
	{name: "exec-watch", args: "[--] <command> [args...] <key>", minArgs: 2, maxArgs: -1, summary: "watch a key for changes and exec an executable", setup: cmdExecWatch},
	{name: "member", summary: "member add, remove, update and list subcommands", subs: memberCommands},
	{name: "user", summary: "user add, grant and revoke subcommands", subs: userCommands},
	{name: "role", summary: "role add, grant and revoke subcommands", subs: roleCommands},
	{name: "auth", summary: "overall auth controls", subs: authCommands},
	{name: "cluster-health", args: "", minArgs: 0, maxArgs: 0, summary: "check the health of the etcd cluster", setup: cmdClusterHealth},

	// Bulk data: a subtree to and from a file.
	{name: "export", args: "<key> <file|->", minArgs: 2, maxArgs: 2, summary: "write a consistent snapshot of a subtree to a JSON Lines file", setup: noFlags(cmdExport)},
	{name: "import", args: "<file|-> [target-prefix]", minArgs: 1, maxArgs: 2, summary: "restore an export file into the v2 keyspace", setup: cmdImport},

	// Leaving v2: a subtree into the v3 keyspace, kept in sync until cut-over.
	{name: "migrate", args: "<key>", minArgs: 1, maxArgs: 1, summary: "copy a v2 subtree into the v3 keyspace (--follow: keep it in sync; --verify: compare)", setup: cmdMigrate},
	{name: "v3-get", args: "<key>", minArgs: 1, maxArgs: 1, summary: "print a v3 key, or with --prefix every v3 key under it", setup: cmdV3Get},
}

func init() {
	for _, g := range commands {
		for _, c := range g.subs {
			c.parent = g
		}
	}
}

// path is the command's name as typed: "get", "member add".
func (c *command) path() string {
	if c.parent == nil {
		return c.name
	}
	return c.parent.name + " " + c.name
}

// dispatch finds the command named by args[0] in the subcommands of group
// (the top-level commands when group is nil) and runs it with the
// remaining arguments. Help, usage errors and unknown names are answered
// as etcdctl does: help on stdout with status 0, "No help topic for 'x'"
// on stderr with status 3.
func dispatch(e *env, group *command, args []string) int {
	table := commands
	if group != nil {
		table = group.subs
	}
	switch name := args[0]; name {
	case "help", "h":
		if len(args) > 1 {
			return help(e, table, args[1])
		}
		printGroupUsage(e.stdout, group)
		return ExitSuccess
	case "--help", "-help", "-h", "--h":
		printGroupUsage(e.stdout, group)
		return ExitSuccess
	}
	c := find(table, args[0])
	if c == nil {
		return noHelpTopic(e, args[0])
	}
	if c.subs != nil {
		if len(args) < 2 {
			printSubUsage(e.stdout, c)
			return ExitSuccess
		}
		return dispatch(e, c, args[1:])
	}
	return e.runCommand(c, args[1:])
}

// runCommand is the one runner of a leaf command: it parses the command's
// flags and checks its arguments (see parseArgs), then runs its action.
func (e *env) runCommand(c *command, args []string) int {
	fs := newFlagSet(c)
	act := c.setup(fs)
	args, code, ok := e.parseArgs(c, fs, args)
	if !ok {
		return code
	}
	return act(e, args)
}

// help prints the help of the command named name in table: a group's list
// of subcommands, or a command's usage and flags.
func help(e *env, table []*command, name string) int {
	c := find(table, name)
	if c == nil {
		return noHelpTopic(e, name)
	}
	if c.subs != nil {
		printSubUsage(e.stdout, c)
		return ExitSuccess
	}
	fs := newFlagSet(c)
	c.setup(fs)
	printCommandUsage(e.stdout, c, fs)
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

// newFlagSet returns an empty flag set for command c, which reports
// nothing itself: parseArgs reports errors as etcdctl does.
func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.path(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses command c's flags and checks its positional arguments
// (see command.minArgs, maxArgs and exact). A flag written after a
// positional argument is reported, not silently taken as an argument. When
// the command must not run, it returns ok false and the exit status: -h
// printed the usage on stdout (0), or the arguments are wrong (1); a bad
// flag is reported as etcdctl does: the error on stderr, "Incorrect
// Usage:" and the usage on stdout.
func (e *env) parseArgs(c *command, fs *flag.FlagSet, args []string) (rest []string, code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(e.stdout, c, fs)
			return nil, ExitSuccess, false
		}
		fmt.Fprintln(e.stderr, err)
		fmt.Fprintf(e.stdout, "Incorrect Usage: %v\n\n", err)
		printCommandUsage(e.stdout, c, fs)
		return nil, ExitBadArgs, false
	}
	rest = fs.Args()
	if c.exact != "" {
		if len(rest) != c.minArgs {
			fmt.Fprintln(e.stderr, c.exact)
			return nil, ExitBadArgs, false
		}
		return rest, ExitSuccess, true
	}
	if c.maxArgs >= 0 && len(rest) > c.maxArgs {
		for _, a := range rest[c.minArgs:] {
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				fmt.Fprintf(e.stderr, "Error:  flag %s given after the arguments; flags go before them (use -- before a value that starts with '-')\n", a)
				return nil, ExitBadArgs, false
			}
		}
		fmt.Fprintf(e.stderr, "Error:  too many arguments: %s\n", strings.Join(rest[c.maxArgs:], " "))
		printCommandUsage(e.stderr, c, fs)
		return nil, ExitBadArgs, false
	}
	return rest, ExitSuccess, true // too few: the action says what is missing
}

// printCommandUsage prints command c's usage line, summary and flags (fs,
// as c's setup defined them).
func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: v2keys [global flags] %s [flags] %s\n%s\n", c.path(), c.args, c.summary)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "Flags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `v2keys: a command-line client for the etcd v2 keyspace (etcdctl v2 compatible)

Usage: v2keys [global flags] <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nGlobal flags:\n")
	fs := newGlobalFlagSet(&globals{}, w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\nRun 'v2keys <command> -h' for a command's flags.\n")
}

// printSubUsage lists the subcommands of group.
func printSubUsage(w io.Writer, group *command) {
	fmt.Fprintf(w, "Usage: v2keys [global flags] %s <subcommand> [flags] [arguments]\n\nSubcommands:\n", group.name)
	for _, c := range group.subs {
		fmt.Fprintf(w, "  %-8s %-28s %s\n", c.name, c.args, c.summary)
	}
}

// printGroupUsage is the help of group, or of the whole program when
// group is nil.
func printGroupUsage(w io.Writer, group *command) {
	if group == nil {
		printUsage(w)
	} else {
		printSubUsage(w, group)
	}
}
