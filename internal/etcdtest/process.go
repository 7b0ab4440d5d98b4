package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// reapTimeout bounds how long a kill waits for the process to be reaped.
const reapTimeout = 10 * time.Second

// process is one run of the etcd binary. It is started once and reaped once,
// by a goroutine that ends as soon as the process has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	err  error         // result of Wait; read only after done is closed
}

// startProcess runs bin with args, appending its stdout and stderr to the
// file at logPath. The child writes to the file directly, so no copying
// goroutine is involved.
func startProcess(bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("etcdtest: open log: %w", err)
	}
	// The child has its own copy of the descriptor once started.
	defer logFile.Close()

	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("etcdtest: start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// untilExit returns a context that is also cancelled when the process exits,
// so a probe of a server that died does not wait out its timeout (a port
// that another process listens on may accept connections and never answer).
// The caller must call cancel, which also ends the watching goroutine.
func (p *process) untilExit(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process. Sending to a process that has already
// exited is an error wrapping os.ErrProcessDone.
func (p *process) signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("etcdtest: send %v to pid %d: %w", sig, p.pid(), err)
	}
	return nil
}

// kill resumes the process in case it is stopped, sends it SIGKILL and waits
// until it has been reaped. Killing a process that has already exited is not
// an error.
func (p *process) kill() error {
	for _, sig := range []syscall.Signal{syscall.SIGCONT, syscall.SIGKILL} {
		if err := p.signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
	}
	timer := time.NewTimer(reapTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		return fmt.Errorf("etcdtest: pid %d not reaped %v after SIGKILL", p.pid(), reapTimeout)
	}
}
