package client

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"time"
)

// Sync replaces the endpoints with the client URLs of the cluster's members.
//
// In random selection mode an unchanged set of URLs keeps the current order
// and pin; a changed set is shuffled and its first URL pinned. In
// leader-first mode the leader's first client URL is pinned; if the leader
// cannot be found, Sync fails with ErrNoLeaderEndpoint and changes nothing.
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
		leader, err := c.leaderEndpoint(ctx, neps)
		if err != nil {
			return ErrNoLeaderEndpoint
		}
		for i := range neps {
			if neps[i].String() == leader {
				pin = i
				break
			}
		}
	default:
		return fmt.Errorf("invalid endpoint selection mode: %d", c.selectionMode)
	}

	c.mu.Lock()
	c.endpoints = neps
	c.pinned = pin
	c.mu.Unlock()
	return nil
}

// leaderEndpoint asks the cluster reached through eps for its leader and
// returns the leader's first client URL.
func (c *httpClusterClient) leaderEndpoint(ctx context.Context, eps []url.URL) (string, error) {
	probe := &httpClusterClient{
		endpoint:      c.endpoint,
		checkRedirect: c.checkRedirect,
		credentials:   c.credentials,
		selectionMode: c.selectionMode,
		endpoints:     append([]url.URL(nil), eps...),
		rand:          c.rand,
	}
	leader, err := NewMembersAPI(probe).Leader(ctx)
	if err != nil {
		return "", err
	}
	if len(leader.ClientURLs) == 0 {
		return "", ErrNoLeaderEndpoint
	}
	return leader.ClientURLs[0], nil
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
