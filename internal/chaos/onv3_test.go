package chaos

import (
	"fmt"
	"testing"
	"time"

	client "github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// onv3Prefix is the v3 prefix under which onv3 keeps the v2 keyspace.
const onv3Prefix = "/v2data"

// newOnv3 returns onv3's KeysAPI over a clientv3 client of its own with
// every member's endpoint, and the function that closes the client. The
// keepalive settings make gRPC leave a stopped member within about 2 s,
// as the v2 client's header timeout and probes do.
func newOnv3(t *testing.T, cluster *etcdtest.Cluster) (client.KeysAPI, func()) {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:            cluster.ClientURLs(),
		DialTimeout:          2 * time.Second,
		DialKeepAliveTime:    time.Second,
		DialKeepAliveTimeout: time.Second,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return onv3.NewKeysAPI(c, onv3Prefix), func() {
		if err := c.Close(); err != nil {
			t.Errorf("close clientv3: %v", err)
		}
	}
}

// Claim 4: the checks of claims 1 and 3 hold for onv3, the v2 KeysAPI on
// etcd's v3 API: every history is linearizable, and a recursive watcher
// (WatcherOptions.Stream is moot on v3: two watchers, one with it) delivers
// every acknowledged write exactly once, in order, or reports the history
// cleared. The cluster serves v3 on etcdtest.DefaultVersion(etcdtest.V3)
// (ETCDTEST_V3_VERSION: 3.4 by default; make test also runs 3.6).
func TestChaosOnv3(t *testing.T) {
	s := loadSettings(t)
	seeds, length := s.runs()
	var total stats
	var sum watchSummary
	version := etcdtest.DefaultVersion(etcdtest.V3)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			res := runChaos(t, runConfig{seed: seed, length: length, workers: workers, watchers: true, onv3: true})
			var st stats
			st.add(res)
			total.add(res)
			t.Logf("seed %d (onv3, etcd %s): %v", seed, version, st)
			checkLinearizable(t, s, seed, length, res, "onv3")
			sum.check(t, seed, res)
		})
	}
	t.Logf("claim 4 (onv3 on etcd %s): %d runs of %v, %v; %v", version, len(seeds), length, total, &sum)
	for _, tw := range sum.twice {
		t.Log(tw)
	}
}
