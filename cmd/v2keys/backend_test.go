package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/v2keys/client/internal/etcdtest"
)

// backendSide is one side of the comparison: the global flags that select
// a backend and the etcd it runs against.
type backendSide struct {
	name    string
	flags   []string
	version string
}

// indexLike are the parts of the command's output that legitimately differ
// between the v2 API and onv3 on another member: indexes (v3 revisions
// count every v3 write), in-order names (made of indexes), member IDs,
// names and URLs, TTLs counting down and expiration times.
var indexLike = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(Created-Index|Modified-Index|Index): \d+`), "$1: N"},
	{regexp.MustCompile(`"(createdIndex|modifiedIndex|index)":\d+`), `"$1":N`},
	{regexp.MustCompile(`\[\d+\]`), "[N]"},
	{regexp.MustCompile(`\[(\d+) != \d+\]`), "[$1 != N]"},
	{regexp.MustCompile(`\d{20}`), "SEQ"},
	{regexp.MustCompile(`\b[0-9a-f]{10,16}\b`), "ID"}, // etcd prints IDs without leading zeros
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), "URL"},
	{regexp.MustCompile(`name=\S+`), "name=NAME"},
	{regexp.MustCompile(`TTL: [1-9]\d*`), "TTL: T"},
	{regexp.MustCompile(`"ttl":[1-9]\d*`), `"ttl":T`},
	{regexp.MustCompile(`"expiration":"[^"]*"`), `"expiration":"E"`},
}

func normalizeIndexes(s string) string {
	for _, r := range indexLike {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// TestBackendV3SameAsV2 runs the same etcdctl v2 command lines against the
// v2 API of a v2 member (etcd 3.4 or 3.5 in make test) and with --backend v3
// against the v3 keyspace of a v3-only member (3.4, 3.6 or 3.7), and
// requires the same stdout, stderr and exit status, indexes aside: a script
// written for "ETCDCTL_API=2 etcdctl" keeps working after its cluster moves
// to etcd 3.6.
func TestBackendV3SameAsV2(t *testing.T) {
	v2m, v3m := etcdtest.Shared(t), etcdtest.SharedV3(t)
	p := etcdtest.UniquePrefix(t)
	sides := []backendSide{
		{name: "v2 API", flags: []string{"--endpoints", v2m.ClientURL()}, version: v2m.Version()},
		{name: "onv3", flags: []string{"--endpoints", v3m.ClientURL(), "--backend", "v3", "--v3-prefix", "/backend-test"}, version: v3m.Version()},
	}
	t.Logf("v2 API on etcd %s, onv3 on etcd %s", sides[0].version, sides[1].version)
	// etcd 3.5 fails every update of a directory (README, Compatibility):
	// those steps are compared only where the v2 side can do them.
	v2UpdatesDirs := !strings.HasPrefix(v2m.Version(), "3.5.")

	steps := []struct {
		args      []string
		dirUpdate bool // an update of a directory: not on etcd 3.5's v2
		unordered bool // v2 lists in no particular order: compare sorted lines
	}{
		{args: []string{"set", p + "/a", "hello"}},
		{args: []string{"get", p + "/a"}},
		{args: []string{"-o", "extended", "get", p + "/a"}},
		{args: []string{"-o", "json", "get", p + "/a"}},
		{args: []string{"get", p + "/missing/deep"}},
		{args: []string{"get", p}},
		{args: []string{"mk", p + "/a", "x"}},
		{args: []string{"mk", p + "/b", "bee"}},
		{args: []string{"-o", "json", "update", p + "/b", "bee2"}},
		{args: []string{"update", p + "/nokey", "v"}},
		{args: []string{"set", "--swap-with-value", "bee2", p + "/b", "b3"}},
		{args: []string{"set", "--swap-with-value", "wrong", p + "/b", "b4"}},
		{args: []string{"set", "--swap-with-index", "1", p + "/b", "b5"}},
		{args: []string{"-o", "extended", "set", "--ttl", "100", p + "/t", "ttl"}},
		{args: []string{"-o", "extended", "get", p + "/t"}},
		{args: []string{"mkdir", p + "/dir"}},
		{args: []string{"mkdir", p + "/dir"}},
		{args: []string{"setdir", p + "/dir"}},
		{args: []string{"setdir", "--ttl", "100", p + "/dir2"}},
		{args: []string{"updatedir", p + "/dir2"}, dirUpdate: true},
		{args: []string{"updatedir", p + "/nodir"}},
		{args: []string{"set", p + "/dir/_hidden", "h"}},
		{args: []string{"set", p + "/dir/x", "1"}},
		{args: []string{"mk", "--in-order", p + "/q", "job1"}},
		{args: []string{"-o", "extended", "mk", "--in-order", p + "/q", "job2"}},
		{args: []string{"ls", p}, unordered: true},
		{args: []string{"ls", "--sort", "--recursive", "-p", p}},
		{args: []string{"-o", "json", "ls", "--sort", p + "/dir"}},
		{args: []string{"-o", "extended", "ls", "--sort", p}},
		{args: []string{"get", p + "/dir/_hidden"}},
		{args: []string{"get", p + "/dir"}},
		{args: []string{"rm", p + "/dir"}},
		{args: []string{"rmdir", p + "/dir"}},
		{args: []string{"rm", "--with-value", "wrong", p + "/b"}},
		{args: []string{"rm", "--with-value", "b3", p + "/b"}},
		{args: []string{"-o", "json", "rm", "--recursive", p + "/dir"}},
		{args: []string{"rmdir", p + "/dir2"}},
		{args: []string{"rm", p + "/a/b"}},
		{args: []string{"get", p + "/dir/x"}},
		{args: []string{"ls", "--sort", "--recursive", p}},
		{args: []string{"member", "list"}},
		{args: []string{"cluster-health"}},
	}
	for i, st := range steps {
		if st.dirUpdate && !v2UpdatesDirs {
			continue
		}
		var got [2]result
		for j, side := range sides {
			r := runCmd(t, "", append(append([]string(nil), side.flags...), st.args...)...)
			r.stdout, r.stderr = normalizeIndexes(r.stdout), normalizeIndexes(r.stderr)
			if st.unordered {
				lines := strings.SplitAfter(r.stdout, "\n")
				sort.Strings(lines)
				r.stdout = strings.Join(lines, "")
			}
			got[j] = r
		}
		if got[0] != got[1] {
			t.Errorf("step %d: v2keys %s\n%s: exit %d\nstdout: %q\nstderr: %q\n%s: exit %d\nstdout: %q\nstderr: %q",
				i, strings.Join(st.args, " "),
				sides[0].name, got[0].code, got[0].stdout, got[0].stderr,
				sides[1].name, got[1].code, got[1].stdout, got[1].stderr)
		}
	}

	// watch and exec-watch from the index before a write print that write.
	for _, side := range sides {
		t.Run("watch/"+side.name, func(t *testing.T) {
			r := v2keys(t, "", 0, append(append([]string(nil), side.flags...), "-o", "extended", "set", p+"/w", "one")...)
			var mod uint64
			if _, err := fmt.Sscanf(r.stdout[strings.Index(r.stdout, "Modified-Index:"):], "Modified-Index: %d", &mod); err != nil {
				t.Fatalf("no Modified-Index in %q", r.stdout)
			}
			after := fmt.Sprint(mod - 1)
			w := runCmd(t, "", append(append([]string(nil), side.flags...), "watch", "--after-index", after, p+"/w")...)
			if w.code != 0 || w.stdout != "one\n" {
				t.Errorf("watch: %+v", w)
			}
			bg := startCmd(t, append(append([]string(nil), side.flags...), "exec-watch", "--after-index", after, "--",
				"sh", "-c", `echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"`, p+"/w")...)
			bg.waitOutput(t, "set "+p+"/w one\n")
			if code := bg.stop(t); code != 0 {
				t.Errorf("exec-watch exited %d: %s", code, bg.stderr.String())
			}
		})
	}
}

// TestBackendFlags checks the backend's flags and variable, and that the
// commands only the v2 API can serve say so instead of doing something else.
func TestBackendFlags(t *testing.T) {
	ep := etcdtest.SharedV3(t).ClientURL()
	tests := []struct {
		env        string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{args: []string{"--backend", "v4", "ls"}, wantCode: ExitBadArgs, wantStderr: `Error:  unknown backend "v4": use v2 or v3 (--backend or V2KEYS_BACKEND)` + "\n"},
		{env: "v5", args: []string{"ls"}, wantCode: ExitBadArgs, wantStderr: `Error:  unknown backend "v5": use v2 or v3 (--backend or V2KEYS_BACKEND)` + "\n"},
		{args: []string{"--v3-prefix", "/x", "ls"}, wantCode: ExitBadArgs, wantStderr: "Error:  --v3-prefix needs --backend v3\n"},
		{args: []string{"--backend", "v3", "user", "list"}, wantCode: ExitBadArgs, wantStderr: "Error:  " + errNeedsV2.Error() + "\n"},
		{env: "v3", args: []string{"export", "/x", "-"}, wantCode: ExitBadArgs, wantStderr: "Error:  " + errNeedsV2.Error() + "\n"},
		{env: "v3", args: []string{"--v3-prefix", "/nothing-here", "get", "/k"}, wantCode: ExitServerError, wantStderr: "Error:  100: Key not found (/k) [N]\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Setenv(backendEnv, tt.env)
			r := runCmd(t, "", append([]string{"--endpoints", ep}, tt.args...)...)
			if r.code != tt.wantCode || normalizeIndexes(r.stderr) != tt.wantStderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
}
