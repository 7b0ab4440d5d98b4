package client

import (
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMember is an in-process HTTP server standing in for an etcd member in
// the cases a real etcd cannot be made to show on demand: malformed bodies,
// hangs, odd statuses, redirects. It records the requests it receives.
type fakeMember struct {
	*httptest.Server
	requests atomic.Int64

	mu       sync.Mutex
	handler  http.HandlerFunc
	received []*http.Request
	bodies   []string
	release  chan struct{} // closed at cleanup to end hanging handlers
}

// newFakeMember starts a fake member answering with h; it is closed, and
// any handler still hanging released, when the test ends.
func newFakeMember(t testing.TB, h http.HandlerFunc) *fakeMember {
	t.Helper()
	f := &fakeMember{handler: h, release: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.release)
		f.Server.CloseClientConnections()
		f.Server.Close()
	})
	return f
}

func (f *fakeMember) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	var body strings.Builder
	if r.Body != nil {
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
	}
	f.mu.Lock()
	f.received = append(f.received, r)
	f.bodies = append(f.bodies, body.String())
	h := f.handler
	f.mu.Unlock()
	h(w, r.WithContext(r.Context()))
}

// setHandler replaces the answer for the following requests.
func (f *fakeMember) setHandler(h http.HandlerFunc) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

// lastRequest returns the most recent request and its body.
func (f *fakeMember) lastRequest(t testing.TB) (*http.Request, string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.received) == 0 {
		t.Fatal("fake member received no request")
	}
	return f.received[len(f.received)-1], f.bodies[len(f.bodies)-1]
}

// Canned answers.

// reply answers with status, etcd's JSON content type, X-Etcd-Index 7 and
// body.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Etcd-Index", "7")
		w.Header().Set("X-Etcd-Cluster-Id", "cafe")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

const okBody = `{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`

// hangForever accepts the request and never answers, until the test ends.
func (f *fakeMember) hangForever() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
	}
}

// stallAfterHeaders sends 200 headers, part of a body, then nothing more.
func (f *fakeMember) stallAfterHeaders() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"action":"get","node":`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
	}
}

// closeConnection drops the TCP connection without answering (an EOF).
func closeConnection(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// refusedURL returns a loopback URL on which nothing listens.
func refusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// newTestClient builds a client over the given endpoints in the given
// order (no shuffle), so that tests know which endpoint is pinned.
func newTestClient(t testing.TB, cfg Config, endpoints ...string) *httpClusterClient {
	t.Helper()
	if cfg.Transport == nil {
		tr := DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		cfg.Transport = tr
	}
	cfg.Endpoints = endpoints
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := c.(*httpClusterClient)
	eps, err := parseEndpoints(endpoints)
	if err != nil {
		t.Fatal(err)
	}
	hc.mu.Lock()
	hc.endpoints, hc.pinned = eps, 0
	hc.mu.Unlock()
	return hc
}

// checkGoroutines fails the test if, after the test and its cleanups, more
// goroutines run than before it started (allowing the runtime a moment to
// let finished ones exit).
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			now := runtime.NumGoroutine()
			if now <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, now, buf[:n])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
