package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one entry of the command table: a leaf with run, or a group
// (member, user, role, auth) with subs.
type command struct {
	name    string
	args    string // argument synopsis, e.g. "<key> <value>"
	summary string
	run     func(e *env, c *command, args []string) int
	subs    []*command
}

// commands is the command table, in the order help lists it. The
// everyday commands are those of etcdctl v2; export and import are ours.
// migrate (v2 keyspace to v3) and v3-get use go.etcd.io/etcd/client/v3.
var commands = []*command{
	{name: "get", args: "<key>", summary: "retrieve the value of a key", run: cmdGet},
	{name: "set", args: "<key> <value>", summary: "set the value of a key", run: cmdSet},
	{name: "mk", args: "<key> <value>", summary: "make a new key with a given value", run: cmdMk},
	{name: "mkdir", args: "<key>", summary: "make a new directory", run: cmdMkdir},
	{name: "setdir", args: "<key>", summary: "create a new directory or update an existing directory TTL", run: cmdSetdir},
	{name: "update", args: "<key> <value>", summary: "update an existing key with a given value", run: cmdUpdate},
	{name: "updatedir", args: "<key>", summary: "update an existing directory", run: cmdUpdatedir},
	{name: "rm", args: "<key>", summary: "remove a key or a directory", run: cmdRm},
	{name: "rmdir", args: "<key>", summary: "removes the key if it is an empty directory or a key-value pair", run: cmdRmdir},
	{name: "ls", args: "[key]", summary: "retrieve a directory", run: cmdLs},
	{name: "watch", args: "<key>", summary: "watch a key for changes", run: cmdWatch},
	{name: "exec-watch", args: "[--] <command> [args...] <key>", summary: "watch a key for changes and exec an executable", run: cmdExecWatch},
	{name: "member", summary: "member add, remove, update and list subcommands", subs: memberCommands},
	{name: "user", summary: "user add, grant and revoke subcommands", subs: userCommands},
	{name: "role", summary: "role add, grant and revoke subcommands", subs: roleCommands},
	{name: "auth", summary: "overall auth controls", subs: authCommands},
	{name: "cluster-health", args: "", summary: "check the health of the etcd cluster", run: cmdClusterHealth},

	// Bulk data: a subtree to and from a file.
	{name: "export", args: "<key> <file|->", summary: "write a consistent snapshot of a subtree to a JSON Lines file", run: cmdExport},
	{name: "import", args: "<file|-> [target-prefix]", summary: "restore an export file into the v2 keyspace", run: cmdImport},

	// Leaving v2: a subtree into the v3 keyspace, kept in sync until cut-over.
	{name: "migrate", args: "<key>", summary: "copy a v2 subtree into the v3 keyspace (--follow: keep it in sync; --verify: compare)", run: cmdMigrate},
	{name: "v3-get", args: "<key>", summary: "print a v3 key, or with --prefix every v3 key under it", run: cmdV3Get},
}

// newFlags returns the flag set of command c. Errors are reported by
// parseArgs, as etcdctl reports them.
func (e *env) newFlags(c *command, parent string) *flag.FlagSet {
	name := strings.TrimSpace(parent + " " + c.name)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // printed by parseArgs, after the error
	if e.usages == nil {
		e.usages = make(map[*flag.FlagSet]func(io.Writer))
	}
	e.usages[fs] = func(w io.Writer) {
		fmt.Fprintf(w, "Usage: v2keys [global flags] %s [flags] %s\n%s\n", name, c.args, c.summary)
		if hasFlags(fs) {
			fmt.Fprintln(w, "Flags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseArgs parses a command's flags and checks that between min and max
// positional arguments remain (max < 0: no limit). A flag written after a
// positional argument is reported, not silently taken as an argument. It
// returns false when the command must not run: -h printed the usage on
// stdout (and e.helped makes the status 0), or the arguments are wrong.
// A bad flag is reported as etcdctl does: the error on stderr, "Incorrect
// Usage:" and the usage on stdout, status 1.
func (e *env) parseArgs(fs *flag.FlagSet, args []string, min, max int) ([]string, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.usages[fs](e.stdout)
			e.helped = true
			return nil, false
		}
		fmt.Fprintln(e.stderr, err)
		fmt.Fprintf(e.stdout, "Incorrect Usage: %v\n\n", err)
		e.usages[fs](e.stdout)
		return nil, false
	}
	rest := fs.Args()
	if max >= 0 && len(rest) > max {
		for _, a := range rest[min:] {
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				fmt.Fprintf(e.stderr, "Error:  flag %s given after the arguments; flags go before them (use -- before a value that starts with '-')\n", a)
				return nil, false
			}
		}
		fmt.Fprintf(e.stderr, "Error:  too many arguments: %s\n", strings.Join(rest[max:], " "))
		e.usages[fs](e.stderr)
		return nil, false
	}
	return rest, true // too few: the command says what is missing, as etcdctl does
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

func printSubUsage(w io.Writer, parent string, subs []*command) {
	fmt.Fprintf(w, "Usage: v2keys [global flags] %s <subcommand> [flags] [arguments]\n\nSubcommands:\n", parent)
	for _, c := range subs {
		fmt.Fprintf(w, "  %-8s %-28s %s\n", c.name, c.args, c.summary)
	}
}
