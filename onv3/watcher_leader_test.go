package onv3

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestWatchLeaderLoss: a member that loses its leader ends onv3's watch
// stream (the watch requires a leader) with the client still open. Next
// says so, both when it waits at that moment (etcd's reason arrives) and
// when it is called later (clientv3 has dropped the reason), and never that
// the client was closed; once a leader is back, the next Next resumes
// after the last delivered event. Only after the client's Close does Next
// say that the client was closed.
func TestWatchLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member cluster")
	}
	cl := etcdtest.StartCluster(t, etcdtest.Options{Size: 3, API: etcdtest.V3})
	members := cl.Members()
	url := members[0].ClientURL()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	k := NewKeysAPI(c, "/leader")
	ctx := testCtx(t)

	// others are the members the test stops, so that members[0] has no
	// leader; they run again at the end of the test.
	others := members[1:]
	t.Cleanup(func() {
		for _, m := range others {
			_ = m.Resume()
		}
	})
	loseLeader := func() {
		t.Helper()
		for _, m := range others {
			if err := m.Pause(); err != nil {
				t.Fatal(err)
			}
		}
		waitLeader(t, c, url, false)
	}
	regainLeader := func() {
		t.Helper()
		for _, m := range others {
			if err := m.Resume(); err != nil {
				t.Fatal(err)
			}
		}
		waitLeader(t, c, url, true)
	}
	checkEnded := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: Next succeeded without a leader", what)
		}
		t.Logf("%s: %v", what, err)
		msg := err.Error()
		if !strings.Contains(msg, "leader") || strings.Contains(msg, "client was closed") {
			t.Fatalf("%s: %v", what, err)
		}
	}

	first, err := k.Set(ctx, "/x", "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := k.Watcher("/x", &client.WatcherOptions{AfterIndex: first.Index - 1})
	if r, err := w.Next(ctx); err != nil || r.Node.Value != "1" {
		t.Fatalf("first event: %v, %v", r, err)
	}

	// Next waits while the member loses its leader: etcd's reason arrives.
	errc := make(chan error, 1)
	go func() {
		_, err := w.Next(ctx)
		errc <- err
	}()
	loseLeader()
	select {
	case err := <-errc:
		checkEnded("a waiting Next", err)
		if !errors.Is(err, rpctypes.ErrNoLeader) {
			t.Errorf("a waiting Next: %v does not wrap ErrNoLeader", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Next still waits 20 s after the member lost its leader")
	}

	regainLeader()
	second, err := k.Set(ctx, "/x", "2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Next(ctx); err != nil || r.Node.ModifiedIndex != second.Node.ModifiedIndex {
		t.Fatalf("Next after the leader came back: %v, %v (want the event at %d)", r, err, second.Node.ModifiedIndex)
	}

	// The member loses its leader while no Next waits and an event waits
	// in the watch channel's buffer: the stream ends (about three election
	// timeouts later) and clientv3, finding no room for the reason, drops
	// it after 250 ms and closes the channel. Next delivers the event, and
	// the Next after it still says what happened.
	pending, err := k.Set(ctx, "/x", "pending", nil)
	if err != nil {
		t.Fatal(err)
	}
	loseLeader()
	time.Sleep(5 * time.Second)
	nctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	if r, err := w.Next(nctx); err != nil || r.Node.ModifiedIndex != pending.Node.ModifiedIndex {
		t.Fatalf("the buffered event: %v, %v (want the event at %d)", r, err, pending.Node.ModifiedIndex)
	}
	_, err = w.Next(nctx)
	cancel()
	checkEnded("a later Next", err)

	regainLeader()
	third, err := k.Set(ctx, "/x", "3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Next(ctx); err != nil || r.Node.ModifiedIndex != third.Node.ModifiedIndex {
		t.Fatalf("Next after the leader came back again: %v, %v (want the event at %d)", r, err, third.Node.ModifiedIndex)
	}

	// Only the client's Close is reported as such.
	errc = make(chan error, 1)
	go func() {
		_, err := w.Next(ctx)
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "client was closed") {
			t.Fatalf("Next after the client's Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's Close did not end a waiting Next")
	}
}

// waitLeader waits until the member at url reports a leader (want) or
// none.
func waitLeader(t *testing.T, c *clientv3.Client, url string, want bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s, err := c.Status(ctx, url)
		cancel()
		if err == nil && (s.Leader != 0) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %s: leader present %v wanted for 30 s (last: %v, %v)", url, want, s, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
