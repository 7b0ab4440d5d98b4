package etcdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// waitStopped waits until every thread of pid is in the stopped state ('T'
// in /proc/<pid>/task/<tid>/stat), so that a paused member is really
// paused when Pause returns.
func waitStopped(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		running, err := runningThreads(pid)
		if err != nil {
			return fmt.Errorf("etcdtest: pid %d: %w", pid, err)
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcdtest: pid %d: %d threads still running %v after SIGSTOP", pid, running, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// runningThreads counts the threads of pid that are not stopped.
func runningThreads(pid int) (int, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return 0, fmt.Errorf("no threads found: %v", err)
	}
	running := 0
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited
		}
		// The state follows the parenthesised command name.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			return 0, fmt.Errorf("unreadable %s", path)
		}
		if state := s[i+2]; state != 'T' && state != 't' {
			running++
		}
	}
	return running, nil
}
