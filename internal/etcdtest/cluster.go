package etcdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// startAttempts is how many times a start is tried on fresh ports when a
// port turns out to be taken.
const startAttempts = 4

// Cluster is a set of etcd members started together, each on its own
// loopback ports and data directory. Its methods are safe for concurrent use.
type Cluster struct {
	dir     string // parent of the members' data directories
	members []*Member

	stopOnce sync.Once
	stopErr  error
}

// Options describes a cluster for [StartCluster].
type Options struct {
	// Size is the number of members; 0 means 1.
	Size int
	// API is the API the test needs; "" means V2. V2 members run with
	// --enable-v2 (only etcd 3.4 and 3.5 can) and serve v3 as well; V3
	// members serve v3 only.
	API API
	// Version is the etcd version, a series ("3.6") or exact ("3.6.16");
	// "" means [DefaultVersion] of API.
	Version string
	// Flags are extra etcd command-line flags for every member, for
	// example "--auth-token", "simple". They come after the package's own
	// flags, so they can override them.
	Flags []string
}

// StartCluster starts the cluster o describes and waits until every member
// is healthy, a leader is elected and a write of o.API succeeds. The
// cluster is stopped by t.Cleanup. If the etcd version is not available,
// the test is skipped (failed under CI=true, see [Require]); if o asks for
// something etcd cannot do (v2 on etcd 3.6 or later) or the cluster does not
// come up, the test fails, with the log tail of the member at fault.
func StartCluster(t testing.TB, o Options) *Cluster {
	t.Helper()
	api, err := o.api()
	if err != nil {
		t.Fatal(err)
	}
	bin := require(t, o.Version, api)
	size := o.Size
	if size == 0 {
		size = 1
	}
	c, err := start(startConfig{bin: bin, api: api, size: size, flags: o.Flags, ports: freePorts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("etcdtest: stop cluster: %v", err)
		}
	})
	return c
}

// api validates o.API, defaulting it to V2.
func (o Options) api() (API, error) {
	switch o.API {
	case "":
		return V2, nil
	case V2, V3:
		return o.API, nil
	}
	return "", fmt.Errorf("etcdtest: unknown API %q (want %q or %q)", o.API, V2, V3)
}

// Start starts an n-member cluster serving v2 (and v3) of the default v2
// version: [StartCluster] with Options{Size: n}.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartCluster(t, Options{Size: n})
}

// StartWithFlags is [Start] with extra etcd command-line flags for every
// member (see [Options].Flags).
func StartWithFlags(t testing.TB, n int, extraFlags ...string) *Cluster {
	t.Helper()
	return StartCluster(t, Options{Size: n, Flags: extraFlags})
}

// startConfig describes a cluster to start.
type startConfig struct {
	bin    binary
	api    API
	size   int
	flags  []string
	shared bool                       // the cluster is the Shared member
	ports  func(n int) ([]int, error) // picks n free ports
}

// start starts a cluster, retrying on fresh ports when a port was taken.
func start(cfg startConfig) (*Cluster, error) {
	if cfg.size < 1 {
		return nil, fmt.Errorf("etcdtest: cluster size %d, want at least 1", cfg.size)
	}
	if cfg.api == V2 && !cfg.bin.servesV2() {
		return nil, fmt.Errorf("etcdtest: etcd %s does not serve the v2 API (3.6 removed it); ask for API V3 or a 3.4/3.5 version", cfg.bin.version)
	}
	var errs []error
	for range startAttempts {
		c, err := tryStart(cfg)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("etcdtest: %d start attempts failed: %w", len(errs), errors.Join(errs...))
}

// tryStart makes one attempt to start a cluster. On failure everything it
// started is stopped and its directory removed.
func tryStart(cfg startConfig) (_ *Cluster, err error) {
	ports, err := cfg.ports(2 * cfg.size)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "etcdtest-")
	if err != nil {
		return nil, fmt.Errorf("etcdtest: %w", err)
	}
	c := &Cluster{dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()

	suffix, err := randomHex(4)
	if err != nil {
		return nil, err
	}
	peers := make([]string, cfg.size)
	for i := range cfg.size {
		m := &Member{
			name:       fmt.Sprintf("m%d-%s", i, suffix),
			clientURL:  fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:    fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			bin:        cfg.bin,
			api:        cfg.api,
			token:      fmt.Sprintf("etcdtest-%d-%s", os.Getpid(), suffix),
			extraFlags: slices.Clone(cfg.flags),
			shared:     cfg.shared,
		}
		m.dataDir = filepath.Join(dir, m.name)
		m.logPath = filepath.Join(m.dataDir, "etcd.log")
		if err := os.Mkdir(m.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("etcdtest: %w", err)
		}
		peers[i] = m.name + "=" + m.peerURL
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.initialCluster = strings.Join(peers, ",")
		if err := m.launch("new"); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := waitHealthy(ctx, c.members); err != nil {
		return nil, err
	}
	if err := waitWritable(ctx, c.members, cfg.api); err != nil {
		return nil, err
	}
	return c, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("etcdtest: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Members returns the cluster's members, in the order of --initial-cluster.
// The slice is a copy; the members are shared.
func (c *Cluster) Members() []*Member { return slices.Clone(c.members) }

// ClientURLs returns every member's client URL, in the order of
// [Cluster.Members], whether the member is running or not.
func (c *Cluster) ClientURLs() []string {
	urls := make([]string, len(c.members))
	for i, m := range c.members {
		urls[i] = m.clientURL
	}
	return urls
}

// Leader returns the current leader. It asks every running, unpaused member
// for its status (the v3 maintenance API, served by every version) and
// returns the first that says it is the leader, so right after the leader
// was killed or paused it waits for the new election. It returns an error
// wrapping ctx.Err() if ctx ends first.
func (c *Cluster) Leader(ctx context.Context) (*Member, error) {
	var lastErr error = errors.New("no member is answering")
	for {
		for _, m := range c.members {
			if !m.answering() {
				continue
			}
			st, err := probeStatus(ctx, m.clientURL)
			if err != nil {
				lastErr = err
				continue
			}
			if st.isLeader() && m.answering() {
				return m, nil
			}
			lastErr = fmt.Errorf("etcdtest: %s is not the leader (its leader: %q)", m.name, st.leader)
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return nil, fmt.Errorf("etcdtest: no leader: %w (last: %v)", err, lastErr)
		}
	}
}

// API returns the API the cluster was started to serve.
func (c *Cluster) API() API { return c.members[0].api }

// Version returns the exact etcd version the cluster runs, for example
// "3.6.16".
func (c *Cluster) Version() string { return c.members[0].Version() }

// Stop kills every member, waits until each process is reaped and removes
// the data directories. It is idempotent; later calls return the first
// call's result. After Stop no goroutine of the cluster is left.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		for _, m := range c.members {
			errs = append(errs, m.kill())
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("etcdtest: %w", err))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}
