package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// formats is the global flags of the three output formats.
var formats = [][]string{{"-o", "simple"}, {"-o", "extended"}, {"--output", "json"}}

// inFormats returns the step built by f for each output format, with the
// format's flags first; f gets the format's index (for distinct keys).
func inFormats(f func(i int) step) []step {
	var steps []step
	for i, flags := range formats {
		st := f(i)
		st.args = append(append([]string{}, flags...), st.args...)
		steps = append(steps, st)
	}
	return steps
}

// each is inFormats of the same command line for each format.
func each(args ...string) []step {
	return inFormats(func(int) step { return step{args: args} })
}

// suffix is "", "2", "3" for format i, to give each format its own key.
func suffix(i int) string { return []string{"", "2", "3"}[i] }

func steps(groups ...[]step) []step {
	var all []step
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

func one(args ...string) []step { return []step{{args: args}} }

// sideScenarios are the command lines of the side-by-side test, by
// scenario. {p} is the side's key prefix, {n} its name for users and roles.
func sideScenarios(c *etcdtest.Cluster) []scenario {
	const printWatch = `echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE modified-index $ETCD_WATCH_MODIFIED_INDEX"`
	return []scenario{
		{name: "keys", steps: steps(
			each("ls", "{p}"),
			each("get", "{p}/missing"),
			inFormats(func(i int) step { return step{args: []string{"set", "{p}/a" + suffix(i), "v"}} }),
			each("set", "{p}/a", "again"),
			each("get", "{p}/a"),
			each("get", "--quorum", "{p}/a"),
			inFormats(func(i int) step { return step{args: []string{"set", "--ttl", "100", "{p}/ttl" + suffix(i), "x"}} }),
			each("get", "{p}/ttl"),
			each("set", "--swap-with-value", "nope", "{p}/a", "w"),
			each("set", "--swap-with-index", "1", "{p}/a", "w"),
			one("set", "--swap-with-value", "again", "{p}/a", "swapped"),
			[]step{{args: []string{"set", "{p}/stdin"}, stdin: "from stdin\n"}},
			one("set", "{p}/novalue"),
			one("set"),
			inFormats(func(i int) step { return step{args: []string{"mk", "{p}/m" + suffix(i), "made"}} }),
			each("mk", "{p}/m", "again"),
			inFormats(func(i int) step { return step{args: []string{"mk", "--in-order", "{p}/queue" + suffix(i), "job"}} }),
			each("update", "{p}/m", "updated"),
			each("update", "--ttl", "50", "{p}/m2", "updated"),
			each("update", "{p}/missing", "x"),
			inFormats(func(i int) step { return step{args: []string{"mkdir", "{p}/d" + suffix(i)}} }),
			each("mkdir", "{p}/d"),
			one("mkdir", "--ttl", "100", "{p}/dttl"),
			inFormats(func(i int) step { return step{args: []string{"setdir", "{p}/sd" + suffix(i)}} }),
			each("setdir", "{p}/d"),
			each("updatedir", "--ttl", "100", "{p}/d"),
			each("updatedir", "{p}/nodir"),
			each("get", "{p}/d"),
			one("rm"),
			each("rm", "{p}/d"),
			inFormats(func(i int) step { return step{args: []string{"rm", "{p}/a" + suffix(i)}} }),
			inFormats(func(i int) step { return step{args: []string{"rm", "--dir", "{p}/d" + suffix(i)}} }),
			each("rm", "{p}/missing"),
			each("rm", "--with-value", "nope", "{p}/m"),
			one("rm", "--with-value", "updated", "{p}/m"),
			each("rm", "--with-index", "1", "{p}/m2"),
			inFormats(func(i int) step { return step{args: []string{"rmdir", "{p}/sd" + suffix(i)}} }),
			each("rmdir", "{p}/queue"),
			each("rm", "--recursive", "{p}/queue"),
			each("rmdir", "{p}/missing"),
			one("rmdir"),
			one("set", "--", "{p}/dash", "-v"),
			one("get", "{p}/dash"),
			one("--no-sync", "get", "{p}/dash"),
			one("--total-timeout", "1ns", "get", "{p}/dash"),
			one("rm", "--dir", "{p}/dash"),
			one("rm", "-r", "{p}/m2"),
			one("--debug", "get", "{p}/m3"),
		)},
		{name: "ls", setup: func(t *testing.T, s *side) {
			s.set(t, "/tree/a", "1", nil)
			s.set(t, "/tree/b/c", "2", nil)
			s.set(t, "/tree/b/d", "", &client.SetOptions{Dir: true})
			s.set(t, "/tree/e", "3", &client.SetOptions{TTL: 100 * time.Second})
			s.set(t, "/one/only", "1", nil)
		}, steps: steps(
			each("ls", "--sort", "{p}/tree"),
			each("ls", "--sort", "--recursive", "{p}/tree"),
			each("ls", "--sort", "-r", "-p", "{p}/tree"),
			each("ls", "--sort", "-p", "{p}/tree"),
			each("ls", "--sort", "--quorum", "{p}/tree/b"),
			each("ls", "-q", "{p}/one"),
			each("ls", "{p}/tree/a"),
			each("ls", "-r", "{p}/one"),
			each("get", "--sort", "{p}/tree/a"),
			each("get", "{p}/tree"),
		)},
		{name: "watch", setup: func(t *testing.T, s *side) {
			s.vars["idx"] = itoa(s.set(t, "/w", "1", nil))
			s.set(t, "/w", "2", nil)
			s.set(t, "/dir/sub", "", &client.SetOptions{Dir: true})
		}, steps: steps(
			each("watch", "--after-index", "{idx}", "{p}/w"),
			each("watch", "--recursive", "--after-index", "{idx}", "{p}"),
			[]step{
				{args: []string{"watch", "--forever", "--after-index", "{idx}", "{p}/w"}, interrupt: 15 * time.Second},
				{args: []string{"-o", "json", "watch", "-f", "-r", "--after-index", "{idx}", "{p}"}, interrupt: 15 * time.Second},
				{args: []string{"exec-watch", "--after-index", "{idx}", "--", "sh", "-c", printWatch, "{p}/w"}, interrupt: 15 * time.Second},
				// etcdctl drops the "--" and takes the last argument as the
				// key (here: never written), whatever its usage says.
				{args: []string{"exec-watch", "--after-index", "{idx}", "{p}/w", "--", "sh", "-c", printWatch}, interrupt: 2 * time.Second},
				{args: []string{"exec-watch", "--after-index", "{idx}", "sh", "-c", printWatch, "{p}/w"}, interrupt: 15 * time.Second},
			},
			one("watch"),
			one("exec-watch", "{p}/w"),
			one("exec-watch", "--", "{p}/w"),
		)},
		{name: "usage", setup: func(t *testing.T, s *side) {
			s.set(t, "/x", "1", nil)
		}, steps: []step{
			{args: nil, raw: true, diff: "help-text"},
			{args: []string{"help"}, raw: true, diff: "help-text"},
			{args: []string{"--help"}, raw: true, diff: "help-text"},
			{args: []string{"member"}, diff: "help-text"},
			{args: []string{"member", "help"}, diff: "help-text"},
			{args: []string{"help", "get"}, diff: "help-text"},
			{args: []string{"get", "-h"}, diff: "help-text"},
			{args: []string{"user", "add", "--help"}, diff: "help-text"},
			{args: []string{"--bogus", "get", "{p}/x"}, raw: true, diff: "help-text"},
			{args: []string{"--timeout", "soon", "get", "{p}/x"}, raw: true, diff: "help-text"},
			{args: []string{"-o"}, raw: true, diff: "help-text"},
			{args: []string{"--version"}, raw: true, diff: "version"},
			{args: []string{"-v"}, raw: true, diff: "version"},
			{args: []string{"get", "--bogus", "{p}/x"}, diff: "help-text"},
			{args: []string{"set", "--ttl", "soon", "{p}/x", "v"}, diff: "help-text"},
			{args: []string{"member", "list", "--bogus"}, diff: "help-text"},
			{args: []string{"frobnicate"}},
			{args: []string{"member", "frobnicate"}},
			{args: []string{"help", "frobnicate"}},
			{args: []string{"get"}},
			{args: []string{"backup"}, diff: "backup"},
			{args: []string{"--endpoints", "{hostport}", "get", "{p}/x"}, raw: true, diff: "scheme"},
			{args: []string{"--endpoints", "{dead}", "get", "{p}/x"}, raw: true},
			{args: []string{"--endpoints", "{dead}", "--no-sync", "get", "{p}/x"}, raw: true},
			{args: []string{"--endpoints", "{dead}", "get"}, raw: true, diff: "usage-first"},
			{args: []string{"--endpoints", "{dead}", "--no-sync", "get"}, raw: true},
			{args: []string{"-u", "nobody", "get", "{p}/x"}, stdin: "pw\n", diff: "password-prompt"},
			{args: []string{"-u", "nobody:pw", "get", "{p}/x"}},
			{args: []string{"get", "{p}/x"}, raw: true, env: []string{"ETCDCTL_ENDPOINTS={eps}"}},
			{args: []string{"get", "{p}/x"}, raw: true, env: []string{"ETCDCTL_PEERS={eps}"}},
			{args: []string{"--peers", "{eps}", "get", "{p}/x"}, raw: true},
			{args: []string{"-C", "{eps}", "get", "{p}/x"}, raw: true},
			{args: []string{"get", "{p}/x"}, env: []string{"ETCDCTL_USERNAME=nobody:pw"}},
			{args: []string{"get", "{p}/x"}, raw: true, env: []string{"ETCDCTL_ENDPOINTS={dead}"}},
			{args: []string{"-o", "yaml", "get", "{p}/x"}, diff: "bad-output"},
			{args: []string{"get", "{p}/x", "extra"}, diff: "extra-args"},
			// The last: etcdctl sets the key (without TTL); v2keys does not.
			{args: []string{"set", "{p}/x", "v", "--ttl", "5"}, diff: "extra-args"},
		}},
		{name: "members", setup: func(t *testing.T, s *side) {
			waitReconfigurable(t, c)
			s.vars["m0"] = c.Members()[0].Name()
		}, before: func(t *testing.T) { membersAgree(t, c) }, steps: []step{
			{args: []string{"member", "list"}, sortLines: true},
			{args: []string{"cluster-health"}},
			{args: []string{"member", "add", "extra", "http://127.0.0.1:{port}"}, capture: `with ID ([0-9a-f]+) to cluster`},
			{args: []string{"member", "list"}, sortLines: true},
			{args: []string{"cluster-health"}, sortLines: true},
			{args: []string{"member", "update", "{id}", "http://127.0.0.1:{port2}"}},
			{args: []string{"member", "list"}, sortLines: true},
			{args: []string{"member", "remove", "{m0}"}, diff: "program-name"},
			{args: []string{"member", "remove", "{id}"}},
			{args: []string{"member", "remove", "{id}"}},
			{args: []string{"member", "update", "{id}", "http://127.0.0.1:{port2}"}},
			{args: []string{"member", "list", "extra"}},
			{args: []string{"member", "add", "only-a-name"}},
			{args: []string{"member", "remove"}},
			{args: []string{"member", "update", "{id}"}},
			{args: []string{"cluster-health", "--forever"}, interrupt: 15 * time.Second},
			{args: []string{"-o", "json", "member", "list"}, sortLines: true},
			{args: []string{"-o", "extended", "cluster-health"}},
			{args: []string{"--debug", "cluster-health"}},
			{args: []string{"--debug", "member", "list"}, sortLines: true},
		}},
		{name: "auth", setup: func(t *testing.T, s *side) {
			s.set(t, "/x", "1", nil)
		}, steps: []step{
			{args: []string{"user", "list"}},
			{args: []string{"role", "list"}},
			{args: []string{"-o", "json", "role", "list"}},
			{args: []string{"--debug", "role", "list"}},
			{args: []string{"--debug", "user", "list"}},
			{args: []string{"--debug", "auth", "disable"}},
			{args: []string{"user", "add", "{n}:secret"}},
			{args: []string{"user", "add", "{n}:again"}},
			{args: []string{"user", "add", "{n}b"}, stdin: "pw\n", diff: "password-prompt"},
			{args: []string{"user", "add"}},
			{args: []string{"user", "add", "a", "b"}},
			{args: []string{"user", "get", "{n}"}},
			{args: []string{"user", "get", "{n}x"}},
			{args: []string{"user", "list"}},
			{args: []string{"user", "list", "extra"}},
			{args: []string{"role", "add", "{n}r"}},
			{args: []string{"role", "add", "{n}r"}},
			{args: []string{"role", "add"}},
			{args: []string{"role", "get", "{n}r"}},
			{args: []string{"role", "get", "{n}x"}},
			{args: []string{"role", "list"}},
			{args: []string{"role", "grant", "--path", "{p}/*", "--read", "{n}r"}},
			{args: []string{"role", "grant", "--path", "{p}/*", "--read", "{n}r"}},
			{args: []string{"role", "grant", "--path", "{p}/w", "--write", "{n}r"}},
			{args: []string{"role", "grant", "--path", "{p}/rw", "--rw", "{n}r"}},
			{args: []string{"role", "grant", "--path", "{p}/*", "--readwrite", "{n}r"}},
			{args: []string{"role", "grant", "--path", "x/../y", "--read", "{n}r"}},
			{args: []string{"role", "grant", "--path", "{p}/x", "{n}r"}},
			{args: []string{"role", "grant", "--path", "{p}/x", "--read", "--write", "{n}r"}},
			{args: []string{"role", "grant", "--read", "{n}r"}},
			{args: []string{"role", "grant", "--path", "{p}/x", "--read", "{n}x"}},
			{args: []string{"role", "get", "{n}r"}},
			{args: []string{"role", "revoke", "--path", "{p}/w", "--write", "{n}r"}},
			{args: []string{"role", "revoke", "--path", "{p}/w", "--write", "{n}r"}},
			{args: []string{"role", "revoke", "--path", "{p}/nothing", "--read", "{n}r"}},
			{args: []string{"role", "get", "{n}r"}},
			{args: []string{"user", "grant", "--roles", "{n}r", "{n}"}},
			{args: []string{"user", "grant", "--roles", "{n}r", "--roles", "{n}x", "{n}"}},
			{args: []string{"user", "grant", "--roles", "{n}r,{n}x", "{n}"}},
			{args: []string{"user", "grant", "{n}"}},
			{args: []string{"user", "grant", "--roles", "{n}r", "{n}x"}},
			{args: []string{"user", "get", "{n}"}},
			{args: []string{"user", "revoke", "--roles", "{n}r", "{n}"}},
			{args: []string{"user", "revoke", "--roles", "{n}r", "{n}"}},
			{args: []string{"user", "passwd", "{n}"}, stdin: "new\n", diff: "password-prompt"},
			{args: []string{"user", "passwd", "{n}x"}, stdin: "new\n", diff: "password-prompt"},
			{args: []string{"auth", "enable"}},
			{args: []string{"user", "add", "root:rootpw"}},
			{args: []string{"auth", "enable"}},
			{args: []string{"get", "{p}/x"}},
			{args: []string{"-u", "root:wrong", "get", "{p}/x"}},
			{args: []string{"-u", "root:rootpw", "user", "list"}},
			{args: []string{"user", "list"}},
			{args: []string{"auth", "disable"}},
			{args: []string{"-u", "root:rootpw", "auth", "disable"}},
			{args: []string{"auth", "enable", "extra"}},
			{args: []string{"user", "remove", "root"}},
			{args: []string{"user", "remove", "{n}"}},
			{args: []string{"user", "remove", "{n}b"}},
			{args: []string{"user", "remove", "{n}"}},
			{args: []string{"user", "remove"}},
			{args: []string{"role", "remove", "{n}r"}},
			{args: []string{"role", "remove", "{n}r"}},
			{args: []string{"role", "remove"}},
			// Enabling auth created the role guest; and granting a role to
			// a missing user created it.
			{args: []string{"role", "remove", "guest"}},
			{args: []string{"user", "list"}},
			{args: []string{"user", "remove", "{n}x"}},
			{args: []string{"role", "list"}},
		}},
	}
}

func itoa(i uint64) string { return strconv.FormatUint(i, 10) }

// waitReconfigurable waits until the cluster accepts a member change: right
// after it starts, etcd refuses them for a few seconds.
func waitReconfigurable(t *testing.T, c *etcdtest.Cluster) {
	t.Helper()
	cl, err := client.New(client.Config{Endpoints: c.ClientURLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(cl)
	m := client.NewMembersAPI(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		added, err := m.Add(ctx, "http://127.0.0.1:1")
		if err == nil {
			err = m.Remove(ctx, added.ID)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("the cluster refuses member changes: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// membersAgree waits until every member of c lists the same members (IDs
// and peer URLs), so that a command sees a change whichever member answers.
func membersAgree(t *testing.T, c *etcdtest.Cluster) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var lists []string
		for _, u := range c.ClientURLs() {
			lists = append(lists, memberListAt(u))
		}
		if !slices.ContainsFunc(lists, func(l string) bool { return l != lists[0] }) && lists[0] != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the members do not agree on the member list: %q", lists)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// memberListAt is the member list as the member at url answers it ("" on
// an error), one "id peerURLs" line per member, sorted.
func memberListAt(url string) string {
	cl, err := client.New(client.Config{Endpoints: []string{url}})
	if err != nil {
		return ""
	}
	defer closeClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	members, err := client.NewMembersAPI(cl).List(ctx)
	if err != nil {
		return ""
	}
	var lines []string
	for _, m := range members {
		lines = append(lines, m.ID+" "+strings.Join(m.PeerURLs, ","))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
