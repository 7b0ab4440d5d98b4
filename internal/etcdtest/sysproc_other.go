//go:build !linux

package etcdtest

import "syscall"

// sysProcAttr puts the child in its own process group, so a Ctrl-C to the
// test run reaches the test binary and not etcd. Outside Linux there is no
// parent-death signal: an etcd outlives a test binary that dies without
// running its cleanups.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
