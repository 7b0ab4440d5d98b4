package onv3

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// TestWatcherCloseEndsStream checks that Close ends the v3 watch on the
// server also when no Next is in progress: etcd's own count of watchers
// goes back to what it was before the watcher opened its stream.
func TestWatcherCloseEndsStream(t *testing.T) {
	m := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V3}).Members()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k := NewKeysAPI(newV3(t, m.ClientURL()), "/wc")
	before := serverWatchers(t, m.ClientURL())
	w := k.Watcher("/k", nil)
	if _, err := k.Set(ctx, "/k", "1", nil); err != nil {
		t.Fatal(err)
	}
	// A watch from now: Next opens the stream and waits for the next write.
	done := make(chan error, 1)
	go func() {
		_, err := w.Next(ctx)
		done <- err
	}()
	waitWatchers(t, m.ClientURL(), before+1)
	if _, err := k.Set(ctx, "/k", "3", nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Next: %v", err)
	}
	// No Next in progress now: Close alone must end the stream.
	w.(interface{ Close() error }).Close()
	waitWatchers(t, m.ClientURL(), before)
	if _, err := w.Next(ctx); err == nil || !strings.Contains(err.Error(), "watcher closed") {
		t.Fatalf("Next after Close: %v, want the watcher closed", err)
	}
}

// serverWatchers is etcd's gauge of open v3 watchers on the member at url.
func serverWatchers(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "etcd_debugging_mvcc_watcher_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("watcher gauge %q: %v", v, err)
			}
			return int(n)
		}
	}
	t.Fatal("etcd_debugging_mvcc_watcher_total not in /metrics")
	return 0
}

// waitWatchers waits until the member counts want open watchers.
func waitWatchers(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := serverWatchers(t, url)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd counts %d open watchers, want %d", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
