package main

// The side-by-side test: every scenario of sidebyside_cases_test.go runs
// once with Debian's etcdctl 3.4.23 (ETCDCTL_API=2) and once with the
// v2keys binary, against the same etcd cluster, and each command line's
// stdout, stderr and exit status are compared after normalisation (ports,
// member IDs, indexes, times). A step may name a row of the differences
// table of README.md: then exactly the streams that row lists must differ.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// step is one command line of a scenario.
type step struct {
	args  []string // after the global --endpoints; placeholders {name} are expanded from the side's vars
	stdin string
	env   []string // NAME=value, added to the environment (expanded as args)
	// diff names the row of README.md's differences table this step shows;
	// "" means the two tools must agree on everything.
	diff string
	// raw: do not prepend --endpoints (usage cases, or the step gives its own).
	raw bool
	// interrupt: a command that runs until Ctrl-C (watch -f, exec-watch,
	// cluster-health -f) gets SIGINT once it has printed something (and
	// half a second more, for the rest of its output), or after this long
	// if it prints nothing.
	interrupt time.Duration
	// capture: a regexp with one group, matched against stdout; the group
	// becomes the side's var "id".
	capture string
	// sortLines: compare the lines in sorted order (the position of a
	// member whose random ID differs between the two runs).
	sortLines bool
}

// scenario is a sequence of steps run by one tool, then by the other, each
// time under names of its own (var "n" and prefix "p").
type scenario struct {
	name  string
	setup func(t *testing.T, s *side)
	// before runs before each step (membersAgree: each member answers
	// member list from what it has applied, which may lag for a moment).
	before func(t *testing.T)
	steps  []step
}

// outcome is what one run of a command line showed.
type outcome struct {
	stdout, stderr string
	status         int
}

// side is one tool's run of a scenario.
type side struct {
	tool string // "etcdctl" or "v2keys"
	bin  string
	eps  string // the cluster's client URLs, comma-separated
	vars map[string]string
	keys client.KeysAPI
}

func TestSideBySide(t *testing.T) {
	ctl := requireEtcdctl(t)
	diffs, err := readDifferences("README.md")
	if err != nil {
		t.Fatal(err)
	}
	v2 := buildV2keys(t)
	c := etcdtest.StartCluster(t, etcdtest.Options{Size: 3, API: etcdtest.V2})
	t.Logf("etcdctl %s and v2keys against etcd %s (3 members)", ctl, c.Version())
	eps := strings.Join(c.ClientURLs(), ",")
	cl, err := client.New(client.Config{Endpoints: c.ClientURLs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeClient(cl) })
	keys := client.NewKeysAPI(cl)

	used := map[string]bool{}
	scenarios := sideScenarios(c)
	ran := 0
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ran++
			var runs [2][]outcome
			for j, tool := range []string{"etcdctl", "v2keys"} {
				n := fmt.Sprintf("sbs%02d%c", i, tool[0])
				s := &side{tool: tool, bin: map[string]string{"etcdctl": ctl, "v2keys": v2}[tool], eps: eps, keys: keys,
					vars: map[string]string{"n": n, "p": "/" + n, "eps": eps, "hostport": strings.TrimPrefix(c.ClientURLs()[0], "http://"),
						"dead": deadEndpoint(t), "port": strconv.Itoa(freePort(t)), "port2": strconv.Itoa(freePort(t))}}
				if sc.setup != nil {
					sc.setup(t, s)
				}
				for _, st := range sc.steps {
					if sc.before != nil {
						sc.before(t)
					}
					o := s.run(t, st)
					runs[j] = append(runs[j], normalise(o, n, st.sortLines))
				}
			}
			for k, st := range sc.steps {
				name := strings.Join(st.args, " ")
				e, v := runs[0][k], runs[1][k]
				if st.diff == "" {
					if e != v {
						t.Errorf("step %d `%s`: the tools differ%s", k, name, showPair(e, v))
					}
					continue
				}
				used[st.diff] = true
				row, ok := diffs[st.diff]
				if !ok {
					t.Errorf("step %d `%s`: difference %q is not in README.md's table", k, name, st.diff)
					continue
				}
				for _, stream := range []string{"stdout", "stderr", "status"} {
					same := map[string]bool{"stdout": e.stdout == v.stdout, "stderr": e.stderr == v.stderr, "status": e.status == v.status}[stream]
					if row.streams[stream] && same {
						t.Errorf("step %d `%s`: README row %q says %s differs, but it is the same%s", k, name, st.diff, stream, showPair(e, v))
					}
					if !row.streams[stream] && !same {
						t.Errorf("step %d `%s`: %s differs, and README row %q does not say so%s", k, name, stream, st.diff, showPair(e, v))
					}
				}
			}
		})
	}
	if t.Failed() || ran < len(scenarios) {
		return // (-run chose some scenarios: the rows' use cannot be checked)
	}
	for id, row := range diffs {
		if len(row.streams) > 0 && !used[id] {
			t.Errorf("README.md's difference %q is shown by no step of the side-by-side test", id)
		}
	}
}

func showPair(e, v outcome) string {
	return fmt.Sprintf("\n  etcdctl (status %d):\n    stdout: %q\n    stderr: %q\n  v2keys (status %d):\n    stdout: %q\n    stderr: %q",
		e.status, e.stdout, e.stderr, v.status, v.stdout, v.stderr)
}

// requireEtcdctl returns the path of etcdctl 3.4 speaking v2, skipping the
// test when it is missing, or failing it under CI=true (scripts/test.sh
// installs Debian's etcd-client).
func requireEtcdctl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("etcdctl")
	if err == nil {
		cmd := exec.Command(path, "--version")
		cmd.Env = ctlEnv()
		out, verr := cmd.Output()
		if verr != nil || !strings.Contains(string(out), "etcdctl version: 3.4.") || !strings.Contains(string(out), "API version: 2") {
			err = fmt.Errorf("%s --version with ETCDCTL_API=2 printed %q (%v), want etcdctl 3.4 with API version 2", path, out, verr)
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("etcdctl 3.4 (Debian's etcd-client) is needed: %v", err)
		}
		t.Skipf("etcdctl 3.4 (Debian's etcd-client) is needed: %v", err)
	}
	return path
}

// buildV2keys builds this command into a temporary directory: the test runs
// it as a user would, signals and exit statuses included.
func buildV2keys(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "v2keys")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// ctlEnv is the environment of both tools: ETCDCTL_API=2 and no other
// ETCDCTL_ variable of the test's environment, nor V2KEYS_BACKEND (the
// comparison is of the v2 API).
func ctlEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCDCTL_") && !strings.HasPrefix(kv, "V2KEYS_BACKEND=") {
			env = append(env, kv)
		}
	}
	return append(env, "ETCDCTL_API=2")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var placeholder = regexp.MustCompile(`\{[a-z0-9]+\}`)

func (s *side) expand(t *testing.T, arg string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(arg, func(m string) string {
		v, ok := s.vars[m[1:len(m)-1]]
		if !ok {
			t.Fatalf("no value for %s in %q", m, arg)
		}
		return v
	})
}

// run runs one step with this side's tool and returns what it showed.
func (s *side) run(t *testing.T, st step) outcome {
	t.Helper()
	var args []string
	if !st.raw {
		args = []string{"--endpoints", s.eps}
	}
	for _, a := range st.args {
		args = append(args, s.expand(t, a))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = ctlEnv()
	for _, kv := range st.env {
		cmd.Env = append(cmd.Env, s.expand(t, kv))
	}
	cmd.Stdin = strings.NewReader(s.expand(t, st.stdin))
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if st.interrupt > 0 {
		deadline := time.Now().Add(st.interrupt)
		for stdout.String() == "" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if stdout.String() != "" {
			time.Sleep(500 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatalf("%s %v: interrupt: %v", s.tool, args, err)
		}
	}
	err := cmd.Wait()
	status := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		status = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v (stdout %q, stderr %q)", s.tool, args, err, stdout.String(), stderr.String())
	}
	if st.capture != "" {
		m := regexp.MustCompile(st.capture).FindStringSubmatch(stdout.String())
		if m == nil {
			t.Fatalf("%s %v: stdout %q does not match %s", s.tool, args, stdout.String(), st.capture)
		}
		s.vars["id"] = m[1]
	}
	return outcome{stdout.String(), stderr.String(), status}
}

// set writes key (under the side's prefix) for a scenario's setup and
// returns the write's index.
func (s *side) set(t *testing.T, key, value string, opts *client.SetOptions) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.keys.Set(ctx, s.vars["p"]+key, value, opts)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Index
}

// normalisers replace, in both tools' output, what differs from one run to
// the next: ports, member IDs, indexes, expiration times and TTLs (a
// second may pass between the two runs).
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`/\d{20}\b`), "/IN-ORDER-KEY"},
	{regexp.MustCompile(`"(createdIndex|modifiedIndex|index)":\d+`), `"$1":N`},
	{regexp.MustCompile(`(?m)^(Created-Index|Modified-Index|Index): \d+$`), "$1: N"},
	{regexp.MustCompile(`(?m)\) \[\d+\]$`), ") [N]"},
	{regexp.MustCompile(`\(\[(\d+) != \d+\]\)`), "([$1 != N])"}, // a failed compare of indexes
	{regexp.MustCompile(`ETCD_WATCH_MODIFIED_INDEX=\d+|modified-index \d+`), "MODIFIED-INDEX"},
	{regexp.MustCompile(`"expiration":"[^"]*"`), `"expiration":"TIME"`},
	{regexp.MustCompile(`"ttl":\d+`), `"ttl":N`},
	{regexp.MustCompile(`(?m)^TTL: [1-9]\d*$`), "TTL: N"},
	{regexp.MustCompile(`\b[0-9a-f]{10,16}\b`), "MEMBER-ID"},
}

var initialCluster = regexp.MustCompile(`(?m)^ETCD_INITIAL_CLUSTER="([^"]*)"$`)

// normalise makes the outcome of a step comparable with the other tool's:
// the side's names (n) become "N", and the normalisers apply.
func normalise(o outcome, n string, sortLines bool) outcome {
	f := func(s string) string {
		s = strings.ReplaceAll(s, n, "N")
		for _, r := range normalisers {
			s = r.re.ReplaceAllString(s, r.with)
		}
		// member add lists the members in ID order, and the new member's
		// ID is random.
		s = initialCluster.ReplaceAllStringFunc(s, func(line string) string {
			list := strings.Split(initialCluster.FindStringSubmatch(line)[1], ",")
			slices.Sort(list)
			return `ETCD_INITIAL_CLUSTER="` + strings.Join(list, ",") + `"`
		})
		if sortLines {
			lines := strings.Split(s, "\n")
			slices.Sort(lines)
			s = strings.Join(lines, "\n")
		}
		return s
	}
	return outcome{f(o.stdout), f(o.stderr), o.status}
}

// closeClient releases a client's connections.
func closeClient(c client.Client) {
	if cl, ok := c.(io.Closer); ok {
		cl.Close()
	}
}
