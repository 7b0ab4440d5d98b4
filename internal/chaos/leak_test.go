package chaos

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pidSet remembers every etcd process a run started, to check that none
// outlives its test.
type pidSet struct {
	mu   sync.Mutex
	pids map[int]bool
}

func (s *pidSet) add(pid int) {
	if pid == 0 {
		return
	}
	s.mu.Lock()
	if s.pids == nil {
		s.pids = map[int]bool{}
	}
	s.pids[pid] = true
	s.mu.Unlock()
}

// alive returns the remembered processes that still exist.
func (s *pidSet) alive() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for pid := range s.pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			out = append(out, pid)
		}
	}
	return out
}

// allPIDs collects the etcd processes of every run of the test binary.
var allPIDs pidSet

// TestMain fails the test binary if an etcd process or a goroutine started
// by the tests is left when they are done.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if pids := allPIDs.alive(); len(pids) > 0 {
		fmt.Fprintf(os.Stderr, "chaos: etcd processes left behind: %v\n", pids)
		code = 1
	}
	if err := waitGoroutines(before, 10*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// waitGoroutines waits until no more than n goroutines run; it returns an
// error with every goroutine's stack if that does not happen in time.
func waitGoroutines(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("chaos: %d goroutines left, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// checkNoLeaks registers, before anything else of t, a cleanup that runs
// after every other cleanup of t (the cluster's stop included) and fails t
// if goroutines started since or etcd processes remain.
func checkNoLeaks(t *testing.T, pids *pidSet) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		if alive := pids.alive(); len(alive) > 0 {
			t.Errorf("etcd processes left behind: %v", alive)
		}
		if err := waitGoroutines(before, 10*time.Second); err != nil {
			t.Error(err)
		}
	})
}
