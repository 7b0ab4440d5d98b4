package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrSharedMember is returned by the methods of the [Shared] member that
// would disturb other tests: Kill, Pause, Resume and Restart.
var ErrSharedMember = errors.New("etcdtest: the shared member must not be killed, paused or restarted")

// errNotRunning is returned when a member that has been killed or has exited
// is asked to pause or resume.
var errNotRunning = errors.New("etcdtest: member is not running")

// Member is one etcd server of a [Cluster]. Its methods are safe for
// concurrent use. Its name, URLs and data directory stay the same across
// [Member.Restart].
type Member struct {
	name      string
	clientURL string
	peerURL   string
	dataDir   string
	logPath   string

	bin            binary
	api            API      // the API the member was started to serve
	initialCluster string   // --initial-cluster value
	token          string   // --initial-cluster-token value
	extraFlags     []string // appended last, so they override ours
	shared         bool     // true for the Shared member

	mu     sync.Mutex
	proc   *process // current run; nil before the first start
	paused bool
}

// Name returns the member's etcd name (--name), unique among all members
// started by this package.
func (m *Member) Name() string { return m.name }

// Version returns the exact etcd version the member runs, for example
// "3.4.23".
func (m *Member) Version() string { return m.bin.version }

// API returns the API the member was started to serve. A [V2] member serves
// v3 as well.
func (m *Member) API() API { return m.api }

// ClientURL returns the URL clients use, for example "http://127.0.0.1:40123".
func (m *Member) ClientURL() string { return m.clientURL }

// PeerURL returns the URL the other members use to reach this one.
func (m *Member) PeerURL() string { return m.peerURL }

// DataDir returns the member's etcd data directory. It also holds the log
// file, etcd.log. It is removed when the cluster stops.
func (m *Member) DataDir() string { return m.dataDir }

// LogPath returns the file that receives the member's stdout and stderr,
// across restarts.
func (m *Member) LogPath() string { return m.logPath }

// PID returns the process id of the running etcd, or 0 if it is not running.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil || m.proc.exited() {
		return 0
	}
	return m.proc.pid()
}

// Running reports whether the member's process is alive (paused or not).
func (m *Member) Running() bool { return m.PID() != 0 }

// answering reports whether the member is running and not paused, that is
// whether a request to it can be expected to get an answer.
func (m *Member) answering() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc != nil && !m.proc.exited() && !m.paused
}

// Kill sends SIGKILL to the member (resuming it first if paused) and waits
// until the process has been reaped. Killing a member that is not running is
// not an error.
func (m *Member) Kill() error {
	if m.shared {
		return ErrSharedMember
	}
	return m.kill()
}

// kill is Kill without the shared-member guard.
func (m *Member) kill() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return nil
	}
	if err := m.proc.kill(); err != nil {
		return fmt.Errorf("etcdtest: kill %s: %w", m.name, err)
	}
	m.paused = false
	return nil
}

// Pause stops the member with SIGSTOP. A paused member still accepts TCP
// connections, but requests to it hang until [Member.Resume].
func (m *Member) Pause() error {
	return m.setPaused(true, syscall.SIGSTOP)
}

// Resume continues a paused member with SIGCONT.
func (m *Member) Resume() error {
	return m.setPaused(false, syscall.SIGCONT)
}

// setPaused sends sig and records the paused state.
func (m *Member) setPaused(paused bool, sig syscall.Signal) error {
	if m.shared {
		return ErrSharedMember
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil || m.proc.exited() {
		return fmt.Errorf("etcdtest: %v %s: %w", sig, m.name, errNotRunning)
	}
	if err := m.proc.signal(sig); err != nil {
		return err
	}
	m.paused = paused
	if paused {
		// kill(2) returns before the process's threads have stopped; under
		// load a request sent right after could still be served.
		return waitStopped(m.proc.pid(), 5*time.Second)
	}
	return nil
}

// Restart starts the member again after [Member.Kill] (or after it exited),
// with the same name, ports and data directory and
// --initial-cluster-state existing, and waits until it reports healthy. It
// fails if the member is still running, or if it does not become healthy
// within the start-up timeout; the error then ends with the log tail.
func (m *Member) Restart() error {
	if m.shared {
		return ErrSharedMember
	}
	if err := m.launch("existing"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := waitHealthy(ctx, []*Member{m}); err != nil {
		m.kill()
		return fmt.Errorf("etcdtest: restart %s: %w", m.name, err)
	}
	return nil
}

// launch starts a new process for the member. state is the value of
// --initial-cluster-state.
func (m *Member) launch(state string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil && !m.proc.exited() {
		return fmt.Errorf("etcdtest: start %s: already running as pid %d", m.name, m.proc.pid())
	}
	if m.proc != nil {
		m.appendLog(fmt.Sprintf("--- etcdtest: restarting %s at %s ---\n", m.name, time.Now().Format(time.RFC3339Nano)))
	}
	p, err := startProcess(m.bin.path, m.args(state), m.logPath)
	if err != nil {
		return err
	}
	m.proc, m.paused = p, false
	return nil
}

// args returns the etcd command line for the member. Versions differ: only
// 3.4 and 3.5 know --enable-v2, and 3.4 logs with capnslog unless told to
// use zap (3.5 and later only have zap).
func (m *Member) args(state string) []string {
	args := []string{
		"--name", m.name,
		"--data-dir", m.dataDir,
	}
	if m.api == V2 {
		args = append(args, "--enable-v2")
	}
	if _, minor, _ := seriesOf(m.bin.version); minor <= 4 {
		args = append(args, "--logger", "zap")
	}
	args = append(args,
		"--listen-client-urls", m.clientURL,
		"--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL,
		"--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", m.initialCluster,
		"--initial-cluster-token", m.token,
		"--initial-cluster-state", state,
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--log-outputs", "stderr",
		"--log-level", "error",
	)
	return append(args, m.extraFlags...)
}

// appendLog writes a marker line to the log file; failures only lose the
// marker.
func (m *Member) appendLog(line string) {
	f, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(line)
}

// exitError returns nil while the member's process runs, and otherwise an
// error describing how it ended, with the log tail. If the log shows a port
// was taken, the error wraps errAddrInUse.
func (m *Member) exitError() error {
	m.mu.Lock()
	p := m.proc
	m.mu.Unlock()
	if p == nil {
		return fmt.Errorf("etcdtest: %s: %w", m.name, errNotRunning)
	}
	if !p.exited() {
		return nil
	}
	tail := m.LogTail(logTailLines)
	err := fmt.Errorf("etcdtest: %s exited: %v%s", m.name, p.err, formatTail(tail))
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("%w: %w", errAddrInUse, err)
	}
	return err
}
