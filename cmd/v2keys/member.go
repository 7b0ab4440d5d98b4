package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/v2keys/client"
)

var memberCommands = []*command{
	{name: "list", summary: "enumerate existing cluster members", run: cmdMemberList},
	{name: "add", args: "<name> <peerURL>", summary: "add a new member to the etcd cluster", run: cmdMemberAdd},
	{name: "remove", args: "<memberID>", summary: "remove an existing member from the etcd cluster", run: cmdMemberRemove},
	{name: "update", args: "<memberID> <peerURLs>", summary: "update an existing member in the etcd cluster", run: cmdMemberUpdate},
}

// members runs a member subcommand: it parses its (flag-less) arguments,
// requires exactly n of them, printing usage otherwise, and builds the
// members API. Member commands fail with status 1, as etcdctl's.
func (e *env) members(c *command, args []string, n int, usage string, do func(m client.MembersAPI, args []string) int) int {
	fs := e.newFlags(c, "member")
	args, ok := e.parseArgs(fs, args, n, -1)
	if !ok {
		return ExitBadArgs
	}
	if len(args) != n {
		fmt.Fprintln(e.stderr, usage)
		return ExitBadArgs
	}
	m, code := e.membersAPI(true)
	if m == nil {
		return code
	}
	return do(m, args)
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

func cmdMemberList(e *env, c *command, args []string) int {
	return e.members(c, args, 0, "No arguments accepted", func(m client.MembersAPI, _ []string) int {
		ctx, cancel := e.requestContext()
		defer cancel()
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
	})
}

func cmdMemberAdd(e *env, c *command, args []string) int {
	return e.members(c, args, 2, "Provide a name and a single member peerURL", func(m client.MembersAPI, args []string) int {
		ctx, cancel := e.requestContext()
		defer cancel()
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
	})
}

func cmdMemberRemove(e *env, c *command, args []string) int {
	return e.members(c, args, 1, "Provide a single member ID", func(m client.MembersAPI, args []string) int {
		ctx, cancel := e.requestContext()
		defer cancel()
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
	})
}

func cmdMemberUpdate(e *env, c *command, args []string) int {
	return e.members(c, args, 2, "Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)", func(m client.MembersAPI, args []string) int {
		ctx, cancel := e.requestContext()
		defer cancel()
		if err := m.Update(ctx, args[0], strings.Split(args[1], ",")); err != nil {
			fmt.Fprintln(e.stderr, err.Error())
			return ExitBadArgs
		}
		fmt.Fprintf(e.stdout, "Updated member with ID %s in cluster\n", args[0])
		return ExitSuccess
	})
}

// cmdClusterHealth asks every member's /health, as etcdctl does: a member
// is checked on its first client URL that answers. The cluster is healthy
// when every member is, degraded when some are, unavailable when none is;
// the status is 5 unless it is healthy (etcdctl's rules).
func cmdClusterHealth(e *env, c *command, args []string) int {
	fs := e.newFlags(c, "")
	forever := boolFlag(fs, "forever", "f", "forever check the health every 10 second until CTRL+C")
	if _, ok := e.parseArgs(fs, args, 0, 0); !ok {
		return ExitBadArgs
	}
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
		if !*forever {
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
