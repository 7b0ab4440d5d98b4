// Package etcdrun starts a real, single-member etcd for a test or
// benchmark: free loopback ports, a temporary data directory, the v2 API
// enabled, and the process killed when the test ends.
package etcdrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ErrNotFound means no etcd binary was found.
var ErrNotFound = errors.New("etcdrun: etcd binary not found (set ETCD_BIN or put etcd on PATH)")

// Binary returns the etcd binary to run: $ETCD_BIN, else etcd on PATH,
// else /usr/bin/etcd.
func Binary() (string, error) {
	if p := os.Getenv("ETCD_BIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd", nil
	}
	return "", ErrNotFound
}

// Etcd is a running etcd process.
type Etcd struct {
	// URL is the client URL, e.g. http://127.0.0.1:41234.
	URL string
	cmd *exec.Cmd
}

// Require starts an etcd for tb and registers its shutdown with
// tb.Cleanup. When no etcd binary exists it skips tb, or fails it when the
// CI environment variable is "true" (so CI cannot silently lose coverage)
// and failInCI is set.
func Require(tb testing.TB, failInCI bool) *Etcd {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		if failInCI && os.Getenv("CI") == "true" {
			tb.Fatal(err)
		}
		tb.Skip(err)
	}
	var lastErr error
	// Free ports are picked before etcd binds them; another process may
	// take one in between, so try a few times.
	for range 3 {
		e, err := start(tb, bin)
		if err == nil {
			return e
		}
		lastErr = err
	}
	tb.Fatal(lastErr)
	return nil
}

func start(tb testing.TB, bin string) (*Etcd, error) {
	client, peer := freePort(), freePort()
	if client == "" || peer == "" {
		return nil, errors.New("etcdrun: no free port")
	}
	dir := tb.TempDir()
	clientURL := "http://" + client
	cmd := exec.Command(bin,
		"--name", "bench",
		"--enable-v2",
		"--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", clientURL,
		"--advertise-client-urls", clientURL,
		"--listen-peer-urls", "http://"+peer,
		"--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "bench=http://"+peer,
	)
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	e := &Etcd{URL: clientURL, cmd: cmd}
	if err := waitReady(clientURL, exited); err != nil {
		stop()
		log, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("%w; log tail:\n%s", err, tail(string(log), 2000))
	}
	tb.Cleanup(stop)
	return e, nil
}

// waitReady polls the v2 keys endpoint until it answers, the process
// exits, or ten seconds pass.
func waitReady(url string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v2/keys/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("etcdrun: etcd exited before serving: %v", err)
		case <-ctx.Done():
			return errors.New("etcdrun: etcd not ready after 10s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a loopback host:port nothing listens on right now.
func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	defer l.Close()
	return l.Addr().String()
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
