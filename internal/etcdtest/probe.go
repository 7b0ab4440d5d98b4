package etcdtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// readyTimeout bounds each wait for members to become healthy and for
	// a cluster to accept writes.
	readyTimeout = 20 * time.Second
	// probeTimeout bounds one probe request, so a paused or dead member
	// cannot stall a wait.
	probeTimeout = time.Second
	// pollInterval is the pause between probe rounds.
	pollInterval = 50 * time.Millisecond
	// readyKey is written and deleted to prove a cluster accepts v2
	// writes. The leading underscore makes it a hidden key, so it never
	// shows up in a listing.
	readyKey = "/v2/keys/_etcdtest_ready"
)

// errAddrInUse marks a start-up that failed because a port was taken; the
// start is then retried on fresh ports.
var errAddrInUse = errors.New("etcdtest: address already in use")

// errNoLeader is returned by probeLeader while an election is going on.
var errNoLeader = errors.New("etcdtest: no leader")

// probeClient sends the package's own requests. It keeps no idle
// connections, so nothing of it outlives a stopped cluster.
var probeClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// probe sends one request bounded by probeTimeout and decodes a JSON answer
// into out (if out is not nil). It returns the status code; any status other
// than 2xx is also an error.
func probe(ctx context.Context, method, u string, body url.Values, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, fmt.Errorf("etcdtest: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("etcdtest: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("etcdtest: %s %s: read body: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("etcdtest: %s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("etcdtest: %s %s: decode %q: %w", method, u, data, err)
		}
	}
	return resp.StatusCode, nil
}

// probeHealthy checks that GET /health reports {"health":"true"} and that the
// server answering is m itself (by its name in /v2/stats/self), not another
// etcd that took m's port. The latter is reported as errAddrInUse. The probe
// is abandoned as soon as m's process exits.
func (m *Member) probeHealthy(ctx context.Context) error {
	m.mu.Lock()
	p := m.proc
	m.mu.Unlock()
	if p == nil {
		return fmt.Errorf("etcdtest: %s: %w", m.name, errNotRunning)
	}
	ctx, cancel := p.untilExit(ctx)
	defer cancel()
	var health struct {
		Health string `json:"health"`
	}
	if _, err := probe(ctx, http.MethodGet, m.clientURL+"/health", nil, &health); err != nil {
		return err
	}
	if health.Health != "true" {
		return fmt.Errorf("etcdtest: %s: health is %q", m.name, health.Health)
	}
	var self struct {
		Name string `json:"name"`
	}
	if _, err := probe(ctx, http.MethodGet, m.clientURL+"/v2/stats/self", nil, &self); err != nil {
		return err
	}
	if self.Name != m.name {
		return fmt.Errorf("%w: %s is served by member %q, not %q", errAddrInUse, m.clientURL, self.Name, m.name)
	}
	return nil
}

// probeLeader asks the member at clientURL who the leader is and returns the
// leader's client URLs, or errNoLeader during an election.
func probeLeader(ctx context.Context, clientURL string) ([]string, error) {
	var leader struct {
		ClientURLs []string `json:"clientURLs"`
	}
	code, err := probe(ctx, http.MethodGet, clientURL+"/v2/members/leader", nil, &leader)
	if code == http.StatusServiceUnavailable {
		return nil, fmt.Errorf("%w: %w", errNoLeader, err)
	}
	if err != nil {
		return nil, err
	}
	return leader.ClientURLs, nil
}

// probeWrite writes and deletes the hidden ready key through the member at
// clientURL, proving that the cluster has a leader and commits v2 writes.
func probeWrite(ctx context.Context, clientURL string) error {
	if _, err := probe(ctx, http.MethodPut, clientURL+readyKey, url.Values{"value": {"1"}}, nil); err != nil {
		return err
	}
	_, err := probe(ctx, http.MethodDelete, clientURL+readyKey, nil, nil)
	return err
}

// waitHealthy polls until every member is healthy. It fails at once if a
// member's process exits, and otherwise when ctx is done; the error carries
// the log tail of the member that failed.
func waitHealthy(ctx context.Context, members []*Member) error {
	pending := append([]*Member(nil), members...)
	lastErr := map[*Member]error{}
	for {
		still := pending[:0]
		for _, m := range pending {
			if err := m.exitError(); err != nil {
				return err
			}
			err := m.probeHealthy(ctx)
			if errors.Is(err, errAddrInUse) {
				return err
			}
			if err != nil {
				lastErr[m] = err
				still = append(still, m)
			}
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		if err := sleep(ctx, pollInterval); err != nil {
			m := pending[0]
			return fmt.Errorf("etcdtest: %s not healthy: %w (last probe: %v)%s", m.name, err, lastErr[m], formatTail(m.LogTail(logTailLines)))
		}
	}
}

// waitWritable polls until the cluster reports a leader and commits a v2
// write through its first member, or ctx is done.
func waitWritable(ctx context.Context, members []*Member) error {
	first := members[0]
	var lastErr error
	for {
		for _, m := range members {
			if err := m.exitError(); err != nil {
				return err
			}
		}
		_, lastErr = probeLeader(ctx, first.clientURL)
		if lastErr == nil {
			lastErr = probeWrite(ctx, first.clientURL)
			if lastErr == nil {
				return nil
			}
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("etcdtest: cluster not writable: %w (last probe: %v)%s", err, lastErr, formatTail(first.LogTail(logTailLines)))
		}
	}
}

// sleep waits for d or until ctx is done, returning ctx.Err() in that case.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
