package onv3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// NewMembersAPI returns the v2 MembersAPI served by the v3 cluster API of
// c: the same types, and the errors the v2 client gives for the v2
// server's answers. c stays owned by the caller. Safe for concurrent use.
func NewMembersAPI(c *clientv3.Client) client.MembersAPI {
	return &membersAPI{c: c}
}

type membersAPI struct{ c *clientv3.Client }

func member(m *etcdserverpb.Member) client.Member {
	out := client.Member{ID: strconv.FormatUint(m.ID, 16), Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs}
	if out.PeerURLs == nil {
		out.PeerURLs = []string{}
	}
	if out.ClientURLs == nil {
		out.ClientURLs = []string{}
	}
	return out
}

// List returns the members, as the v2 GET /v2/members.
func (m *membersAPI) List(ctx context.Context) ([]client.Member, error) {
	resp, err := m.c.MemberList(ctx)
	if err != nil {
		return nil, readErr(ctx, err)
	}
	out := make([]client.Member, 0, len(resp.Members))
	for _, mb := range resp.Members {
		out = append(out, member(mb))
	}
	return out, nil
}

// Leader returns the member that leads the cluster, asked of the members
// this client knows in turn; during an election it fails as v2 answers then
// (status 503).
func (m *membersAPI) Leader(ctx context.Context) (*client.Member, error) {
	var lastErr error
	for _, ep := range m.c.Endpoints() {
		st, err := m.c.Status(ctx, ep)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = err
			continue
		}
		if st.Leader == 0 {
			return nil, errors.New("unexpected status code 503")
		}
		list, err := m.c.MemberList(ctx)
		if err != nil {
			return nil, readErr(ctx, err)
		}
		for _, mb := range list.Members {
			if mb.ID == st.Leader {
				out := member(mb)
				return &out, nil
			}
		}
		return nil, errors.New("unexpected status code 503")
	}
	return nil, fmt.Errorf("onv3: no member answered: %w", lastErr)
}

// Add adds a member with the peer URL, as v2's POST /v2/members: a URL that
// another member has is the v2 server's conflict message.
func (m *membersAPI) Add(ctx context.Context, peerURL string) (*client.Member, error) {
	urls, err := peerURLs([]string{peerURL})
	if err != nil {
		return nil, err
	}
	resp, err := m.c.MemberAdd(ctx, urls)
	if err != nil {
		if sameErr(err, rpctypes.ErrPeerURLExist) {
			return nil, errors.New("membership: peerURL exists")
		}
		return nil, writeErr(ctx, err)
	}
	out := member(resp.Member)
	return &out, nil
}

// Remove removes a member, as v2's DELETE /v2/members/<id>. The v3 API
// answers "member not found" both for an unknown ID and for a member
// removed before (which v2 answers 410, taken as success): onv3 reports
// both as v2 reports an unknown ID.
func (m *membersAPI) Remove(ctx context.Context, id string) error {
	n, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		return errors.New("unexpected status code 404")
	}
	if _, err := m.c.MemberRemove(ctx, n); err != nil {
		if sameErr(err, rpctypes.ErrMemberNotFound) {
			return errors.New("unexpected status code 404")
		}
		return writeErr(ctx, err)
	}
	return nil
}

// Update changes a member's peer URLs, as v2's PUT /v2/members/<id>.
func (m *membersAPI) Update(ctx context.Context, id string, urls []string) error {
	urls, err := peerURLs(urls)
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		return fmt.Errorf("No such member: %s", id)
	}
	if _, err := m.c.MemberUpdate(ctx, n, urls); err != nil {
		switch {
		case sameErr(err, rpctypes.ErrMemberNotFound):
			return fmt.Errorf("No such member: %s", id)
		case sameErr(err, rpctypes.ErrPeerURLExist):
			return errors.New("membership: peerURL exists")
		}
		return writeErr(ctx, err)
	}
	return nil
}

func sameErr(err, target error) bool {
	return errors.Is(err, target) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(target)
}

// peerURLs checks peer URLs as the v2 client does before sending them.
func peerURLs(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, errors.New("no valid URLs given")
	}
	out := make([]string, len(in))
	for i, s := range in {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		switch u.Scheme {
		case "http", "https":
			if _, _, err := net.SplitHostPort(u.Host); err != nil {
				return nil, fmt.Errorf(`URL address does not have the form "host:port": %s`, s)
			}
			if u.Path != "" {
				return nil, fmt.Errorf("URL must not contain a path: %s", s)
			}
		case "unix", "unixs":
		default:
			return nil, fmt.Errorf("URL scheme must be http, https, unix, or unixs: %s", s)
		}
		out[i] = u.String()
	}
	sort.Strings(out)
	return out, nil
}
