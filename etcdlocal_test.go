package client

// Temporary real-etcd launcher for this branch's tests, to be replaced by
// internal/etcdtest once it lands.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

type localMember struct {
	Name      string
	ClientURL string // the URL the tests reach the member at
	PeerURL   string
	// Listen and Advertise default to ClientURL.
	Listen    string
	Advertise string
	cmd       *exec.Cmd
	log       string
}

func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startLocalCluster starts n etcd members on loopback (after letting adjust
// change each member's client URLs) and waits until all are healthy.
func startLocalCluster(t *testing.T, n int, adjust func(i int, m *localMember)) []*localMember {
	t.Helper()
	bin := "/usr/bin/etcd"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("etcd not found: %v", err)
		}
		t.Skipf("etcd not found: %v", err)
	}
	ms := make([]*localMember, n)
	var initial []string
	for i := range ms {
		m := &localMember{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t, "127.0.0.1")),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t, "127.0.0.1")),
		}
		if adjust != nil {
			adjust(i, m)
		}
		if m.Listen == "" {
			m.Listen = m.ClientURL
		}
		if m.Advertise == "" {
			m.Advertise = m.ClientURL
		}
		ms[i] = m
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	token := fmt.Sprintf("t%d", time.Now().UnixNano())
	for _, m := range ms {
		dir := t.TempDir()
		cmd := exec.Command(bin,
			"--enable-v2",
			"--name", m.Name,
			"--data-dir", dir,
			"--listen-client-urls", m.Listen,
			"--advertise-client-urls", m.Advertise,
			"--listen-peer-urls", m.PeerURL,
			"--initial-advertise-peer-urls", m.PeerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-token", token,
			"--initial-cluster-state", "new",
			"--heartbeat-interval", "50",
			"--election-timeout", "500",
		)
		logf, err := os.Create(dir + "/etcd.log")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		m.log = logf.Name()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		m.cmd = cmd
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, m := range ms {
		for {
			resp, err := http.Get(m.ClientURL + "/health")
			if err == nil {
				var b [64]byte
				k, _ := resp.Body.Read(b[:])
				resp.Body.Close()
				if resp.StatusCode == 200 && strings.Contains(string(b[:k]), "true") {
					break
				}
			}
			select {
			case <-ctx.Done():
				out, _ := os.ReadFile(m.log)
				t.Fatalf("etcd %s not healthy: %v\n%s", m.Name, err, out)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return ms
}

func clientURLs(ms []*localMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ClientURL
	}
	return out
}
