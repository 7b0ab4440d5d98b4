package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/v2keys/client/internal/etcdtest"
)

// deadEndpoint returns a loopback URL on which nothing listens.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestBadInput(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	p := etcdtest.UniquePrefix(t)
	v2keys(t, ep, 0, "set", p+"/keep", "safe")
	dead := deadEndpoint(t)
	dump := filepath.Join(t.TempDir(), "dump.jsonl")
	v2keys(t, ep, 0, "export", p, dump)

	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 0, ""},
		{"unknown command", []string{"--endpoints", ep, "frobnicate"}, 3, "No help topic for 'frobnicate'\n"},
		{"unknown subcommand", []string{"--endpoints", ep, "member", "frob"}, 3, "No help topic for 'frob'\n"},
		{"group without subcommand", []string{"--endpoints", ep, "user"}, 0, ""},
		{"unknown global flag", []string{"--frob", "get", "/x"}, 1, "flag provided but not defined: -frob"},
		{"unknown command flag", []string{"--endpoints", ep, "get", "--frob", "/x"}, 1, "flag provided but not defined: -frob"},
		{"flag after arguments", []string{"--endpoints", ep, "set", p + "/keep", "v", "--ttl", "5"}, 1, "flag --ttl given after the arguments"},
		{"bad flag value", []string{"--endpoints", ep, "set", "--ttl", "soon", p + "/keep", "v"}, 1, `invalid value "soon" for flag -ttl`},
		{"bad output format", []string{"-o", "yaml", "get", "/x"}, 1, `unsupported output format "yaml"`},
		{"missing key", []string{"--endpoints", ep, "get"}, 1, "Error:  key required"},
		{"missing value", []string{"--endpoints", ep, "set", p + "/keep"}, 1, "Error:  value required"},
		{"too many arguments", []string{"--endpoints", ep, "get", "/a", "/b"}, 1, "too many arguments: /b"},
		{"unreachable endpoint", []string{"--endpoints", dead, "get", "/x"}, 2, "Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp"},
		{"unreachable endpoint, no sync", []string{"--endpoints", dead, "--no-sync", "set", p + "/keep", "lost"}, 4, "connection refused"},
		{"unreachable endpoint, import", []string{"--endpoints", dead, "import", dump, p}, 2, "connection refused"},
		{"endpoint without scheme", []string{"--endpoints", strings.TrimPrefix(ep, "http://"), "get", p + "/keep"}, 0, ""},
		{"bad endpoint", []string{"--endpoints", "http://[::1", "get", "/x"}, 1, "Error: "},
		{"no password on stdin", []string{"--endpoints", ep, "-u", "root", "get", p + "/keep"}, 3, "no password on stdin"},
		{"missing TLS key", []string{"--endpoints", ep, "--cert-file", "c.pem", "get", "/x"}, 1, "--cert-file and --key-file must be given together"},
		{"key not found", []string{"--endpoints", ep, "get", p + "/nope"}, 4, "Error:  100: Key not found (" + p + "/nope) ["},
		{"key not found, json", []string{"--endpoints", ep, "-o", "json", "get", p + "/nope"}, 4, "Error:  100: Key not found (" + p + "/nope) ["},
		{"export without file", []string{"--endpoints", ep, "export", p}, 1, "key and output file"},
		{"export to a missing directory", []string{"--endpoints", ep, "export", p, "/nonexistent/dir/f"}, 1, "no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCmd(t, "", c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr containing %q", r.code, r.stderr, c.code, c.stderr)
			}
		})
	}
	// Nothing above changed the data.
	if r := v2keys(t, ep, 0, "get", p+"/keep"); r.stdout != "safe\n" {
		t.Errorf("value after the failures: %q", r.stdout)
	}

	t.Run("env endpoints", func(t *testing.T) {
		t.Setenv("ETCDCTL_ENDPOINTS", ep)
		if r := runCmd(t, "", "get", p+"/keep"); r.code != 0 || r.stdout != "safe\n" {
			t.Errorf("get with ETCDCTL_ENDPOINTS: %+v", r)
		}
	})
	if r := runCmd(t, "", "help"); r.code != 0 || !strings.Contains(r.stdout, "cluster-health") {
		t.Errorf("help: %+v", r)
	}
}
