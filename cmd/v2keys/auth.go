package main

import (
	"flag"
	"fmt"
	"path"
	"reflect"
	"strings"

	"github.com/v2keys/client"
)

var authCommands = []*command{
	{name: "enable", summary: "enable auth access controls", run: cmdAuthEnable},
	{name: "disable", summary: "disable auth access controls", run: cmdAuthDisable},
}

var userCommands = []*command{
	{name: "add", args: "<user>[:<password>]", summary: "add a new user for the etcd cluster", run: cmdUserAdd},
	{name: "get", args: "<user>", summary: "get details for a user", run: cmdUserGet},
	{name: "list", summary: "list all current users", run: cmdUserList},
	{name: "remove", args: "<user>", summary: "remove a user for the etcd cluster", run: cmdUserRemove},
	{name: "grant", args: "<user>", summary: "grant roles to an etcd user", run: cmdUserGrant},
	{name: "revoke", args: "<user>", summary: "revoke roles for an etcd user", run: cmdUserRevoke},
	{name: "passwd", args: "<user>", summary: "change password for a user", run: cmdUserPasswd},
}

var roleCommands = []*command{
	{name: "add", args: "<role>", summary: "add a new role for the etcd cluster", run: cmdRoleAdd},
	{name: "get", args: "<role>", summary: "get details for a role", run: cmdRoleGet},
	{name: "list", summary: "list all roles", run: cmdRoleList},
	{name: "remove", args: "<role>", summary: "remove a role from the etcd cluster", run: cmdRoleRemove},
	{name: "grant", args: "<role>", summary: "grant path matches to an etcd role", run: cmdRoleGrant},
	{name: "revoke", args: "<role>", summary: "revoke path matches for an etcd role", run: cmdRoleRevoke},
}

// authCommand runs an auth, user or role subcommand: flags defined by
// defs, exactly n arguments (else usage is printed), and a client synced as
// for every command. Like etcdctl's, these commands fail with status 1 and
// print the error alone.
func (e *env) authCommand(c *command, parent string, args []string, n int, usage string, defs func(fs *flag.FlagSet), do func(cl client.Client, args []string) error) int {
	fs := e.newFlags(c, parent)
	if defs != nil {
		defs(fs)
	}
	args, ok := e.parseArgs(fs, args, n, -1)
	if !ok {
		return ExitBadArgs
	}
	if len(args) != n {
		fmt.Fprintln(e.stderr, usage)
		return ExitBadArgs
	}
	cl, code := e.newClient(true)
	if cl == nil {
		return code
	}
	if e.g.debug {
		// etcdctl prints this line a second time for these commands.
		fmt.Fprintf(e.stderr, "Cluster-Endpoints: %s\n", strings.Join(cl.Endpoints(), ", "))
	}
	if err := do(cl, args); err != nil {
		fmt.Fprintln(e.stderr, err.Error())
		return ExitBadArgs
	}
	return ExitSuccess
}

// errPrinted is returned by a subcommand that has printed its own message.
type errPrinted string

func (e errPrinted) Error() string { return string(e) }

func cmdAuthEnable(e *env, c *command, args []string) int  { return e.authSwitch(c, args, true) }
func cmdAuthDisable(e *env, c *command, args []string) int { return e.authSwitch(c, args, false) }

func (e *env) authSwitch(c *command, args []string, enable bool) int {
	return e.authCommand(c, "auth", args, 0, "No arguments accepted", nil, func(cl client.Client, _ []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		a := client.NewAuthAPI(cl)
		if enable {
			if err := a.Enable(ctx); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Authentication Enabled")
			return nil
		}
		if err := a.Disable(ctx); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "Authentication Disabled")
		return nil
	})
}

const pleaseUser = "Please provide a username"

func cmdUserList(e *env, c *command, args []string) int {
	return e.authCommand(c, "user", args, 0, "No arguments accepted", nil, func(cl client.Client, _ []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		users, err := client.NewAuthUserAPI(cl).ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintln(e.stdout, u)
		}
		return nil
	})
}

// cmdUserAdd adds a user. The password comes after a colon in the argument
// ("bob:secret"); otherwise it is prompted for on a terminal, or read from
// the first line of stdin. As with etcdctl, adding a user that exists sets
// its password (etcd's answer to the request).
func cmdUserAdd(e *env, c *command, args []string) int {
	return e.authCommand(c, "user", args, 1, pleaseUser, nil, func(cl client.Client, args []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		api := client.NewAuthUserAPI(cl)
		name, pass, hasPass := strings.Cut(args[0], ":")
		if !hasPass {
			var err error
			if pass, err = e.askPassword("New password: "); err != nil {
				return fmt.Errorf("Error reading password: %w", err)
			}
		}
		if err := api.AddUser(ctx, name, pass); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "User %s created\n", name)
		return nil
	})
}

func cmdUserRemove(e *env, c *command, args []string) int {
	return e.authCommand(c, "user", args, 1, pleaseUser, nil, func(cl client.Client, args []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		if err := client.NewAuthUserAPI(cl).RemoveUser(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "User %s removed\n", args[0])
		return nil
	})
}

// cmdUserPasswd changes a password, prompted for on a terminal or read from
// the first line of stdin.
func cmdUserPasswd(e *env, c *command, args []string) int {
	return e.authCommand(c, "user", args, 1, pleaseUser, nil, func(cl client.Client, args []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		api := client.NewAuthUserAPI(cl)
		pass, err := e.askPassword("New password: ")
		if err != nil {
			return fmt.Errorf("Error reading password: %w", err)
		}
		if _, err := api.ChangePassword(ctx, args[0], pass); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "Password updated")
		return nil
	})
}

func cmdUserGrant(e *env, c *command, args []string) int  { return e.userGrantRevoke(c, args, true) }
func cmdUserRevoke(e *env, c *command, args []string) int { return e.userGrantRevoke(c, args, false) }

// stringList is a repeatable flag (etcdctl's --roles): each use adds one
// value, commas included, as etcdctl's command-line library does.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func (e *env) userGrantRevoke(c *command, args []string, grant bool) int {
	var roles stringList
	defs := func(fs *flag.FlagSet) {
		fs.Var(&roles, "roles", "a role to grant or revoke (repeat the flag for several)")
	}
	return e.authCommand(c, "user", args, 1, pleaseUser, defs, func(cl client.Client, args []string) error {
		if len(roles) == 0 {
			return errPrinted("No roles specified; please use `--roles`")
		}
		ctx, cancel := e.requestContext()
		defer cancel()
		api := client.NewAuthUserAPI(cl)
		var err error
		if grant {
			_, err = api.GrantUser(ctx, args[0], roles)
		} else {
			_, err = api.RevokeUser(ctx, args[0], roles)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "User %s updated\n", args[0])
		return nil
	})
}

func cmdUserGet(e *env, c *command, args []string) int {
	return e.authCommand(c, "user", args, 1, pleaseUser, nil, func(cl client.Client, args []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		u, err := client.NewAuthUserAPI(cl).GetUser(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "User: %s\nRoles: %s\n", u.User, strings.Join(u.Roles, " "))
		return nil
	})
}

const pleaseRole = "Please provide a role name"

func cmdRoleList(e *env, c *command, args []string) int {
	return e.authCommand(c, "role", args, 0, "No arguments accepted", nil, func(cl client.Client, _ []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		roles, err := client.NewAuthRoleAPI(cl).ListRoles(ctx)
		if err != nil {
			return err
		}
		for _, r := range roles {
			fmt.Fprintln(e.stdout, r)
		}
		return nil
	})
}

func cmdRoleAdd(e *env, c *command, args []string) int {
	return e.authCommand(c, "role", args, 1, pleaseRole, nil, func(cl client.Client, args []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		api := client.NewAuthRoleAPI(cl)
		if r, _ := api.GetRole(ctx, args[0]); r != nil {
			return errPrinted(fmt.Sprintf("Role %s already exists", args[0]))
		}
		if err := api.AddRole(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Role %s created\n", args[0])
		return nil
	})
}

func cmdRoleRemove(e *env, c *command, args []string) int {
	return e.authCommand(c, "role", args, 1, pleaseRole, nil, func(cl client.Client, args []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		if err := client.NewAuthRoleAPI(cl).RemoveRole(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Role %s removed\n", args[0])
		return nil
	})
}

func cmdRoleGet(e *env, c *command, args []string) int {
	return e.authCommand(c, "role", args, 1, pleaseRole, nil, func(cl client.Client, args []string) error {
		ctx, cancel := e.requestContext()
		defer cancel()
		r, err := client.NewAuthRoleAPI(cl).GetRole(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Role: %s\nKV Read:\n", r.Role)
		for _, p := range r.Permissions.KV.Read {
			fmt.Fprintf(e.stdout, "\t%s\n", p)
		}
		fmt.Fprintln(e.stdout, "KV Write:")
		for _, p := range r.Permissions.KV.Write {
			fmt.Fprintf(e.stdout, "\t%s\n", p)
		}
		return nil
	})
}

func cmdRoleGrant(e *env, c *command, args []string) int  { return e.roleGrantRevoke(c, args, true) }
func cmdRoleRevoke(e *env, c *command, args []string) int { return e.roleGrantRevoke(c, args, false) }

// canonicalPath is a key path as etcd's v2 auth stores it: cleaned, with a
// leading slash, and a trailing slash kept.
func canonicalPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

func (e *env) roleGrantRevoke(c *command, args []string, grant bool) int {
	var keyPath string
	var read, write, rw bool
	defs := func(fs *flag.FlagSet) {
		verb := "Grant"
		if !grant {
			verb = "Revoke"
		}
		fs.StringVar(&keyPath, "path", "", "Path "+strings.ToLower(verb)+"ed for the role to access")
		fs.BoolVar(&read, "read", false, verb+" read access")
		fs.BoolVar(&write, "write", false, verb+" write access")
		fs.BoolVar(&rw, "readwrite", false, verb+" read-write access")
		fs.BoolVar(&rw, "rw", false, "short for --readwrite")
	}
	return e.authCommand(c, "role", args, 1, pleaseRole, defs, func(cl client.Client, args []string) error {
		if keyPath == "" {
			return errPrinted("No path specified; please use `--path`")
		}
		if cp := canonicalPath(keyPath); cp != keyPath {
			return errPrinted(fmt.Sprintf("Not canonical path; please use `--path=%s`", cp))
		}
		var perm client.PermissionType
		switch {
		case read && !write && !rw:
			perm = client.ReadPermission
		case write && !read && !rw:
			perm = client.WritePermission
		case rw && !read && !write:
			perm = client.ReadWritePermission
		default:
			return errPrinted("Please specify exactly one of --read, --write or --readwrite")
		}
		ctx, cancel := e.requestContext()
		defer cancel()
		api := client.NewAuthRoleAPI(cl)
		before, err := api.GetRole(ctx, args[0])
		if err != nil {
			return err
		}
		var after *client.Role
		if grant {
			after, err = api.GrantRoleKV(ctx, args[0], []string{keyPath}, perm)
		} else {
			after, err = api.RevokeRoleKV(ctx, args[0], []string{keyPath}, perm)
		}
		if err != nil {
			return err
		}
		if reflect.DeepEqual(before.Permissions, after.Permissions) {
			if grant {
				fmt.Fprintln(e.stdout, "Role unchanged; already granted")
			} else {
				fmt.Fprintln(e.stdout, "Role unchanged; already revoked")
			}
		}
		fmt.Fprintf(e.stdout, "Role %s updated\n", args[0])
		return nil
	})
}
