package etcdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// settle bounds each wait for the servers to do something. It is generous
// because a loaded machine slows elections a lot; normal runs need well under
// a second.
const settle = 10 * time.Second

// testClient is the client the tests talk to etcd with. It keeps no idle
// connections, so it leaves no goroutines behind.
var testClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   5 * time.Second,
}

// v2Response is the part of a v2 keys answer the tests look at.
type v2Response struct {
	Action string `json:"action"`
	Node   struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"node"`
}

// do sends one v2 keys request and decodes the answer.
func do(client *http.Client, method, base, key string, form url.Values) (int, v2Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+"/v2/keys"+key, body)
	if err != nil {
		return 0, v2Response{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, v2Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, v2Response{}, err
	}
	var r v2Response
	if err := json.Unmarshal(data, &r); err != nil {
		return resp.StatusCode, r, fmt.Errorf("decode %q: %w", data, err)
	}
	return resp.StatusCode, r, nil
}

// put sets key to value through base, retrying until within.
func put(t *testing.T, base, key, value string, within time.Duration) {
	t.Helper()
	eventually(t, within, func() error {
		code, _, err := do(testClient, http.MethodPut, base, key, url.Values{"value": {value}})
		if err != nil {
			return err
		}
		if code != http.StatusOK && code != http.StatusCreated {
			return fmt.Errorf("PUT %s: status %d", key, code)
		}
		return nil
	})
}

// expectValue waits until a GET of key through base returns value.
func expectValue(t *testing.T, base, key, value string, within time.Duration) {
	t.Helper()
	eventually(t, within, func() error {
		code, r, err := do(testClient, http.MethodGet, base, key, nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK || r.Node.Value != value {
			return fmt.Errorf("GET %s: status %d, value %q; want 200, %q", key, code, r.Node.Value, value)
		}
		return nil
	})
}

// eventually retries f every 50ms until it succeeds or within has passed.
func eventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSingleMemberPutGet(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	c := Start(t, 1)
	t.Logf("single member up in %v", time.Since(begin))

	members := c.Members()
	if len(members) != 1 {
		t.Fatalf("got %d members, want 1", len(members))
	}
	m := members[0]
	if m.PID() <= 0 || !m.Running() {
		t.Errorf("PID() = %d, Running() = %v; want a running process", m.PID(), m.Running())
	}
	if got := c.ClientURLs(); len(got) != 1 || got[0] != m.ClientURL() {
		t.Errorf("ClientURLs() = %v, want [%s]", got, m.ClientURL())
	}
	if !strings.HasPrefix(m.ClientURL(), "http://127.0.0.1:") || !strings.HasPrefix(m.PeerURL(), "http://127.0.0.1:") {
		t.Errorf("URLs %s, %s are not loopback", m.ClientURL(), m.PeerURL())
	}
	if _, err := os.Stat(m.LogPath()); err != nil || !strings.HasPrefix(m.LogPath(), m.DataDir()) {
		t.Errorf("log %s not in data dir %s: %v", m.LogPath(), m.DataDir(), err)
	}

	code, r, err := do(testClient, http.MethodPut, m.ClientURL(), "/foo", url.Values{"value": {"bar"}})
	if err != nil || code != http.StatusCreated || r.Action != "set" {
		t.Fatalf("PUT /foo: %d %+v %v; want 201 set", code, r, err)
	}
	code, r, err = do(testClient, http.MethodGet, m.ClientURL(), "/foo", nil)
	if err != nil || code != http.StatusOK || r.Node.Value != "bar" {
		t.Fatalf("GET /foo: %d %+v %v; want 200 bar", code, r, err)
	}
	// The ready probe's hidden key must be gone.
	if code, _, _ := do(testClient, http.MethodGet, m.ClientURL(), "/_etcdtest_ready", nil); code != http.StatusNotFound {
		t.Errorf("GET ready key: status %d, want 404", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	if l, err := c.Leader(ctx); err != nil || l != m {
		t.Errorf("Leader() = %v, %v; want the only member", l, err)
	}
}

func TestClusterFailoverAndRestart(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	c := Start(t, 3)
	t.Logf("3-member cluster up in %v", time.Since(begin))

	ctx, cancel := context.WithTimeout(context.Background(), 2*settle)
	defer cancel()
	old, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	put(t, old.ClientURL(), "/before", "1", settle)

	begin = time.Now()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := old.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	if old.PID() != 0 || old.Running() {
		t.Fatalf("killed member: PID() = %d, Running() = %v", old.PID(), old.Running())
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if leader == old {
		t.Fatal("the killed member is still the leader")
	}
	t.Logf("new leader %s after %v", leader.Name(), time.Since(begin))
	for _, m := range c.Members() {
		if m != old {
			put(t, m.ClientURL(), "/after-"+m.Name(), "2", settle)
		}
	}
	t.Logf("both survivors accept writes %v after the kill", time.Since(begin))

	begin = time.Now()
	pid := old.PID()
	if err := old.Restart(); err != nil {
		t.Fatal(err)
	}
	if old.PID() == 0 || old.PID() == pid {
		t.Fatalf("restarted member has PID %d", old.PID())
	}
	if err := old.Restart(); err == nil {
		t.Fatal("Restart of a running member succeeded")
	}
	// A plain GET is served from the member's own store, so this proves
	// the member caught up with the writes made while it was down.
	for _, m := range c.Members() {
		if m != old {
			expectValue(t, old.ClientURL(), "/after-"+m.Name(), "2", settle)
		}
	}
	expectValue(t, old.ClientURL(), "/before", "1", settle)
	put(t, old.ClientURL(), "/via-restarted", "3", settle)
	t.Logf("restarted member rejoined and caught up in %v", time.Since(begin))
	if !strings.Contains(old.LogTail(1000), "etcdtest: restarting "+old.Name()) {
		t.Errorf("log has no restart marker:\n%s", old.LogTail(20))
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	c := StartWithFlags(t, 1, "--auth-token", "simple")
	m := c.Members()[0]

	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", m.PID())); err == nil {
		if !bytes.Contains(cmdline, []byte("--auth-token\x00simple")) {
			t.Errorf("extra flags not passed: %q", cmdline)
		}
	}
	put(t, m.ClientURL(), "/k", "v", settle)

	if err := m.Pause(); err != nil {
		t.Fatal(err)
	}
	short := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   300 * time.Millisecond,
	}
	_, _, err := do(short, http.MethodGet, m.ClientURL(), "/k", nil)
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("GET from paused member: %v; want a timeout", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Leader(ctx); err == nil {
		t.Error("Leader found while the only member is paused")
	}

	if err := m.Resume(); err != nil {
		t.Fatal(err)
	}
	expectValue(t, m.ClientURL(), "/k", "v", settle)

	// A paused member dies on Kill, and a dead one cannot be paused.
	if err := m.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := m.Pause(); err == nil {
		t.Error("Pause of a killed member succeeded")
	}
	// A single member comes back with its data.
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	expectValue(t, m.ClientURL(), "/k", "v", settle)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.DataDir()); !os.IsNotExist(err) {
		t.Errorf("data dir survives Stop: %v", err)
	}
}

func TestStartRetriesWhenPortTaken(t *testing.T) {
	t.Parallel()
	bin := require(t, "", V2)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	pick := func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[0] = taken.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	c, err := start(startConfig{bin: bin, api: V2, size: 1, ports: pick})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	if calls != 2 {
		t.Errorf("ports picked %d times, want 2", calls)
	}
	put(t, c.Members()[0].ClientURL(), "/k", "v", settle)
}

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	bin := require(t, "", V2)
	_, err := start(startConfig{bin: bin, api: V2, size: 1, flags: []string{"--no-such-flag"}, ports: freePorts})
	if err == nil {
		t.Fatal("start with a bad flag succeeded")
	}
	t.Logf("start error as a test sees it: %v", err)
	if !strings.Contains(err.Error(), "no-such-flag") || !strings.Contains(err.Error(), "log tail") {
		t.Errorf("error does not show the log tail: %v", err)
	}
}

// sharedSeen records what the first shared-member test saw.
var sharedSeen struct {
	sync.Mutex
	member *Member
	pid    int
}

// checkShared is the body of the two shared-member tests: whichever runs
// second checks that it got the member the first one started.
func checkShared(t *testing.T) {
	m := Shared(t)
	sharedSeen.Lock()
	if sharedSeen.member == nil {
		sharedSeen.member, sharedSeen.pid = m, m.PID()
	} else if m != sharedSeen.member || m.PID() != sharedSeen.pid {
		t.Errorf("Shared() = %s pid %d, want the earlier %s pid %d", m.Name(), m.PID(), sharedSeen.member.Name(), sharedSeen.pid)
	}
	sharedSeen.Unlock()

	prefix := UniquePrefix(t)
	if !strings.HasPrefix(prefix, "/t/"+t.Name()+"-") {
		t.Errorf("UniquePrefix = %q", prefix)
	}
	put(t, m.ClientURL(), prefix+"/k", t.Name(), settle)
	expectValue(t, m.ClientURL(), prefix+"/k", t.Name(), settle)
	for name, f := range map[string]func() error{"Kill": m.Kill, "Pause": m.Pause, "Resume": m.Resume, "Restart": m.Restart} {
		if err := f(); !errors.Is(err, ErrSharedMember) {
			t.Errorf("%s on the shared member: %v, want ErrSharedMember", name, err)
		}
	}
}

func TestSharedFirst(t *testing.T)  { checkShared(t) }
func TestSharedSecond(t *testing.T) { checkShared(t) }

func TestUniquePrefix(t *testing.T) {
	t.Run("sub test/with spaces", func(t *testing.T) {
		a, b := UniquePrefix(t), UniquePrefix(t)
		if a == b {
			t.Errorf("two calls gave %q", a)
		}
		if !strings.HasPrefix(a, "/t/TestUniquePrefix_sub_test_with_spaces-") {
			t.Errorf("UniquePrefix = %q", a)
		}
	})
}

// fakeTB records Skipf and Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestRequireBinary(t *testing.T) {
	found := binary{path: "/bin/etcd", version: "3.4.23"}
	missing := func() (binary, error) { return binary{}, errors.New("not found") }
	present := func() (binary, error) { return found, nil }
	tests := []struct {
		name               string
		find               func() (binary, error)
		ci                 bool
		wantSkip, wantFail bool
		want               binary
	}{
		{name: "missing", find: missing, wantSkip: true},
		{name: "missing in CI", find: missing, ci: true, wantFail: true},
		{name: "present", find: present, want: found},
		{name: "present in CI", find: present, ci: true, want: found},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			got := requireBinary(f, tt.find, tt.ci)
			if got != tt.want || f.skipped != tt.wantSkip || f.failed != tt.wantFail {
				t.Errorf("got %+v skipped %v failed %v; want %+v %v %v", got, f.skipped, f.failed, tt.want, tt.wantSkip, tt.wantFail)
			}
		})
	}
}

func TestServesV2(t *testing.T) {
	for v, want := range map[string]bool{
		"3.4.23": true, "3.5.35": true, "3.6.16": false, "3.7.3": false, "3.10.0": false, "junk": false,
	} {
		if got := (binary{version: v}).servesV2(); got != want {
			t.Errorf("servesV2(%s) = %v, want %v", v, got, want)
		}
	}
}

func TestDefaultVersion(t *testing.T) {
	t.Setenv("ETCDTEST_V2_VERSION", "")
	t.Setenv("ETCDTEST_V3_VERSION", " 3.6 ")
	if got := DefaultVersion(V2); got != "3.4" {
		t.Errorf("DefaultVersion(V2) = %q with the variable empty, want 3.4", got)
	}
	if got := DefaultVersion(V3); got != "3.6" {
		t.Errorf("DefaultVersion(V3) = %q, want 3.6", got)
	}
}

// pinnedVersions returns the exact versions scripts/etcd-bin.sh pins, by
// series, so that the test below follows the one place they are named.
func pinnedVersions(t *testing.T) map[string]string {
	t.Helper()
	script, err := binScript()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", script, "pins").Output()
	if err != nil {
		t.Fatalf("etcd-bin.sh pins: %v", err)
	}
	pins := map[string]string{}
	for _, v := range strings.Fields(string(out)) {
		parts := strings.SplitN(v, ".", 3)
		pins[parts[0]+"."+parts[1]] = v
	}
	if len(pins) != 4 {
		t.Fatalf("etcd-bin.sh pins printed %q, want four versions", out)
	}
	return pins
}

// TestEveryVersion starts a member of every pinned series with every API it
// serves, and checks that it runs the version asked for and takes a write
// of that API; v2 on 3.6 and later must be refused with a clear error.
func TestEveryVersion(t *testing.T) {
	pins := pinnedVersions(t)
	tests := []struct {
		series  string
		api     API
		wantErr string
	}{
		{"3.4", V2, ""}, {"3.4", V3, ""},
		{"3.5", V2, ""}, {"3.5", V3, ""},
		{"3.6", V3, ""}, {"3.6", V2, "does not serve the v2 API"},
		{"3.7", V3, ""}, {"3.7", V2, "does not serve the v2 API"},
	}
	for _, tt := range tests {
		t.Run(tt.series+"/"+string(tt.api), func(t *testing.T) {
			t.Parallel()
			bin := require(t, tt.series, tt.api)
			if bin.version != pins[tt.series] {
				t.Fatalf("etcd %s resolved to %s, want the pinned %s", tt.series, bin.version, pins[tt.series])
			}
			c, err := start(startConfig{bin: bin, api: tt.api, size: 1, ports: freePorts})
			if tt.wantErr != "" {
				if err == nil {
					c.Stop()
					t.Fatalf("start of v2 on %s succeeded", bin.version)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("start error %q does not say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Stop() })
			if c.Version() != pins[tt.series] || c.API() != tt.api {
				t.Errorf("cluster runs %s %s, want %s %s", c.API(), c.Version(), tt.api, pins[tt.series])
			}
			ctx, cancel := context.WithTimeout(context.Background(), settle)
			defer cancel()
			if err := probeWrite(ctx, c.ClientURLs()[0], tt.api); err != nil {
				t.Errorf("%s write: %v", tt.api, err)
			}
			// A V3 member of 3.4 or 3.5 must not serve v2: the tests of
			// the v3 side must not pass by reading v2 by mistake.
			if tt.api == V3 {
				code, _, err := do(testClient, http.MethodGet, c.ClientURLs()[0], "/", nil)
				if err == nil && code == http.StatusOK {
					t.Errorf("a V3 member of %s answers v2 GETs", bin.version)
				}
			}
			if _, err := c.Leader(ctx); err != nil {
				t.Errorf("Leader: %v", err)
			}
		})
	}
}

func TestSharedV3(t *testing.T) {
	m := SharedV3(t)
	if m.API() != V3 || m != SharedV3(t) {
		t.Fatalf("SharedV3 gave %s member %s, then another", m.API(), m.Name())
	}
	if v := m.Version(); !strings.HasPrefix(v+".", DefaultVersion(V3)+".") {
		t.Errorf("SharedV3 runs %s, default v3 version is %s", v, DefaultVersion(V3))
	}
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	if err := probeWrite(ctx, m.ClientURL(), V3); err != nil {
		t.Fatal(err)
	}
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	// Not parallel: the goroutine count is only stable while no other
	// test is running.
	before := runtime.NumGoroutine()
	c := Start(t, 1)
	put(t, c.Members()[0].ClientURL(), "/k", "v", settle)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Stop, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
