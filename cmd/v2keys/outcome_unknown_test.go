package main

import (
	"strings"
	"testing"

	"github.com/v2keys/client/internal/etcdtest"
)

// TestWriteThroughStoppedMemberSaysOutcomeUnknown: a write whose only
// member is stopped (SIGSTOP: it accepts the request and does not answer)
// fails, as with etcdctl, with the cluster error and its attempt, then a
// line saying the write may have been applied. A read that fails the same
// way has no such line: it changed nothing.
func TestWriteThroughStoppedMemberSaysOutcomeUnknown(t *testing.T) {
	cluster := etcdtest.Start(t, 1)
	m := cluster.Members()[0]
	ep := m.ClientURL()
	v2keys(t, ep, 0, "set", "/rm-me", "x")
	if err := m.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Resume() })
	cases := []struct {
		args    []string
		unknown bool
	}{
		{[]string{"mk", "/mk", "v"}, true},
		{[]string{"mkdir", "/mkdir"}, true},
		{[]string{"set", "/set", "v"}, true},
		{[]string{"rm", "/rm-me"}, true},
		{[]string{"get", "/rm-me"}, false},
	}
	for _, c := range cases {
		t.Run(c.args[0], func(t *testing.T) {
			r := runCmd(t, "", append([]string{"--no-sync", "--endpoints", ep, "--timeout", "1s"}, c.args...)...)
			wantErr := "Error:  client: etcd cluster is unavailable or misconfigured; error #0: client: endpoint " + ep + " exceeded header timeout\n"
			if r.code != ExitServerError || r.stdout != "" || !strings.HasPrefix(r.stderr, wantErr) {
				t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit %d and stderr starting %q", c.args, r.code, r.stdout, r.stderr, ExitServerError, wantErr)
			}
			if got := strings.HasSuffix(r.stderr, "\n\n"+outcomeUnknownNote+"\n"); got != c.unknown {
				t.Errorf("%v: stderr %q; ends with the outcome-unknown line: %v, want %v", c.args, r.stderr, got, c.unknown)
			}
		})
	}
}
