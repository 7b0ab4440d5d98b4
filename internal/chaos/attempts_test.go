package chaos

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestAttemptsCountWhatMayHaveReached: a write is counted when it was
// answered, or written whole before the connection failed, and not when
// its connection was refused; reads are never counted.
func TestAttemptsCountWhatMayHaveReached(t *testing.T) {
	answer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(answer.Close)
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The request was read whole; the connection ends unanswered.
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(drop.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()

	a := NewAttempts()
	t.Cleanup(a.Close)
	put := func(base, value string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPut, base+"/v2/keys/k", strings.NewReader(url.Values{"value": {value}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := a.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	put(answer.URL, "answered")
	put(drop.URL, "dropped")
	put(refused, "refused")
	put(refused, "answered")
	put(answer.URL, "answered")
	get, err := http.NewRequest(http.MethodGet, answer.URL+"/v2/keys/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := a.RoundTrip(get); err == nil {
		resp.Body.Close()
	}
	for value, want := range map[string]int{"answered": 2, "dropped": 1, "refused": 0} {
		if got := a.Reached(value); got != want {
			t.Errorf("Reached(%q) = %d, want %d", value, got, want)
		}
	}
}
