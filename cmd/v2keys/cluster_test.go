package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

func TestMemberListAndHealthSingle(t *testing.T) {
	m := etcdtest.Shared(t)
	ep := m.ClientURL()
	list := v2keys(t, ep, 0, "member", "list").stdout
	want := regexp.MustCompile(`^[0-9a-f]+: name=` + regexp.QuoteMeta(m.Name()) + ` peerURLs=` + regexp.QuoteMeta(m.PeerURL()) +
		` clientURLs=` + regexp.QuoteMeta(ep) + ` isLeader=true\n$`)
	if !want.MatchString(list) {
		t.Errorf("member list printed %q", list)
	}
	h := v2keys(t, ep, 0, "cluster-health").stdout
	if !regexp.MustCompile(`^member [0-9a-f]+ is healthy: got healthy result from ` + regexp.QuoteMeta(ep) + "\ncluster is healthy\n$").MatchString(h) {
		t.Errorf("cluster-health printed %q", h)
	}
}

func TestThreeMemberCluster(t *testing.T) {
	c := etcdtest.Start(t, 3)
	urls := c.ClientURLs()
	all := strings.Join(urls, ",")

	// Writes through one member are read through each other, with sync
	// (the default) and without.
	v2keys(t, urls[0], 0, "set", "/three/k", "v")
	for _, u := range urls {
		if r := v2keys(t, u, 0, "--no-sync", "get", "--quorum", "/three/k"); r.stdout != "v\n" {
			t.Errorf("get via %s printed %q", u, r.stdout)
		}
	}
	if r := v2keys(t, all, 0, "ls", "/three"); r.stdout != "/three/k\n" {
		t.Errorf("ls printed %q", r.stdout)
	}

	list := v2keys(t, all, 0, "member", "list").stdout
	if n := strings.Count(list, "isLeader=true"); n != 1 || strings.Count(list, "\n") != 3 {
		t.Errorf("member list printed %q", list)
	}
	health := v2keys(t, all, 0, "cluster-health").stdout
	if strings.Count(health, " is healthy: got healthy result from ") != 3 || !strings.HasSuffix(health, "cluster is healthy\n") {
		t.Errorf("cluster-health printed %q", health)
	}

	// member add / update / remove of a member that never starts (the
	// cluster keeps its quorum of 3 out of 4). Right after start etcd
	// refuses reconfiguration for a few seconds, so add is retried.
	var add result
	deadline := time.Now().Add(20 * time.Second)
	for {
		add = runCmd(t, "", "--endpoints", all, "member", "add", "extra", "http://127.0.0.1:1")
		if add.code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if add.code != 0 {
		t.Fatalf("member add: %+v", add)
	}
	m := regexp.MustCompile(`^Added member named extra with ID ([0-9a-f]+) to cluster\n\nETCD_NAME="extra"\nETCD_INITIAL_CLUSTER=".*extra=http://127.0.0.1:1.*"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$`).FindStringSubmatch(add.stdout)
	if m == nil {
		t.Fatalf("member add printed %q", add.stdout)
	}
	id := m[1]
	// A member answers member list from what it has applied, which may
	// lag behind the leader's answer to add for a moment.
	if list := eventuallyListed(t, all, id+"[unstarted]: peerURLs=http://127.0.0.1:1\n"); list != "" {
		t.Errorf("member list after add printed %q", list)
	}
	if r := v2keys(t, all, 0, "member", "update", id, "http://127.0.0.1:2,http://127.0.0.1:3"); r.stdout != "Updated member with ID "+id+" in cluster\n" {
		t.Errorf("member update printed %q", r.stdout)
	}
	if list := eventuallyListed(t, all, id+"[unstarted]: peerURLs=http://127.0.0.1:2,http://127.0.0.1:3\n"); list != "" {
		t.Errorf("member list after update printed %q", list)
	}
	h2 := runCmd(t, "", "--endpoints", all, "cluster-health")
	// As with etcdctl, a cluster with a member that is not healthy is
	// degraded, and that is status 5.
	if h2.code != 5 || !strings.Contains(h2.stdout, "member "+id+" is unreachable: no available published client urls\n") ||
		!strings.HasSuffix(h2.stdout, "cluster is degraded\n") {
		t.Errorf("cluster-health with an unstarted member: %+v", h2)
	}
	if r := v2keys(t, all, 0, "member", "remove", id); r.stdout != "Removed member "+id+" from cluster\n" {
		t.Errorf("member remove printed %q", r.stdout)
	}
	r := v2keys(t, all, 1, "member", "remove", id)
	if !strings.Contains(r.stderr, "Couldn't find a member in the cluster with an ID of "+id) {
		t.Errorf("second member remove printed %q", r.stderr)
	}
	v2keys(t, all, 1, "member", "add", "only-a-name")

	// With one member down, the others still serve and report health.
	members := c.Members()
	if err := members[2].Kill(); err != nil {
		t.Fatal(err)
	}
	// (If the killed member led, the others report unhealthy until they
	// have elected a new leader.)
	var h3 result
	for i := 0; i < 50; i++ {
		if h3 = runCmd(t, "", "--endpoints", all, "--no-sync", "cluster-health"); strings.Count(h3.stdout, " is healthy: ") == 2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h3.code != 5 || strings.Count(h3.stdout, " is healthy: ") != 2 ||
		!strings.Contains(h3.stdout, "failed to check the health of member") || !strings.HasSuffix(h3.stdout, "cluster is degraded\n") {
		t.Errorf("cluster-health with a member down: %+v", h3)
	}
	if r := v2keys(t, all, 0, "--no-sync", "get", "--quorum", "/three/k"); r.stdout != "v\n" {
		t.Errorf("get with a member down printed %q", r.stdout)
	}
}

// eventuallyListed runs member list until its output contains want (within
// 10 s) and returns "", or else the last output.
func eventuallyListed(t *testing.T, eps, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := v2keys(t, eps, 0, "member", "list").stdout
		if strings.Contains(list, want) {
			return ""
		}
		if time.Now().After(deadline) {
			return list
		}
		time.Sleep(100 * time.Millisecond)
	}
}
