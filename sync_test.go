package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// pinnedEndpoint is the endpoint c sends its next request to.
func pinnedEndpoint(c Client) string {
	hc := c.(*httpClusterClient)
	hc.mu.RLock()
	defer hc.mu.RUnlock()
	return hc.endpoints[hc.pinned].String()
}

func sortedEndpoints(c Client) []string {
	eps := c.Endpoints()
	sort.Strings(eps)
	return eps
}

func sortedCopy(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// hostRecorder records the host of every request sent.
type hostRecorder struct {
	CancelableTransport
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, req.URL.Host)
	h.mu.Unlock()
	return h.CancelableTransport.RoundTrip(req)
}

func TestSyncRealCluster(t *testing.T) {
	t.Parallel()
	cluster := etcdtest.Start(t, 3)
	ms := cluster.Members()
	all := sortedCopy(cluster.ClientURLs())

	t.Run("OneEndpointFindsAll", func(t *testing.T) {
		c := clientFor(t, Config{Endpoints: []string{ms[1].ClientURL()}})
		if err := c.Sync(boundedCtx(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := sortedEndpoints(c); fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("Endpoints() after Sync = %v, want %v", got, all)
		}
	})

	t.Run("RandomSpreadsPins", func(t *testing.T) {
		pins := map[string]int{}
		for i := 0; i < 30; i++ {
			c := clientFor(t, Config{Endpoints: []string{ms[0].ClientURL()}})
			if err := c.Sync(boundedCtx(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			pins[pinnedEndpoint(c)]++
		}
		// All 30 on one member has probability 3^-29.
		if len(pins) < 2 {
			t.Fatalf("30 clients all pinned %v", pins)
		}
		t.Logf("pins: %v", pins)
	})

	t.Run("RandomUnchangedSetKeepsPin", func(t *testing.T) {
		c := clientFor(t, Config{Endpoints: cluster.ClientURLs()})
		hc := c.(*httpClusterClient)
		hc.mu.Lock()
		hc.pinned = 2
		hc.mu.Unlock()
		before, pin := c.Endpoints(), pinnedEndpoint(c)
		if err := c.Sync(boundedCtx(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(c.Endpoints()) != fmt.Sprint(before) || pinnedEndpoint(c) != pin {
			t.Fatalf("Sync of an unchanged set moved endpoints %v → %v, pin %s → %s",
				before, c.Endpoints(), pin, pinnedEndpoint(c))
		}
	})

	t.Run("LeaderFirstPinsLeader", func(t *testing.T) {
		for _, start := range ms {
			rec := &hostRecorder{CancelableTransport: DefaultTransport}
			c := clientFor(t, Config{
				Endpoints:     []string{start.ClientURL()},
				SelectionMode: EndpointSelectionPrioritizeLeader,
				Transport:     rec,
			})
			ctx := boundedCtx(t, 10*time.Second)
			if err := c.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			leader, err := NewMembersAPI(c).Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := pinnedEndpoint(c); got != leader.ClientURLs[0] {
				t.Fatalf("pinned %s, leader is %s", got, leader.ClientURLs[0])
			}
			if got := sortedEndpoints(c); fmt.Sprint(got) != fmt.Sprint(all) {
				t.Fatalf("Endpoints() = %v, want %v", got, all)
			}
			rec.mu.Lock()
			rec.hosts = nil
			rec.mu.Unlock()
			kAPI := NewKeysAPI(c)
			for i := 0; i < 10; i++ {
				if _, err := kAPI.Set(ctx, "/sync-leader-first", fmt.Sprint(i), nil); err != nil {
					t.Fatal(err)
				}
			}
			lu, _ := url.Parse(leader.ClientURLs[0])
			rec.mu.Lock()
			for _, h := range rec.hosts {
				if h != lu.Host {
					t.Errorf("request went to %s, leader is %s", h, lu.Host)
				}
			}
			rec.mu.Unlock()
		}
	})

	t.Run("UnknownMode", func(t *testing.T) {
		c := clientFor(t, Config{Endpoints: cluster.ClientURLs(), SelectionMode: 7})
		err := c.Sync(boundedCtx(t, 5*time.Second))
		if err == nil || err.Error() != "invalid endpoint selection mode: 7" {
			t.Fatalf("Sync in mode 7: %v", err)
		}
	})

	t.Run("AutoSyncStopsOnCancel", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			ctx  func() (context.Context, context.CancelFunc)
			want error
		}{
			{"cancel", func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(300*time.Millisecond, cancel)
				return ctx, cancel
			}, context.Canceled},
			{"deadline", func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			}, context.DeadlineExceeded},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := clientFor(t, Config{Endpoints: []string{ms[0].ClientURL()}})
				ctx, cancel := tc.ctx()
				defer cancel()
				start := time.Now()
				err := c.AutoSync(ctx, 50*time.Millisecond)
				if err != tc.want {
					t.Fatalf("AutoSync returned %v, want %v", err, tc.want)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Fatalf("AutoSync took %v to stop", d)
				}
				if got := sortedEndpoints(c); fmt.Sprint(got) != fmt.Sprint(all) {
					t.Fatalf("Endpoints() = %v, want %v", got, all)
				}
			})
		}
	})

	// Last: it changes the cluster.
	t.Run("AutoSyncFollowsRemoval", func(t *testing.T) {
		c := clientFor(t, Config{Endpoints: cluster.ClientURLs()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.AutoSync(ctx, 100*time.Millisecond) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != context.Canceled {
				t.Errorf("AutoSync returned %v, want context.Canceled", err)
			}
		})

		mAPI := NewMembersAPI(c)
		members, err := mAPI.List(boundedCtx(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		leader, err := mAPI.Leader(boundedCtx(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var victim Member
		for _, m := range members {
			if m.ID != leader.ID {
				victim = m
				break
			}
		}
		// Like Add, Remove is refused with 500 for about 5 s after the
		// cluster started (strict reconfig check).
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			err = mAPI.Remove(boundedCtx(t, 10*time.Second), victim.ID)
			if !errors.Is(err, ErrClusterUnavailable) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("Remove %s: %v", victim.Name, err)
		}
		var want []string
		for _, u := range all {
			if u != victim.ClientURLs[0] {
				want = append(want, u)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for fmt.Sprint(sortedEndpoints(c)) != fmt.Sprint(want) {
			if time.Now().After(deadline) {
				t.Fatalf("Endpoints() = %v, want %v after removing %s", c.Endpoints(), want, victim.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// nameDialer returns a transport that dials name:port as 127.0.0.1:port,
// as a DNS name or a port mapping would lead a client to a member, while
// all traffic stays on loopback.
func nameDialer(name string) *http.Transport {
	var d net.Dialer
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if host == name {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}}
}

// TestSyncKeepsReachableEndpoints reproduces etcd-io/etcd#7588 on one
// machine. The client reaches a real member by a non-loopback name (which
// its dialer maps to the member's loopback port, as DNS and a port mapping
// would), while the member advertises a loopback client URL that nothing
// serves, as a member in a container advertising localhost does. Upstream's
// Sync would switch the client to the advertised URL and every later
// request would fail; ours keeps the configured endpoint.
func TestSyncKeepsReachableEndpoints(t *testing.T) {
	t.Parallel()
	const advertised = "http://127.0.0.1:1"
	cluster := etcdtest.StartWithFlags(t, 1, "--advertise-client-urls", advertised)
	member, err := url.Parse(cluster.Members()[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	if resp, err := hc.Get(advertised + "/version"); err == nil {
		resp.Body.Close()
		t.Fatalf("advertised URL %s answers here; the setup does not reproduce the issue", advertised)
	}
	const name = "etcd-member.example"
	transport := nameDialer(name)
	t.Cleanup(transport.CloseIdleConnections)
	configured := "http://" + net.JoinHostPort(name, member.Port())

	for _, mode := range []EndpointSelectionMode{EndpointSelectionRandom, EndpointSelectionPrioritizeLeader} {
		c := clientFor(t, Config{Endpoints: []string{configured}, SelectionMode: mode, Transport: transport})
		ctx := boundedCtx(t, 5*time.Second)
		members, err := NewMembersAPI(c).List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 1 || fmt.Sprint(members[0].ClientURLs) != fmt.Sprint([]string{advertised}) {
			t.Fatalf("members = %+v, want one advertising %s", members, advertised)
		}
		if err := c.Sync(ctx); err != nil {
			t.Fatalf("mode %d: Sync: %v", mode, err)
		}
		if got := c.Endpoints(); fmt.Sprint(got) != fmt.Sprint([]string{configured}) {
			t.Fatalf("mode %d: Endpoints() = %v, want the configured %s", mode, got, configured)
		}
		if _, err := NewKeysAPI(c).Set(ctx, etcdtest.UniquePrefix(t)+"/k", "v", nil); err != nil {
			t.Fatalf("mode %d: request after Sync: %v", mode, err)
		}
	}

	// The same client configured with the member's loopback URL follows
	// the advertised URL, as upstream: both name this machine.
	c := clientFor(t, Config{Endpoints: []string{member.String()}})
	if err := c.Sync(boundedCtx(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoints(); fmt.Sprint(got) != fmt.Sprint([]string{advertised}) {
		t.Fatalf("loopback-configured client: Endpoints() = %v, want %s", got, advertised)
	}
}

// TestSyncLoopbackRule checks which endpoints count as loopback and that a
// client configured with loopback endpoints follows every advertised URL,
// against a fake members endpoint.
func TestSyncLoopbackRule(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://localhost:2379", true},
		{"http://LOCALHOST.:2379", true},
		{"http://etcd.localhost:2379", true},
		{"http://127.0.0.1:2379", true},
		{"http://127.1.2.3:2379", true},
		{"https://[::1]:2379", true},
		{"http://[::ffff:127.0.0.1]:2379", true},
		{"http://0.0.0.0:2379", true},
		{"http://[::]:2379", true},
		{"http://192.0.2.2:2379", false},
		{"http://[fd00::2]:2379", false},
		{"http://localhost.example.com:2379", false},
		{"http://etcd:2379", false},
		{"unix://localhost:2379", false},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopbackEndpoint(u); got != tc.want {
			t.Errorf("isLoopbackEndpoint(%s) = %v, want %v", tc.url, got, tc.want)
		}
	}

	advertised := []string{"http://127.0.0.1:1", "http://192.0.2.50:2379", "http://localhost:3"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`{"members":[`)
		for i, u := range advertised {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"id":"%d","name":"m%d","peerURLs":[],"clientURLs":[%q]}`, i+1, i, u)
		}
		b.WriteString(`]}`)
		w.Write([]byte(b.String()))
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name       string
		configured []string
		want       []string
	}{
		// The fake listens on loopback: a local client follows everything.
		{"loopback configured", []string{srv.URL}, sortedCopy(advertised)},
		// A remote endpoint configured (and the fake as well): only the
		// remote advertised URL stays.
		{"remote configured", []string{srv.URL, "http://192.0.2.99:2379"}, []string{"http://192.0.2.50:2379"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientFor(t, Config{Endpoints: tc.configured})
			// Pin the fake so that Sync asks it.
			hc := c.(*httpClusterClient)
			hc.mu.Lock()
			for i := range hc.endpoints {
				if hc.endpoints[i].String() == srv.URL {
					hc.pinned = i
				}
			}
			hc.mu.Unlock()
			if err := c.Sync(boundedCtx(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			if got := sortedEndpoints(c); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Endpoints() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSyncLeaderFirstNoLeader: leader lookup failure is ErrNoLeaderEndpoint
// and changes nothing.
func TestSyncLeaderFirstNoLeader(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/leader") {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"message":"During election"}`))
			return
		}
		fmt.Fprintf(w, `{"members":[{"id":"1","name":"m","peerURLs":[],"clientURLs":[%q,"http://127.0.0.1:1"]}]}`, srvURL)
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	c := clientFor(t, Config{Endpoints: []string{srv.URL}, SelectionMode: EndpointSelectionPrioritizeLeader})
	err := c.Sync(boundedCtx(t, 5*time.Second))
	if !errors.Is(err, ErrNoLeaderEndpoint) || err != ErrNoLeaderEndpoint {
		t.Fatalf("Sync = %v, want ErrNoLeaderEndpoint", err)
	}
	if got := c.Endpoints(); fmt.Sprint(got) != fmt.Sprint([]string{srv.URL}) {
		t.Fatalf("failed Sync changed the endpoints to %v", got)
	}
}
