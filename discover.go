package client

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Discoverer is an interface that wraps the Discover method.
type Discoverer interface {
	// Discover looks up the etcd servers for the domain.
	Discover(domain string, serviceName string) ([]string, error)
}

// NewSRVDiscover constructs a new Discoverer that uses the stdlib to lookup
// SRV records. It is NewSRVDiscoverWithResolver(nil): lookups go through
// net.DefaultResolver.
//
// Discover(domain, serviceName) looks up two SRV names, always both:
//
//	_etcd-client-ssl[-serviceName]._tcp.<domain>  →  https://<target>:<port>
//	_etcd-client[-serviceName]._tcp.<domain>      →  http://<target>:<port>
//
// It returns the https endpoints first, then the http ones, each group in the
// order the resolver returns the records: lower priority first, and within a
// priority shuffled by weight (RFC 2782), so that order may differ between
// calls. The host is the record's target exactly as the resolver reports it,
// which for Go's resolvers is fully qualified with a trailing dot
// ("https://infra0.example.com.:2379"), as the upstream client returns it;
// wrap the Discoverer with TrimTrailingDot to drop the dot. A target of "."
// (RFC 2782: "service decidedly not available") is returned as any other,
// as upstream.
//
// A failed lookup of one name is ignored when the other succeeds, so a
// domain with only https or only http records works. When both fail, Discover
// returns nil and an error whose text is
// "dns lookup errors: <https error> and <http error>" and which wraps both
// (typically *net.DNSError values; use errors.As). A lookup whose answer
// holds a malformed target fails as a whole, even if other records in it are
// well-formed. Go's resolver reports a name that exists but holds no SRV
// record as "no such host", like a missing name.
//
// Discover blocks for at most 10 seconds: the two lookups run concurrently
// under one context with that deadline, and the resolver's own per-query
// timeouts and retries apply within it. The Discoverer is safe for concurrent
// use.
func NewSRVDiscover() Discoverer {
	return NewSRVDiscoverWithResolver(nil)
}

// NewSRVDiscoverWithResolver is NewSRVDiscover with lookups going through r
// instead of net.DefaultResolver; a nil r means net.DefaultResolver, read at
// each Discover call. Use it to pick the pure-Go resolver (PreferGo), to send
// queries to a specific name server through r.Dial, or to test against a
// local DNS server. Discover behaves as documented on NewSRVDiscover. The
// Discoverer does not modify r; r must not be modified while in use.
func NewSRVDiscoverWithResolver(r *net.Resolver) Discoverer {
	return &srvDiscover{resolver: r, timeout: defaultSRVTimeout}
}

// srvDiscover is the Discoverer returned by NewSRVDiscover and
// NewSRVDiscoverWithResolver.
type srvDiscover struct {
	resolver *net.Resolver // nil: net.DefaultResolver
	timeout  time.Duration // bound on one Discover call
}

// res returns the resolver to use for one Discover call.
func (d *srvDiscover) res() *net.Resolver {
	if d.resolver != nil {
		return d.resolver
	}
	return net.DefaultResolver
}

// Discover implements Discoverer; see NewSRVDiscover.
func (d *srvDiscover) Discover(domain string, serviceName string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	r := d.res()

	type result struct {
		urls []string
		err  error
	}
	httpsDone := make(chan result, 1)
	go func() {
		urls, err := lookupSRVURLs(ctx, r, "https", srvRecordName("https", domain, serviceName))
		httpsDone <- result{urls, err}
	}()
	httpURLs, errHTTP := lookupSRVURLs(ctx, r, "http", srvRecordName("http", domain, serviceName))
	https := <-httpsDone

	if https.err != nil && errHTTP != nil {
		return nil, fmt.Errorf("dns lookup errors: %w and %w", https.err, errHTTP)
	}
	return append(https.urls, httpURLs...), nil
}

// TrimTrailingDot returns a Discoverer that returns d's endpoints with the
// trailing dot removed from each host ("https://infra0.example.com.:2379"
// becomes "https://infra0.example.com:2379"); d's errors are returned
// unchanged. Endpoints whose host has no trailing dot, the root target ".",
// and strings that do not parse as URLs are passed through as they are.
//
// Keeping the dot (the default, as upstream) names the host absolutely: when
// the client dials it, the resolver looks it up as is and never applies the
// resolv.conf search list. Go's TLS client accepts it, since it strips the
// dot for SNI and certificate name checks, but the dot stays in the HTTP Host
// header and in the endpoint strings, which then differ from the member URLs
// the cluster advertises (relevant when comparing or de-duplicating endpoints,
// or behind a proxy that routes by Host). Trimming the dot makes endpoints
// match the advertised form, at the cost of making the names relative again:
// a name with fewer dots than resolv.conf's "ndots" (5 in Kubernetes pods) is
// first tried with each search domain appended, which costs extra queries on
// every dial and could resolve to a different host if a search domain holds
// the same name.
func TrimTrailingDot(d Discoverer) Discoverer {
	return trimDotDiscoverer{d}
}

// trimDotDiscoverer is the Discoverer returned by TrimTrailingDot.
type trimDotDiscoverer struct {
	d Discoverer
}

// Discover implements Discoverer; see TrimTrailingDot.
func (t trimDotDiscoverer) Discover(domain string, serviceName string) ([]string, error) {
	endpoints, err := t.d.Discover(domain, serviceName)
	if err != nil {
		return endpoints, err
	}
	trimmed := make([]string, len(endpoints))
	for i, ep := range endpoints {
		trimmed[i] = trimHostDot(ep)
	}
	return trimmed, nil
}
