//go:build !linux

package etcdtest

import (
	"syscall"
	"time"
)

// sysProcAttr puts the child in its own process group, so a Ctrl-C to the
// test run reaches the test binary and not etcd. Outside Linux there is no
// parent-death signal: an etcd outlives a test binary that dies without
// running its cleanups.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitStopped has no portable way to see a process's state outside Linux;
// Pause returns once the signal is sent.
func waitStopped(pid int, timeout time.Duration) error { return nil }
