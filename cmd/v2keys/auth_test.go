package main

import (
	"strings"
	"testing"

	"github.com/v2keys/client/internal/etcdtest"
)

// TestAuthCommands runs the user, role and auth commands on a member of
// its own: enabling auth would disturb every other test.
func TestAuthCommands(t *testing.T) {
	ep := etcdtest.Start(t, 1).ClientURLs()[0]
	root := []string{"-u", "root:rootpw"}

	steps := []struct {
		stdin  string
		args   []string
		code   int
		stdout string // exact, unless empty and code != 0
	}{
		{"", []string{"user", "add", "root:rootpw"}, 0, "User root created\n"},
		// As with etcdctl, adding a user that exists sets its password.
		{"", []string{"user", "add", "root:rootpw"}, 0, "User root created\n"},
		{"bobpw\n", []string{"user", "add", "bob"}, 0, "User bob created\n"},
		{"", []string{"role", "add", "app"}, 0, "Role app created\n"},
		{"", []string{"role", "add", "app"}, 1, ""},
		{"", []string{"role", "grant", "--path", "/app/*", "--readwrite", "app"}, 0, "Role app updated\n"},
		{"", []string{"role", "grant", "--path", "/logs/*", "--read", "app"}, 0, "Role app updated\n"},
		{"", []string{"role", "get", "app"}, 0, "Role: app\nKV Read:\n\t/app/*\n\t/logs/*\nKV Write:\n\t/app/*\n"},
		{"", []string{"role", "revoke", "--path", "/logs/*", "--read", "app"}, 0, "Role app updated\n"},
		{"", []string{"role", "grant", "--path", "app", "--read", "app"}, 1, ""},
		{"", []string{"role", "grant", "--path", "/x", "--read", "--write", "app"}, 1, ""},
		{"", []string{"role", "list"}, 0, "app\nroot\n"},
		{"", []string{"user", "grant", "--roles", "app", "bob"}, 0, "User bob updated\n"},
		{"", []string{"user", "get", "bob"}, 0, "User: bob\nRoles: app\n"},
		{"", []string{"user", "grant", "bob"}, 1, ""},
		{"", []string{"user", "list"}, 0, "bob\nroot\n"},
		{"newpw\n", []string{"user", "passwd", "bob"}, 0, "Password updated\n"},
		{"", []string{"auth", "enable"}, 0, "Authentication Enabled\n"},
		{"", append(root, "set", "/app/x", "1"), 0, "1\n"},
		{"", []string{"-u", "bob:newpw", "get", "/app/x"}, 0, "1\n"},
		{"", []string{"-u", "bob:bobpw", "role", "list"}, 1, ""},
		{"", append(root, "user", "revoke", "--roles", "app", "bob"), 0, "User bob updated\n"},
		{"", append(root, "user", "get", "bob"), 0, "User: bob\nRoles: \n"},
		{"", append(root, "user", "remove", "bob"), 0, "User bob removed\n"},
		{"", append(root, "role", "remove", "app"), 0, "Role app removed\n"},
		{"", []string{"auth", "disable"}, 1, ""},
		{"", append(root, "auth", "disable"), 0, "Authentication Disabled\n"},
		{"", []string{"user", "get", "nobody"}, 1, ""},
		{"", []string{"user", "get"}, 1, ""},
		{"", []string{"role", "get"}, 1, ""},
	}
	for _, s := range steps {
		r := runCmd(t, s.stdin, append([]string{"--endpoints", ep}, s.args...)...)
		if r.code != s.code || (s.stdout != "" && r.stdout != s.stdout) {
			t.Errorf("v2keys %s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q",
				strings.Join(s.args, " "), r.code, r.stdout, r.stderr, s.code, s.stdout)
		}
		if s.code != 0 && r.stderr == "" {
			t.Errorf("v2keys %s failed without a message", strings.Join(s.args, " "))
		}
	}
}
