package etcdtest

import (
	"bytes"
	"context"
	"encoding/base64"
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
	// readyKeyV3 is the v3 key written and deleted to prove a cluster
	// accepts v3 writes.
	readyKeyV3 = "_etcdtest_ready"
)

// errAddrInUse marks a start-up that failed because a port was taken; the
// start is then retried on fresh ports.
var errAddrInUse = errors.New("etcdtest: address already in use")

// probeClient sends the package's own requests. It keeps no idle
// connections, so nothing of it outlives a stopped cluster.
var probeClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// probe sends one request bounded by probeTimeout and decodes a JSON answer
// into out (if out is not nil). A url.Values body is sent as a form, any
// other non-nil body as JSON. It returns the status code; any status other
// than 2xx is also an error.
func probe(ctx context.Context, method, u string, body any, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var r io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		r, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, fmt.Errorf("etcdtest: %w", err)
		}
		r, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, fmt.Errorf("etcdtest: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
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

// The probes below use the v3 JSON gateway (/v3/...), which every version
// from 3.4 on serves whether or not v2 is enabled, so one set of probes
// works for every member; only the readiness write depends on the API.
// The gateway encodes 64-bit integers as JSON strings.

// v3Header is the header of every v3 answer.
type v3Header struct {
	MemberID string `json:"member_id"`
	Revision string `json:"revision"`
}

// probeHealthy checks that GET /health reports {"health":"true"} and that the
// server answering is m itself (its member ID names m in the member list),
// not another etcd that took m's port. The latter is reported as
// errAddrInUse. The probe is abandoned as soon as m's process exits.
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
	var list struct {
		Header  v3Header `json:"header"`
		Members []struct {
			ID   string `json:"ID"`
			Name string `json:"name"`
		} `json:"members"`
	}
	if _, err := probe(ctx, http.MethodPost, m.clientURL+"/v3/cluster/member/list", struct{}{}, &list); err != nil {
		return err
	}
	for _, x := range list.Members {
		if x.ID == list.Header.MemberID {
			if x.Name != m.name {
				return fmt.Errorf("%w: %s is served by member %q, not %q", errAddrInUse, m.clientURL, x.Name, m.name)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s is served by member %s, which is not in its own member list", errAddrInUse, m.clientURL, list.Header.MemberID)
}

// memberStatus is what probeStatus learns from a member.
type memberStatus struct {
	self, leader string // member IDs; leader is "" or "0" during an election
}

// isLeader reports whether the member that answered is the leader.
func (s memberStatus) isLeader() bool {
	return s.leader != "" && s.leader != "0" && s.self == s.leader
}

// probeStatus asks the member at clientURL for its ID and its leader's.
func probeStatus(ctx context.Context, clientURL string) (memberStatus, error) {
	var st struct {
		Header v3Header `json:"header"`
		Leader string   `json:"leader"`
	}
	if _, err := probe(ctx, http.MethodPost, clientURL+"/v3/maintenance/status", struct{}{}, &st); err != nil {
		return memberStatus{}, err
	}
	return memberStatus{self: st.Header.MemberID, leader: st.Leader}, nil
}

// probeWrite writes and deletes the hidden ready key through the member at
// clientURL with the given API, proving that the cluster has a leader and
// commits writes. The v2 key's leading underscore makes it hidden, so it
// never shows up in a listing; the v3 key has no leading slash, so it lies
// outside every v2 layout (whose keys start with the prefix and a slash).
func probeWrite(ctx context.Context, clientURL string, api API) error {
	if api == V2 {
		if _, err := probe(ctx, http.MethodPut, clientURL+readyKey, url.Values{"value": {"1"}}, nil); err != nil {
			return err
		}
		_, err := probe(ctx, http.MethodDelete, clientURL+readyKey, nil, nil)
		return err
	}
	key := base64.StdEncoding.EncodeToString([]byte(readyKeyV3))
	put := map[string]string{"key": key, "value": base64.StdEncoding.EncodeToString([]byte("1"))}
	if _, err := probe(ctx, http.MethodPost, clientURL+"/v3/kv/put", put, nil); err != nil {
		return err
	}
	_, err := probe(ctx, http.MethodPost, clientURL+"/v3/kv/deleterange", map[string]string{"key": key}, nil)
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

// waitWritable polls until the cluster reports a leader and commits a write
// of the given API through its first member, or ctx is done.
func waitWritable(ctx context.Context, members []*Member, api API) error {
	first := members[0]
	var lastErr error
	for {
		for _, m := range members {
			if err := m.exitError(); err != nil {
				return err
			}
		}
		var st memberStatus
		st, lastErr = probeStatus(ctx, first.clientURL)
		if lastErr == nil && (st.leader == "" || st.leader == "0") {
			lastErr = errors.New("etcdtest: no leader yet")
		}
		if lastErr == nil {
			lastErr = probeWrite(ctx, first.clientURL, api)
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
