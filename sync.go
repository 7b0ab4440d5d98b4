package client

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Sync replaces the endpoints with the client URLs of the cluster's members.
//
// In random selection mode an unchanged set of URLs keeps the current order
// and pin; a changed set is shuffled and its first URL pinned. In
// leader-first mode the leader's first usable client URL is pinned (the
// first one if none of them is in the new set); if the leader cannot be
// found, Sync fails with ErrNoLeaderEndpoint and changes nothing. If the
// members advertise no client URL at all, Sync fails with ErrNoEndpoints.
//
// Loopback URLs: a member that advertises a client URL on localhost,
// 127.0.0.0/8, ::1 (or the unspecified address 0.0.0.0, ::) names the
// machine the client runs on, not itself, so from anywhere else the URL is
// unusable (etcd-io/etcd#7588). Therefore, when the endpoints last given to
// New or SetEndpoints include at least one http(s) endpoint whose host is
// not such an address, Sync leaves out the members' loopback URLs; if that
// leaves none, Sync keeps the current endpoints and pin and returns nil.
// Host names are not resolved: only "localhost", names ending in
// ".localhost" and IP literals count as loopback. A client configured with
// loopback endpoints only (a cluster on the same machine) uses every
// advertised URL, as upstream does.
func (c *httpClusterClient) Sync(ctx context.Context) error {
	members, err := NewMembersAPI(c).List(ctx)
	if err != nil {
		return err
	}
	var eps []string
	for _, m := range members {
		eps = append(eps, m.ClientURLs...)
	}
	neps, err := parseEndpoints(eps)
	if err != nil {
		return err
	}
	c.mu.RLock()
	remote := c.remoteConfigured
	c.mu.RUnlock()
	if remote {
		neps = withoutLoopback(neps)
		if len(neps) == 0 {
			return c.checkSelectionMode()
		}
	}

	pin := 0
	switch c.selectionMode {
	case EndpointSelectionRandom:
		c.mu.RLock()
		unchanged := endpointsEqual(c.endpoints, neps)
		c.mu.RUnlock()
		if unchanged {
			return nil
		}
		neps = c.shuffle(neps)
	case EndpointSelectionPrioritizeLeader:
		leaderURLs, err := c.leaderClientURLs(ctx, neps)
		if err != nil {
			return ErrNoLeaderEndpoint
		}
		pin = leaderIndex(neps, leaderURLs)
	default:
		return c.checkSelectionMode()
	}

	c.mu.Lock()
	c.endpoints = neps
	c.pinned = pin
	c.mu.Unlock()
	return nil
}

// checkSelectionMode returns the error Sync gives for an unknown selection
// mode, or nil.
func (c *httpClusterClient) checkSelectionMode() error {
	switch c.selectionMode {
	case EndpointSelectionRandom, EndpointSelectionPrioritizeLeader:
		return nil
	}
	return fmt.Errorf("invalid endpoint selection mode: %d", c.selectionMode)
}

// leaderClientURLs asks the cluster reached through eps for its leader and
// returns the leader's client URLs.
func (c *httpClusterClient) leaderClientURLs(ctx context.Context, eps []url.URL) ([]string, error) {
	probe := &httpClusterClient{
		endpoint:      c.endpoint,
		selectionMode: c.selectionMode,
		endpoints:     append([]url.URL(nil), eps...),
		rand:          c.rand,
	}
	leader, err := NewMembersAPI(probe).Leader(ctx)
	if err != nil {
		return nil, err
	}
	if len(leader.ClientURLs) == 0 {
		return nil, ErrNoLeaderEndpoint
	}
	return leader.ClientURLs, nil
}

// leaderIndex returns the index in eps of the first of the leader's client
// URLs that eps holds, or 0. Without loopback filtering that is the
// leader's first URL, as upstream.
func leaderIndex(eps []url.URL, leaderURLs []string) int {
	for _, lu := range leaderURLs {
		for i := range eps {
			if eps[i].String() == lu {
				return i
			}
		}
	}
	return 0
}

// withoutLoopback returns the endpoints of eps whose host is not a loopback
// (or unspecified) address, in place.
func withoutLoopback(eps []url.URL) []url.URL {
	out := eps[:0]
	for _, u := range eps {
		if !isLoopbackEndpoint(&u) {
			out = append(out, u)
		}
	}
	return out
}

// hasRemoteEndpoint reports whether any of eps is an http(s) endpoint on a
// host that is not a loopback address.
func hasRemoteEndpoint(eps []url.URL) bool {
	for i := range eps {
		switch eps[i].Scheme {
		case "http", "https":
			if !isLoopbackEndpoint(&eps[i]) {
				return true
			}
		}
	}
	return false
}

// isLoopbackEndpoint reports whether u's host names this machine without a
// DNS lookup: "localhost", "*.localhost", a loopback or unspecified IP.
func isLoopbackEndpoint(u *url.URL) bool {
	switch u.Scheme {
	case "http", "https":
	default:
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return ip.IsLoopback() || ip.IsUnspecified()
	}
	return false
}

// AutoSync calls Sync now and every interval until a Sync fails or ctx ends.
func (c *httpClusterClient) AutoSync(ctx context.Context, interval time.Duration) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := c.Sync(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// endpointsEqual reports whether a and b hold the same URLs in any order.
func endpointsEqual(a, b []url.URL) bool {
	if len(a) != len(b) {
		return false
	}
	sa, sb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		sa[i], sb[i] = a[i].String(), b[i].String()
	}
	sort.Strings(sa)
	sort.Strings(sb)
	for i := range sa {
		if sa[i] != sb[i] {
			return false
		}
	}
	return true
}
