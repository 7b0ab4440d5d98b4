package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStalledBodyFailsOver(t *testing.T) {
	checkGoroutines(t)
	stalled := newFakeMember(t, nil)
	stalled.setHandler(stalled.stallAfterHeaders())
	good := newFakeMember(t, reply(http.StatusOK, okBody))

	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 100 * time.Millisecond}, stalled.URL, good.URL)
	resp, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	if err != nil || resp.Node.Value != "v" {
		t.Fatalf("Get past a stalled body = %+v, %v", resp, err)
	}

	alone := newTestClient(t, Config{HeaderTimeoutPerRequest: 100 * time.Millisecond}, stalled.URL)
	_, err = NewKeysAPI(alone).Get(context.Background(), "/k", nil)
	if !errors.Is(err, ErrResponseStalled) || !errors.Is(err, ErrClusterUnavailable) {
		t.Fatalf("error = %v, want a ClusterError with ErrResponseStalled", err)
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		t.Fatal("a read reported an unknown outcome")
	}
}

func TestSlowButSteadyBodyIsNotCut(t *testing.T) {
	// 10 chunks 60 ms apart: longer than the timeout in total, but never
	// idle for as long as the timeout.
	slow := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		body := okBody + strings.Repeat(" ", 90)
		for i := 0; i < 10; i++ {
			w.Write([]byte(body[i*len(body)/10 : (i+1)*len(body)/10]))
			w.(http.Flusher).Flush()
			time.Sleep(60 * time.Millisecond)
		}
	})
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 200 * time.Millisecond}, slow.URL)
	if _, err := NewKeysAPI(c).Get(context.Background(), "/k", nil); err != nil {
		t.Fatalf("a steadily arriving body was cut: %v", err)
	}
}

func TestWriteOutcomeClassification(t *testing.T) {
	hanging := newFakeMember(t, nil)
	hanging.setHandler(hanging.hangForever())
	tests := []struct {
		name        string
		endpoint    string
		call        func(KeysAPI) error
		wantUnknown bool
	}{
		{"set, header timeout after sending", hanging.URL,
			func(k KeysAPI) error { _, err := k.Set(context.Background(), "/k", "v", nil); return err }, true},
		{"set, connection refused", refusedURL(t),
			func(k KeysAPI) error { _, err := k.Set(context.Background(), "/k", "v", nil); return err }, false},
		{"get, header timeout", hanging.URL,
			func(k KeysAPI) error { _, err := k.Get(context.Background(), "/k", nil); return err }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, Config{HeaderTimeoutPerRequest: 50 * time.Millisecond}, tt.endpoint)
			err := tt.call(NewKeysAPI(c))
			if !errors.Is(err, ErrClusterUnavailable) {
				t.Fatalf("error = %v, want a ClusterError", err)
			}
			if got := errors.Is(err, ErrOutcomeUnknown); got != tt.wantUnknown {
				t.Fatalf("errors.Is(err, ErrOutcomeUnknown) = %v, want %v (err: %v)", got, tt.wantUnknown, err)
			}
		})
	}
}

func TestClusterErrorDetailNamesEndpoints(t *testing.T) {
	down := refusedURL(t)
	eof := newFakeMember(t, closeConnection)
	c := newTestClient(t, Config{}, down, eof.URL)
	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	var cerr *ClusterError
	if !errors.As(err, &cerr) {
		t.Fatal(err)
	}
	detail := cerr.Detail()
	for _, ep := range []string{down, eof.URL} {
		if !strings.Contains(detail, ep) {
			t.Errorf("Detail() = %q does not name %s", detail, ep)
		}
	}
}

// TestWatchOnSilentMemberMovesOn: a member that accepts a watch and then
// says nothing, and answers nothing else either, is abandoned within two
// probe intervals; the watch continues on the next member from the same
// index.
func TestWatchOnSilentMemberMovesOn(t *testing.T) {
	checkGoroutines(t)
	silent := newFakeMember(t, nil)
	silent.setHandler(silent.hangForever())
	live := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			reply(http.StatusOK, `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`)(w, r)
			return
		}
		time.Sleep(500 * time.Millisecond) // a quiet key, then an event
		reply(http.StatusOK, `{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":8,"createdIndex":8}}`)(w, r)
	})
	c := newTestClient(t, Config{WatchProbeInterval: 100 * time.Millisecond}, silent.URL, live.URL)
	w := NewKeysAPI(c).Watcher("/k", &WatcherOptions{AfterIndex: 6})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("watch stuck on a silent member: %v", err)
	}
	if resp.Node.ModifiedIndex != 8 {
		t.Fatalf("event %+v", resp.Node)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to leave the silent member", d)
	}
	live.mu.Lock()
	var watches []string
	for _, r := range live.received {
		if r.URL.Path != "/version" {
			watches = append(watches, r.URL.RawQuery)
		}
	}
	live.mu.Unlock()
	if len(watches) != 1 || !strings.Contains(watches[0], "waitIndex=7") {
		t.Fatalf("watch requests on the live member: %q, want one with waitIndex=7", watches)
	}
	// The quiet, live member is not abandoned although its watch took
	// several probe intervals.
	if c.pinned != 1 {
		t.Fatalf("pinned = %d, want the live member", c.pinned)
	}
	c.Close()
}

func TestCloseEndsEverything(t *testing.T) {
	checkGoroutines(t)
	quiet := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			reply(http.StatusOK, `{}`)(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c, err := New(Config{Endpoints: []string{quiet.URL}, WatchProbeInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kapi := NewKeysAPI(c)
	done := make(chan error, 1)
	go func() {
		_, err := kapi.Watcher("/k", nil).Next(context.Background())
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // the watch and its probe run

	if err := c.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("watch ended without error on Close")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not end a waiting watch")
	}
	if _, err := kapi.Get(context.Background(), "/k", nil); err != ErrClientClosed {
		t.Fatalf("Get after Close = %v, want ErrClientClosed", err)
	}
	if err := c.(io.Closer).Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
