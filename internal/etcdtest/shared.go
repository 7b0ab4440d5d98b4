package etcdtest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// shared holds the shared members of this test binary, one per API and
// version.
var shared struct {
	mu      sync.Mutex
	members map[sharedID]*sharedEntry
}

// sharedID names a shared member: the API it serves and its exact version.
type sharedID struct {
	api     API
	version string
}

// sharedEntry is one shared member, or the failure of its start.
type sharedEntry struct {
	cluster *Cluster // nil if the start failed
	err     error    // the start failure, reported to every caller
}

// prefixCounter numbers the prefixes handed out by UniquePrefix.
var prefixCounter atomic.Uint64

// Shared returns a single-member etcd serving the v2 API (and v3), of
// [DefaultVersion]([V2]), shared by all tests of the test binary. The
// first call starts it; later calls return the same member. It is stopped
// by [Main] (and, on Linux, killed with the test binary if Main is not
// used). Its Kill, Pause, Resume and Restart return [ErrSharedMember].
//
// The keyspace is shared: a test must keep to its own [UniquePrefix] and not
// assume an empty store. A failed start is remembered and fails every test
// that asks for the member.
func Shared(t testing.TB) *Member {
	t.Helper()
	return sharedFor(t, V2)
}

// SharedV3 is [Shared] for tests of the v3 API: a shared single member of
// [DefaultVersion]([V3]), started without the v2 API. Its keyspace is
// shared in the same way: keep to keys under [UniquePrefix].
func SharedV3(t testing.TB) *Member {
	t.Helper()
	return sharedFor(t, V3)
}

// sharedFor returns the shared member of api's default version.
func sharedFor(t testing.TB, api API) *Member {
	t.Helper()
	bin := require(t, "", api)
	m, err := sharedMember(bin, api)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// SharedClientURL returns the client URL of the [Shared] member, starting it
// if needed, for code that has no testing.TB: runnable examples, whose
// output is checked against a real etcd.
func SharedClientURL() (string, error) {
	bin, err := resolve("", V2)
	if err != nil {
		return "", err
	}
	m, err := sharedMember(bin, V2)
	if err != nil {
		return "", err
	}
	return m.ClientURL(), nil
}

func sharedMember(bin binary, api API) (*Member, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	id := sharedID{api: api, version: bin.version}
	e := shared.members[id]
	if e == nil {
		e = &sharedEntry{}
		e.cluster, e.err = start(startConfig{bin: bin, api: api, size: 1, shared: true, ports: freePorts})
		if shared.members == nil {
			shared.members = map[sharedID]*sharedEntry{}
		}
		shared.members[id] = e
	}
	if e.err != nil {
		return nil, fmt.Errorf("etcdtest: shared %s member: %w", api, e.err)
	}
	m := e.cluster.members[0]
	if err := m.exitError(); err != nil {
		return nil, fmt.Errorf("etcdtest: shared member is gone: %w", err)
	}
	return m, nil
}

// Main runs the tests of m, then stops the shared members that were started,
// and exits with the tests' exit code (or 1 if stopping failed). Use it as
// a package's TestMain:
//
//	func TestMain(m *testing.M) { etcdtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// stopShared stops every shared member.
func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var errs []error
	for _, e := range shared.members {
		if e.cluster == nil {
			continue
		}
		if err := e.cluster.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("etcdtest: stop shared member: %w", err))
		}
	}
	shared.members = nil
	return errors.Join(errs...)
}

// UniquePrefix returns a key prefix no other test of the binary gets, of the
// form /t/<test name>-<n>, where the test name has every character other
// than letters, digits and '-' replaced by '_'. Tests on the [Shared] member
// put all their keys under it.
func UniquePrefix(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("/t/%s-%d", sanitize(t.Name()), prefixCounter.Add(1))
}

// sanitize makes name safe as one key segment that is not hidden.
func sanitize(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '_'
	}, name)
	if s == "" || s[0] == '_' {
		s = "x" + s
	}
	return s
}
