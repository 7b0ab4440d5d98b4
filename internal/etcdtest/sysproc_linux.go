package etcdtest

import "syscall"

// sysProcAttr puts the child in its own process group, so a Ctrl-C to the
// test run reaches the test binary and not etcd, and has the kernel send it
// SIGKILL when the test binary dies, so no etcd outlives a crashed test.
//
// Pdeathsig fires when the thread that started the child exits; the Go
// runtime only ends threads locked by a goroutine that exits while locked,
// which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
