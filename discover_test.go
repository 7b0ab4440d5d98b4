package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkGroups checks endpoints got against want: got must be the
// concatenation of want's groups in order, each group in any order (records
// of one priority are shuffled by weight).
func checkGroups(t *testing.T, got []string, want [][]string) {
	t.Helper()
	var n int
	for _, g := range want {
		n += len(g)
	}
	if len(got) != n {
		t.Fatalf("got %d endpoints %q, want %d in groups %q", len(got), got, n, want)
	}
	rest := got
	for i, g := range want {
		part := slices.Clone(rest[:len(g)])
		rest = rest[len(g):]
		wantPart := slices.Clone(g)
		slices.Sort(part)
		slices.Sort(wantPart)
		if !slices.Equal(part, wantPart) {
			t.Fatalf("endpoints %q: group %d is %q, want (in any order) %q", got, i, part, wantPart)
		}
	}
}

// each wraps every endpoint in its own group: a fully ordered expectation.
func each(endpoints ...string) [][]string {
	groups := make([][]string, len(endpoints))
	for i, ep := range endpoints {
		groups[i] = []string{ep}
	}
	return groups
}

func TestSRVDiscover(t *testing.T) {
	tests := []struct {
		name        string
		zone        map[string][]srvRecord
		domain      string // "example.com" if empty
		serviceName string
		want        [][]string
		// wantErr lists substrings of the expected error; nil: no error.
		wantErr []string
	}{
		{
			name: "ssl only",
			zone: map[string][]srvRecord{
				"_etcd-client-ssl._tcp.example.com": {{Port: 2379, Target: "infra0.example.com"}},
			},
			want: each("https://infra0.example.com.:2379"),
		},
		{
			name: "plain only",
			zone: map[string][]srvRecord{
				"_etcd-client._tcp.example.com": {{Port: 2379, Target: "infra0.example.com"}},
			},
			want: each("http://infra0.example.com.:2379"),
		},
		{
			name: "both, https first, each by priority",
			zone: map[string][]srvRecord{
				"_etcd-client._tcp.example.com": {
					{Priority: 5, Port: 4001, Target: "plain1.example.com"},
					{Priority: 0, Port: 2379, Target: "plain0.example.com"},
				},
				"_etcd-client-ssl._tcp.example.com": {
					{Priority: 10, Port: 2380, Target: "tls1.example.com"},
					{Priority: 0, Port: 2379, Target: "tls0.example.com"},
				},
			},
			want: each(
				"https://tls0.example.com.:2379",
				"https://tls1.example.com.:2380",
				"http://plain0.example.com.:2379",
				"http://plain1.example.com.:4001",
			),
		},
		{
			name: "service name suffix",
			zone: map[string][]srvRecord{
				"_etcd-client._tcp.example.com":         {{Port: 1, Target: "plain.example.com"}},
				"_etcd-client-ssl._tcp.example.com":     {{Port: 2, Target: "tls.example.com"}},
				"_etcd-client-foo._tcp.example.com":     {{Port: 3, Target: "plain-foo.example.com"}},
				"_etcd-client-ssl-foo._tcp.example.com": {{Port: 4, Target: "tls-foo.example.com"}},
			},
			serviceName: "foo",
			want:        each("https://tls-foo.example.com.:4", "http://plain-foo.example.com.:3"),
		},
		{
			name: "service name with no records does not fall back",
			zone: map[string][]srvRecord{
				"_etcd-client._tcp.example.com":     {{Port: 1, Target: "plain.example.com"}},
				"_etcd-client-ssl._tcp.example.com": {{Port: 2, Target: "tls.example.com"}},
			},
			serviceName: "bar",
			wantErr: []string{
				"dns lookup errors: ",
				"_etcd-client-ssl-bar._tcp.example.com",
				"_etcd-client-bar._tcp.example.com",
				"no such host",
			},
		},
		{
			name: "neither",
			zone: map[string][]srvRecord{
				"_etcd-server._tcp.example.com": {{Port: 2380, Target: "peer.example.com"}},
			},
			wantErr: []string{
				"dns lookup errors: ",
				"_etcd-client-ssl._tcp.example.com",
				" and ",
				"_etcd-client._tcp.example.com",
				"no such host",
			},
		},
		{
			name: "names without SRV records count as failed",
			zone: map[string][]srvRecord{
				"_etcd-client._tcp.example.com":     {},
				"_etcd-client-ssl._tcp.example.com": {},
			},
			wantErr: []string{"dns lookup errors: ", "_etcd-client-ssl._tcp", "_etcd-client._tcp"},
		},
		{
			name: "priorities ordered, weights shuffled within a priority",
			zone: map[string][]srvRecord{
				"_etcd-client._tcp.example.com": {
					{Priority: 20, Weight: 0, Port: 2379, Target: "e.example.com"},
					{Priority: 10, Weight: 10, Port: 2379, Target: "b.example.com"},
					{Priority: 20, Weight: 0, Port: 2379, Target: "f.example.com"},
					{Priority: 5, Weight: 1, Port: 2379, Target: "a.example.com"},
					{Priority: 10, Weight: 30, Port: 2379, Target: "d.example.com"},
					{Priority: 10, Weight: 20, Port: 2379, Target: "c.example.com"},
				},
			},
			want: [][]string{
				{"http://a.example.com.:2379"},
				{"http://b.example.com.:2379", "http://c.example.com.:2379", "http://d.example.com.:2379"},
				{"http://e.example.com.:2379", "http://f.example.com.:2379"},
			},
		},
		{
			name: "trailing dot kept, target case kept",
			zone: map[string][]srvRecord{
				"_etcd-client-ssl._tcp.example.com": {{Port: 2379, Target: "Infra0.Example.COM."}},
			},
			want: each("https://Infra0.Example.COM.:2379"),
		},
		{
			name:   "fully qualified domain",
			domain: "example.com.",
			zone: map[string][]srvRecord{
				"_etcd-client-ssl._tcp.example.com": {{Port: 2379, Target: "infra0.example.com"}},
			},
			want: each("https://infra0.example.com.:2379"),
		},
		{
			name: "malformed target fails its whole lookup",
			zone: map[string][]srvRecord{
				"_etcd-client-ssl._tcp.example.com": {
					{Priority: 0, Port: 2379, Target: "10.0.0.1"}, // all-numeric: not a host name
					{Priority: 1, Port: 2379, Target: "tls.example.com"},
				},
				"_etcd-client._tcp.example.com": {{Port: 2379, Target: "plain.example.com"}},
			},
			want: each("http://plain.example.com.:2379"),
		},
		{
			name: "root target passed through",
			zone: map[string][]srvRecord{
				"_etcd-client-ssl._tcp.example.com": {{Port: 2379, Target: "."}},
			},
			want: each("https://.:2379"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startTestDNS(t, testDNSConfig{Zone: tt.zone})
			d := NewSRVDiscoverWithResolver(srv.Resolver())
			domain := tt.domain
			if domain == "" {
				domain = "example.com"
			}
			// Several rounds, so that a wrong assumption about the weight
			// shuffle shows up.
			for range 10 {
				got, err := d.Discover(domain, tt.serviceName)
				if tt.wantErr != nil {
					if err == nil {
						t.Fatalf("Discover = %q, nil; want an error", got)
					}
					if got != nil {
						t.Errorf("Discover returned endpoints %q with its error", got)
					}
					for _, s := range tt.wantErr {
						if !strings.Contains(err.Error(), s) {
							t.Errorf("error %q does not contain %q", err, s)
						}
					}
					var dnsErr *net.DNSError
					if !errors.As(err, &dnsErr) {
						t.Errorf("error %q wraps no *net.DNSError", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Discover: %v", err)
				}
				checkGroups(t, got, tt.want)
			}
		})
	}
}

// TestSRVDiscoverErrorText pins the upstream error text, built from both
// lookups' errors in order (https, then http).
func TestSRVDiscoverErrorText(t *testing.T) {
	srv := startTestDNS(t, testDNSConfig{})
	r := srv.Resolver()
	_, _, errHTTPS := r.LookupSRV(context.Background(), "etcd-client-ssl", "tcp", "example.com")
	_, _, errHTTP := r.LookupSRV(context.Background(), "etcd-client", "tcp", "example.com")
	if errHTTPS == nil || errHTTP == nil {
		t.Fatalf("lookups in an empty zone: %v, %v; want errors", errHTTPS, errHTTP)
	}
	_, err := NewSRVDiscoverWithResolver(r).Discover("example.com", "")
	want := fmt.Sprintf("dns lookup errors: %s and %s", errHTTPS, errHTTP)
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("errors.As(*net.DNSError) = %+v, want IsNotFound", dnsErr)
	}
}

// TestSRVDiscoverTCPFallback serves answers too big for one UDP message: the
// resolver gets them truncated and must repeat the query over TCP.
func TestSRVDiscoverTCPFallback(t *testing.T) {
	bigRecords := func(n int) []srvRecord {
		recs := make([]srvRecord, n)
		for i := range recs {
			recs[i] = srvRecord{Priority: uint16(i), Port: 2379, Target: fmt.Sprintf("etcd-member-%02d.example.com", i)}
		}
		return recs
	}
	tests := []struct {
		name       string
		maxUDPSize int
		records    int
	}{
		// Go's resolver advertises a 1232-byte EDNS(0) buffer; 50 records of
		// about 35 bytes each exceed it.
		{name: "beyond the EDNS(0) size", records: 50},
		// A server that ignores EDNS(0) truncates at 512 bytes.
		{name: "beyond 512 bytes", maxUDPSize: 512, records: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs := bigRecords(tt.records)
			srv := startTestDNS(t, testDNSConfig{
				Zone:       map[string][]srvRecord{"_etcd-client-ssl._tcp.example.com": recs},
				MaxUDPSize: tt.maxUDPSize,
			})
			got, err := NewSRVDiscoverWithResolver(srv.Resolver()).Discover("example.com", "")
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			want := make([]string, len(recs))
			for i, r := range recs {
				want[i] = "https://" + r.Target + ".:2379"
			}
			checkGroups(t, got, each(want...))
			var tcp bool
			for _, q := range srv.Queries() {
				if q.Network == "tcp" && q.Name == "_etcd-client-ssl._tcp.example.com." {
					tcp = true
				}
			}
			if !tcp {
				t.Errorf("no TCP query; queries: %+v", srv.Queries())
			}
		})
	}
}

// TestSRVDiscoverUnresponsiveServer checks that Discover gives up at its
// deadline when the name server never answers, well before the resolver's
// own retries (5 s per query, 2 attempts by default) would.
func TestSRVDiscoverUnresponsiveServer(t *testing.T) {
	t.Parallel()
	srv := startTestDNS(t, testDNSConfig{Silent: true})
	const timeout = 300 * time.Millisecond
	d := &srvDiscover{resolver: srv.Resolver(), timeout: timeout}
	start := time.Now()
	got, err := d.Discover("example.com", "")
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("Discover = %q, nil; want an error", got)
	}
	if elapsed < timeout || elapsed > timeout+2*time.Second {
		t.Errorf("Discover took %v, want about %v", elapsed, timeout)
	}
	for _, s := range []string{"dns lookup errors: ", "_etcd-client-ssl._tcp.example.com", "_etcd-client._tcp.example.com"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsTimeout {
		t.Errorf("error %q: errors.As(*net.DNSError) = %+v, want IsTimeout", err, dnsErr)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q is not context.DeadlineExceeded", err)
	}
	// Both lookups were sent, concurrently: each got the whole deadline.
	names := map[string]bool{}
	for _, q := range srv.Queries() {
		names[q.Name] = true
	}
	if !names["_etcd-client-ssl._tcp.example.com."] || !names["_etcd-client._tcp.example.com."] {
		t.Errorf("queries %+v, want both names", srv.Queries())
	}
}

// TestSRVDiscoverConcurrent runs Discover from several goroutines on one
// Discoverer (run with -race).
func TestSRVDiscoverConcurrent(t *testing.T) {
	t.Parallel()
	srv := startTestDNS(t, testDNSConfig{Zone: map[string][]srvRecord{
		"_etcd-client-ssl._tcp.example.com": {{Port: 2379, Target: "infra0.example.com"}},
	}})
	d := NewSRVDiscoverWithResolver(srv.Resolver())
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := d.Discover("example.com", "")
			if err != nil || len(got) != 1 || got[0] != "https://infra0.example.com.:2379" {
				t.Errorf("Discover = %q, %v", got, err)
			}
		}()
	}
	wg.Wait()
}

func TestNewSRVDiscoverDefaults(t *testing.T) {
	d, ok := NewSRVDiscover().(*srvDiscover)
	if !ok {
		t.Fatalf("NewSRVDiscover returned %T", NewSRVDiscover())
	}
	if d.res() != net.DefaultResolver {
		t.Errorf("NewSRVDiscover resolves with %p, want net.DefaultResolver", d.res())
	}
	if d.timeout != defaultSRVTimeout || defaultSRVTimeout != 10*time.Second {
		t.Errorf("timeout = %v, want 10s", d.timeout)
	}
	r := &net.Resolver{PreferGo: true}
	if got := NewSRVDiscoverWithResolver(r).(*srvDiscover).res(); got != r {
		t.Errorf("NewSRVDiscoverWithResolver(r) resolves with %p, want r (%p)", got, r)
	}
	if got := NewSRVDiscoverWithResolver(nil).(*srvDiscover).res(); got != net.DefaultResolver {
		t.Errorf("NewSRVDiscoverWithResolver(nil) resolves with %p, want net.DefaultResolver", got)
	}
}

func TestSRVRecordName(t *testing.T) {
	tests := []struct {
		scheme, domain, serviceName, want string
	}{
		{"https", "example.com", "", "_etcd-client-ssl._tcp.example.com"},
		{"http", "example.com", "", "_etcd-client._tcp.example.com"},
		{"https", "example.com", "foo", "_etcd-client-ssl-foo._tcp.example.com"},
		{"http", "example.com", "foo", "_etcd-client-foo._tcp.example.com"},
		{"https", "example.com.", "", "_etcd-client-ssl._tcp.example.com."},
		{"http", "", "", "_etcd-client._tcp."},
	}
	for _, tt := range tests {
		if got := srvRecordName(tt.scheme, tt.domain, tt.serviceName); got != tt.want {
			t.Errorf("srvRecordName(%q, %q, %q) = %q, want %q", tt.scheme, tt.domain, tt.serviceName, got, tt.want)
		}
	}
}

func TestTrimHostDot(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://infra0.example.com.:2379", "https://infra0.example.com:2379"},
		{"http://infra0.example.com.", "http://infra0.example.com"},
		{"http://infra0.example.com:2379", "http://infra0.example.com:2379"},
		{"https://.:2379", "https://.:2379"},
		{"http://[::1]:2379", "http://[::1]:2379"},
		{"http://user@infra0.example.com.:2379/prefix", "http://user@infra0.example.com:2379/prefix"},
		{"::not a url", "::not a url"},
	}
	for _, tt := range tests {
		if got := trimHostDot(tt.in); got != tt.want {
			t.Errorf("trimHostDot(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// discoverFunc adapts a function to Discoverer.
type discoverFunc func(domain, serviceName string) ([]string, error)

func (f discoverFunc) Discover(domain, serviceName string) ([]string, error) {
	return f(domain, serviceName)
}

func TestTrimTrailingDot(t *testing.T) {
	t.Parallel()
	srv := startTestDNS(t, testDNSConfig{Zone: map[string][]srvRecord{
		"_etcd-client-ssl-foo._tcp.example.com": {{Port: 2379, Target: "infra0.example.com"}},
		"_etcd-client-foo._tcp.example.com":     {{Port: 4001, Target: "infra1.example.com"}},
	}})
	got, err := TrimTrailingDot(NewSRVDiscoverWithResolver(srv.Resolver())).Discover("example.com", "foo")
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	checkGroups(t, got, each("https://infra0.example.com:2379", "http://infra1.example.com:4001"))

	wantErr := errors.New("boom")
	var gotDomain, gotService string
	failing := discoverFunc(func(domain, serviceName string) ([]string, error) {
		gotDomain, gotService = domain, serviceName
		return nil, wantErr
	})
	eps, err := TrimTrailingDot(failing).Discover("d", "s")
	if eps != nil || err != wantErr {
		t.Errorf("Discover = %q, %v; want nil, %v", eps, err, wantErr)
	}
	if gotDomain != "d" || gotService != "s" {
		t.Errorf("wrapped Discover got (%q, %q), want (\"d\", \"s\")", gotDomain, gotService)
	}
}
