package client

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DNS SRV lookups behind the Discoverer returned by NewSRVDiscover.
//
// Record names follow the upstream client: the TLS endpoints live under
// _etcd-client-ssl._tcp.<domain>, the plain ones under
// _etcd-client._tcp.<domain>, and a non-empty service name is appended to the
// service label ("_etcd-client-ssl-<name>._tcp.<domain>").

const (
	// srvServiceBase is the SRV service label for etcd client endpoints,
	// without its leading underscore.
	srvServiceBase = "etcd-client"

	// defaultSRVTimeout bounds one Discover call (both lookups, which run
	// concurrently). Discover has no context parameter, so this is the only
	// thing that stops it when a name server never answers; the resolver's
	// own per-query timeout and attempts (resolv.conf "timeout:" and
	// "attempts:", 5 s and 2 by default for the Go resolver) still apply
	// within it.
	defaultSRVTimeout = 10 * time.Second
)

// srvRecordName returns the DNS name holding the SRV records for the etcd
// client endpoints of scheme ("https" or "http") in domain:
// "_etcd-client[-ssl][-serviceName]._tcp.domain". It builds the same name
// net.Resolver.LookupSRV builds from service "etcd-client[-ssl][-serviceName]",
// proto "tcp" and domain, so a trailing dot on domain is kept (and makes the
// name fully qualified) and an empty domain gives "_etcd-client._tcp.".
func srvRecordName(scheme, domain, serviceName string) string {
	var b strings.Builder
	b.WriteString("_")
	b.WriteString(srvServiceBase)
	if scheme == "https" {
		b.WriteString("-ssl")
	}
	if serviceName != "" {
		b.WriteString("-")
		b.WriteString(serviceName)
	}
	b.WriteString("._tcp.")
	b.WriteString(domain)
	return b.String()
}

// lookupSRVURLs looks up the SRV records at name with r and returns one URL
// with scheme per record, in the order r returns them (by priority, and
// shuffled by weight within a priority). The host is the record's target as
// the resolver reports it, that is, fully qualified with its trailing dot.
//
// Any lookup error fails the whole lookup, as upstream: when the answer holds
// some records with malformed targets, net.Resolver.LookupSRV returns the
// well-formed ones alongside an error, and those are dropped too.
func lookupSRVURLs(ctx context.Context, r *net.Resolver, scheme, name string) ([]string, error) {
	_, records, err := r.LookupSRV(ctx, "", "", name)
	if err != nil {
		return nil, err
	}
	urls := make([]string, 0, len(records))
	for _, rec := range records {
		u := url.URL{
			Scheme: scheme,
			Host:   net.JoinHostPort(rec.Target, strconv.Itoa(int(rec.Port))),
		}
		urls = append(urls, u.String())
	}
	return urls, nil
}

// trimHostDot removes one trailing dot from the host of endpoint, keeping its
// scheme, port and anything else. An endpoint that does not parse as a URL,
// or whose host has no trailing dot, is returned unchanged.
func trimHostDot(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	host := u.Hostname()
	if !strings.HasSuffix(host, ".") || host == "." {
		return endpoint
	}
	host = strings.TrimSuffix(host, ".")
	if port := u.Port(); port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else {
		u.Host = host
	}
	return u.String()
}
