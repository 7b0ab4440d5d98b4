package main

import (
	"context"
	"flag"
	"fmt"
	"path"
	"reflect"
	"strings"

	"github.com/v2keys/client"
)

const (
	noArgs     = "No arguments accepted"
	pleaseUser = "Please provide a username"
	pleaseRole = "Please provide a role name"
)

var authCommands = []*command{
	{name: "enable", exact: noArgs, summary: "enable auth access controls", setup: noFlags(authAction(authEnable))},
	{name: "disable", exact: noArgs, summary: "disable auth access controls", setup: noFlags(authAction(authDisable))},
}

var userCommands = []*command{
	{name: "add", args: "<user>[:<password>]", minArgs: 1, exact: pleaseUser, summary: "add a new user for the etcd cluster", setup: noFlags(authAction(userAdd))},
	{name: "get", args: "<user>", minArgs: 1, exact: pleaseUser, summary: "get details for a user", setup: noFlags(authAction(userGet))},
	{name: "list", exact: noArgs, summary: "list all current users", setup: noFlags(authAction(userList))},
	{name: "remove", args: "<user>", minArgs: 1, exact: pleaseUser, summary: "remove a user for the etcd cluster", setup: noFlags(authAction(userRemove))},
	{name: "grant", args: "<user>", minArgs: 1, exact: pleaseUser, summary: "grant roles to an etcd user", setup: userGrantRevoke(true)},
	{name: "revoke", args: "<user>", minArgs: 1, exact: pleaseUser, summary: "revoke roles for an etcd user", setup: userGrantRevoke(false)},
	{name: "passwd", args: "<user>", minArgs: 1, exact: pleaseUser, summary: "change password for a user", setup: noFlags(authAction(userPasswd))},
}

var roleCommands = []*command{
	{name: "add", args: "<role>", minArgs: 1, exact: pleaseRole, summary: "add a new role for the etcd cluster", setup: noFlags(authAction(roleAdd))},
	{name: "get", args: "<role>", minArgs: 1, exact: pleaseRole, summary: "get details for a role", setup: noFlags(authAction(roleGet))},
	{name: "list", exact: noArgs, summary: "list all roles", setup: noFlags(authAction(roleList))},
	{name: "remove", args: "<role>", minArgs: 1, exact: pleaseRole, summary: "remove a role from the etcd cluster", setup: noFlags(authAction(roleRemove))},
	{name: "grant", args: "<role>", minArgs: 1, exact: pleaseRole, summary: "grant path matches to an etcd role", setup: roleGrantRevoke(true)},
	{name: "revoke", args: "<role>", minArgs: 1, exact: pleaseRole, summary: "revoke path matches for an etcd role", setup: roleGrantRevoke(false)},
}

// authAction is the action of an auth, user or role subcommand: do, with
// a client synced as for every command and the command's context (see
// requestContext). Like etcdctl's, these commands fail with status 1 and
// print the error alone.
func authAction(do func(ctx context.Context, e *env, cl client.Client, args []string) error) action {
	return func(e *env, args []string) int {
		cl, code := e.newClient(true)
		if cl == nil {
			return code
		}
		if e.g.debug {
			// etcdctl prints this line a second time for these commands.
			fmt.Fprintf(e.stderr, "Cluster-Endpoints: %s\n", strings.Join(cl.Endpoints(), ", "))
		}
		ctx, cancel := e.requestContext()
		defer cancel()
		if err := do(ctx, e, cl, args); err != nil {
			fmt.Fprintln(e.stderr, err.Error())
			return ExitBadArgs
		}
		return ExitSuccess
	}
}

// errPrinted is returned by a subcommand that has printed its own message.
type errPrinted string

func (e errPrinted) Error() string { return string(e) }

func authEnable(ctx context.Context, e *env, cl client.Client, _ []string) error {
	return e.authSwitch(ctx, cl, true)
}

func authDisable(ctx context.Context, e *env, cl client.Client, _ []string) error {
	return e.authSwitch(ctx, cl, false)
}

func (e *env) authSwitch(ctx context.Context, cl client.Client, enable bool) error {
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
}

func userList(ctx context.Context, e *env, cl client.Client, _ []string) error {
	users, err := client.NewAuthUserAPI(cl).ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		fmt.Fprintln(e.stdout, u)
	}
	return nil
}

// userAdd adds a user. The password comes after a colon in the argument
// ("bob:secret"); otherwise it is prompted for on a terminal, or read from
// the first line of stdin. As with etcdctl, adding a user that exists sets
// its password (etcd's answer to the request).
func userAdd(ctx context.Context, e *env, cl client.Client, args []string) error {
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
}

func userRemove(ctx context.Context, e *env, cl client.Client, args []string) error {
	if err := client.NewAuthUserAPI(cl).RemoveUser(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "User %s removed\n", args[0])
	return nil
}

// userPasswd changes a password, prompted for on a terminal or read from
// the first line of stdin.
func userPasswd(ctx context.Context, e *env, cl client.Client, args []string) error {
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
}

// stringList is a repeatable flag (etcdctl's --roles): each use adds one
// value, commas included, as etcdctl's command-line library does.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// userGrantRevoke is the setup of user grant and user revoke.
func userGrantRevoke(grant bool) func(fs *flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		var roles stringList
		fs.Var(&roles, "roles", "a role to grant or revoke (repeat the flag for several)")
		return authAction(func(ctx context.Context, e *env, cl client.Client, args []string) error {
			if len(roles) == 0 {
				return errPrinted("No roles specified; please use `--roles`")
			}
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
}

func userGet(ctx context.Context, e *env, cl client.Client, args []string) error {
	u, err := client.NewAuthUserAPI(cl).GetUser(ctx, args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "User: %s\nRoles: %s\n", u.User, strings.Join(u.Roles, " "))
	return nil
}

func roleList(ctx context.Context, e *env, cl client.Client, _ []string) error {
	roles, err := client.NewAuthRoleAPI(cl).ListRoles(ctx)
	if err != nil {
		return err
	}
	for _, r := range roles {
		fmt.Fprintln(e.stdout, r)
	}
	return nil
}

func roleAdd(ctx context.Context, e *env, cl client.Client, args []string) error {
	api := client.NewAuthRoleAPI(cl)
	if r, _ := api.GetRole(ctx, args[0]); r != nil {
		return errPrinted(fmt.Sprintf("Role %s already exists", args[0]))
	}
	if err := api.AddRole(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Role %s created\n", args[0])
	return nil
}

func roleRemove(ctx context.Context, e *env, cl client.Client, args []string) error {
	if err := client.NewAuthRoleAPI(cl).RemoveRole(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Role %s removed\n", args[0])
	return nil
}

func roleGet(ctx context.Context, e *env, cl client.Client, args []string) error {
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
}

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

// roleGrantRevoke is the setup of role grant and role revoke.
func roleGrantRevoke(grant bool) func(fs *flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		var keyPath string
		var read, write, rw bool
		verb := "Grant"
		if !grant {
			verb = "Revoke"
		}
		fs.StringVar(&keyPath, "path", "", "Path "+strings.ToLower(verb)+"ed for the role to access")
		fs.BoolVar(&read, "read", false, verb+" read access")
		fs.BoolVar(&write, "write", false, verb+" write access")
		fs.BoolVar(&rw, "readwrite", false, verb+" read-write access")
		fs.BoolVar(&rw, "rw", false, "short for --readwrite")
		return authAction(func(ctx context.Context, e *env, cl client.Client, args []string) error {
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
}
