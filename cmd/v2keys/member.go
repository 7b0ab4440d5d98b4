package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/v2keys/client"
)

var memberCommands = []*command{
	{name: "list", exact: noArgs, summary: "enumerate existing cluster members", setup: noFlags(memberAction(memberList))},
	{name: "add", args: "<name> <peerURL>", minArgs: 2, exact: "Provide a name and a single member peerURL", summary: "add a new member to the etcd cluster", setup: noFlags(memberAction(memberAdd))},
	{name: "remove", args: "<memberID>", minArgs: 1, exact: "Provide a single member ID", summary: "remove an existing member from the etcd cluster", setup: noFlags(memberAction(memberRemove))},
	{name: "update", args: "<memberID> <peerURLs>", minArgs: 2, exact: "Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)", summary: "update an existing member in the etcd cluster", setup: noFlags(memberAction(memberUpdate))},
}

// memberAction is the action of a member subcommand: do, with the members
// API of the backend and the command's context (see requestContext).
// Member commands fail with status 1, as etcdctl's.
func memberAction(do func(ctx context.Context, e *env, m client.MembersAPI, args []string) int) action {
	return func(e *env, args []string) int {
		m, code := e.membersAPI(true)
		if m == nil {
			return code
		}
		ctx, cancel := e.requestContext()
		defer cancel()
		return do(ctx, e, m, args)
	}
}

// membersAPI returns the members API of the backend: the v2 members API
// (syncing the cluster first if sync, unless --no-sync), or the v3 cluster
// API through onv3 with --backend v3.
func (e *env) membersAPI(sync bool) (client.MembersAPI, int) {
	if e.onV3() {
		_, m, code := e.v3APIs()
		return m, code
	}
	cl, code := e.newClient(sync)
	if cl == nil {
		return nil, code
	}
	return client.NewMembersAPI(cl), ExitSuccess
}

func memberList(ctx context.Context, e *env, m client.MembersAPI, _ []string) int {
	members, err := m.List(ctx)
	if err != nil {
		fmt.Fprintln(e.stderr, err.Error())
		return ExitBadArgs
	}
	leader, err := m.Leader(ctx)
	if err != nil {
		fmt.Fprintln(e.stderr, "Failed to get leader: ", err)
		return ExitBadArgs
	}
	for _, mb := range members {
		if mb.Name == "" {
			fmt.Fprintf(e.stdout, "%s[unstarted]: peerURLs=%s\n", mb.ID, strings.Join(mb.PeerURLs, ","))
			continue
		}
		fmt.Fprintf(e.stdout, "%s: name=%s peerURLs=%s clientURLs=%s isLeader=%v\n",
			mb.ID, mb.Name, strings.Join(mb.PeerURLs, ","), strings.Join(mb.ClientURLs, ","), mb.ID == leader.ID)
	}
	return ExitSuccess
}

func memberAdd(ctx context.Context, e *env, m client.MembersAPI, args []string) int {
	name, peerURL := args[0], args[1]
	added, err := m.Add(ctx, peerURL)
	if err != nil {
		fmt.Fprintln(e.stderr, err.Error())
		return ExitBadArgs
	}
	fmt.Fprintf(e.stdout, "Added member named %s with ID %s to cluster\n", name, added.ID)
	members, err := m.List(ctx)
	if err != nil {
		fmt.Fprintln(e.stderr, err.Error())
		return ExitBadArgs
	}
	var conf []string
	for _, mb := range members {
		n := mb.Name
		if mb.ID == added.ID {
			n = name
		}
		for _, u := range mb.PeerURLs {
			conf = append(conf, n+"="+u)
		}
	}
	fmt.Fprintf(e.stdout, "\nETCD_NAME=%q\nETCD_INITIAL_CLUSTER=%q\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n", name, strings.Join(conf, ","))
	return ExitSuccess
}

func memberRemove(ctx context.Context, e *env, m client.MembersAPI, args []string) int {
	id := args[0]
	members, err := m.List(ctx)
	if err != nil {
		fmt.Fprintln(e.stderr, "Error while verifying ID against known members:", err.Error())
		return ExitBadArgs
	}
	found := false
	for _, mb := range members {
		if mb.ID == id {
			found = true
		}
		if mb.Name == id {
			fmt.Fprintf(e.stderr, "Found a member named %s; if this is correct, please use its ID, eg:\n\tv2keys member remove %s\n\n", mb.Name, mb.ID)
		}
	}
	if !found {
		fmt.Fprintf(e.stderr, "Couldn't find a member in the cluster with an ID of %s.\n", id)
		return ExitBadArgs
	}
	if err := m.Remove(ctx, id); err != nil {
		fmt.Fprintf(e.stderr, "Received an error trying to remove member %s: %s\n", id, err.Error())
		return ExitBadArgs
	}
	fmt.Fprintf(e.stdout, "Removed member %s from cluster\n", id)
	return ExitSuccess
}

func memberUpdate(ctx context.Context, e *env, m client.MembersAPI, args []string) int {
	if err := m.Update(ctx, args[0], strings.Split(args[1], ",")); err != nil {
		fmt.Fprintln(e.stderr, err.Error())
		return ExitBadArgs
	}
	fmt.Fprintf(e.stdout, "Updated member with ID %s in cluster\n", args[0])
	return ExitSuccess
}

// cmdClusterHealth asks every member's /health, as etcdctl does: a member
// is checked on its first client URL that answers. The cluster is healthy
// when every member is, degraded when some are, unavailable when none is;
// the status is 5 unless it is healthy (etcdctl's rules).
func cmdClusterHealth(fs *flag.FlagSet) action {
	forever := boolFlag(fs, "forever", "f", "forever check the health every 10 second until CTRL+C")
	return func(e *env, _ []string) int { return e.clusterHealth(*forever) }
}

func (e *env) clusterHealth(forever bool) int {
	mapi, code := e.membersAPI(false)
	if mapi == nil {
		return code
	}
	ctx, cancel := e.requestContext()
	members, err := mapi.List(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(e.stdout, "cluster may be unhealthy: failed to list members")
		return e.fail(ExitServerError, err)
	}
	tr := e.transport // built by newClient; not with --backend v3
	if tr == nil {
		var err error
		if tr, err = e.newTransport(); err != nil {
			return e.fail(ExitBadArgs, err)
		}
		defer tr.CloseIdleConnections()
	}
	hc := &http.Client{Transport: tr, Timeout: e.g.totalTimeout}
	for {
		healthy := 0
		for _, m := range members {
			if len(m.ClientURLs) == 0 {
				fmt.Fprintf(e.stdout, "member %s is unreachable: no available published client urls\n", m.ID)
				continue
			}
			checked := false
			for _, u := range m.ClientURLs {
				ok, err := memberHealth(hc, u)
				if err != nil {
					fmt.Fprintf(e.stdout, "failed to check the health of member %s on %s: %v\n", m.ID, u, err)
					continue
				}
				checked = true
				if ok {
					healthy++
					fmt.Fprintf(e.stdout, "member %s is healthy: got healthy result from %s\n", m.ID, u)
				} else {
					fmt.Fprintf(e.stdout, "member %s is unhealthy: got unhealthy result from %s\n", m.ID, u)
				}
				break
			}
			if !checked {
				fmt.Fprintf(e.stdout, "member %s is unreachable: %v are all unreachable\n", m.ID, m.ClientURLs)
			}
		}
		switch healthy {
		case len(members):
			fmt.Fprintln(e.stdout, "cluster is healthy")
		case 0:
			fmt.Fprintln(e.stdout, "cluster is unavailable")
		default:
			fmt.Fprintln(e.stdout, "cluster is degraded")
		}
		if !forever {
			if healthy == len(members) {
				return ExitSuccess
			}
			return ExitClusterNotHealthy
		}
		fmt.Fprintf(e.stdout, "\nnext check after 10 second...\n\n")
		select {
		case <-e.ctx.Done():
			return ExitSuccess
		case <-time.After(10 * time.Second):
		}
	}
}

// memberHealth reads a member's /health: {"health":"true"} (or a boolean).
func memberHealth(hc *http.Client, u string) (bool, error) {
	resp, err := hc.Get(strings.TrimSuffix(u, "/") + "/health")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return false, err
	}
	var res struct {
		Health json.RawMessage `json:"health"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return false, err
	}
	h := strings.Trim(string(res.Health), `"`)
	return h == "true", nil
}
