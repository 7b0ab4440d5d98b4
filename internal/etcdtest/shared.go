package etcdtest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// shared holds the Shared member of this test binary.
var shared struct {
	mu      sync.Mutex
	cluster *Cluster // nil until first started
	err     error    // first start failure, reported to every caller
}

// prefixCounter numbers the prefixes handed out by UniquePrefix.
var prefixCounter atomic.Uint64

// Shared returns a single-member etcd shared by all tests of the test
// binary. The first call starts it; later calls return the same member. It
// is stopped by [Main] (and, on Linux, killed with the test binary if Main is
// not used). Its Kill, Pause, Resume and Restart return [ErrSharedMember].
//
// The keyspace is shared: a test must keep to its own [UniquePrefix] and not
// assume an empty store. A failed start is remembered and fails every test
// that asks for the member.
func Shared(t testing.TB) *Member {
	t.Helper()
	bin := Require(t)
	m, err := sharedMember(bin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// SharedClientURL returns the client URL of the [Shared] member, starting it
// if needed, for code that has no testing.TB: runnable examples, whose
// output is checked against a real etcd.
func SharedClientURL() (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", fmt.Errorf("etcdtest: %w", err)
	}
	m, err := sharedMember(bin)
	if err != nil {
		return "", err
	}
	return m.ClientURL(), nil
}

func sharedMember(bin string) (*Member, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil && shared.err == nil {
		shared.cluster, shared.err = start(startConfig{bin: bin, size: 1, shared: true, ports: freePorts})
	}
	if shared.err != nil {
		return nil, fmt.Errorf("etcdtest: shared member: %w", shared.err)
	}
	m := shared.cluster.members[0]
	if err := m.exitError(); err != nil {
		return nil, fmt.Errorf("etcdtest: shared member is gone: %w", err)
	}
	return m, nil
}

// Main runs the tests of m, then stops the [Shared] member if one was
// started, and exits with the tests' exit code (or 1 if stopping failed).
// Use it as a package's TestMain:
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

// stopShared stops the Shared member, if any.
func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	c := shared.cluster
	shared.cluster, shared.err = nil, nil
	if c == nil {
		return nil
	}
	if err := c.Stop(); err != nil {
		return fmt.Errorf("etcdtest: stop shared member: %w", err)
	}
	return nil
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
