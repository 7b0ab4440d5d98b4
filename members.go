package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
)

const (
	defaultV2MembersPrefix = "/v2/members"
	defaultLeaderSuffix    = "/leader"
)

// Member is one member of an etcd cluster, as the members API describes it.
type Member struct {
	// ID is the unique identifier of this Member, in hexadecimal.
	ID string `json:"id"`

	// Name is a human-readable, non-unique identifier of this Member. It is
	// empty for a member that was added but has not started yet.
	Name string `json:"name"`

	// PeerURLs represents the HTTP(S) endpoints this Member uses to
	// participate in etcd's consensus protocol.
	PeerURLs []string `json:"peerURLs"`

	// ClientURLs represents the HTTP(S) endpoints on which this Member
	// serves its client-facing APIs. It is empty for a member that has not
	// started yet.
	ClientURLs []string `json:"clientURLs"`
}

// MembersAPI reads and changes the membership of an etcd cluster.
type MembersAPI interface {
	// List enumerates the current cluster membership.
	List(ctx context.Context) ([]Member, error)

	// Add instructs etcd to accept a new Member into the cluster. The peer
	// URL must be http(s)://host:port; a conflict with an existing member
	// is returned as an error with the server's message.
	Add(ctx context.Context, peerURL string) (*Member, error)

	// Remove demotes an existing Member out of the cluster. Removing a
	// member that was already removed succeeds.
	Remove(ctx context.Context, mID string) error

	// Update instructs etcd to update an existing Member in the cluster.
	Update(ctx context.Context, mID string, peerURLs []string) error

	// Leader gets current leader of the cluster. During an election the
	// server answers 503 and Leader returns an error.
	Leader(ctx context.Context) (*Member, error)
}

// NewMembersAPI constructs a new MembersAPI that uses HTTP to interact with
// etcd's membership API.
func NewMembersAPI(c Client) MembersAPI {
	return &httpMembersAPI{client: c}
}

type httpMembersAPI struct {
	client httpClient
}

func (m *httpMembersAPI) List(ctx context.Context) ([]Member, error) {
	resp, body, err := m.client.Do(ctx, &membersAction{method: http.MethodGet})
	if err != nil {
		return nil, err
	}
	if err := assertStatusCode(resp.StatusCode, http.StatusOK); err != nil {
		return nil, err
	}
	return decodeMemberList(body)
}

// decodeMemberList decodes {"members": [...]}; a missing or null list is an
// empty one.
func decodeMemberList(body []byte) ([]Member, error) {
	var list struct {
		Members []Member `json:"members"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	if list.Members == nil {
		return []Member{}, nil
	}
	return list.Members, nil
}

// decodeMember decodes one member, as Add and Leader are answered.
func decodeMember(body []byte) (*Member, error) {
	var m Member
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *httpMembersAPI) Add(ctx context.Context, peerURL string) (*Member, error) {
	urls, err := parsePeerURLs([]string{peerURL})
	if err != nil {
		return nil, err
	}
	resp, body, err := m.client.Do(ctx, &membersAction{method: http.MethodPost, peerURLs: urls})
	if err != nil {
		return nil, err
	}
	if err := assertStatusCode(resp.StatusCode, http.StatusCreated, http.StatusConflict); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, decodeMembersError(body)
	}
	return decodeMember(body)
}

func (m *httpMembersAPI) Update(ctx context.Context, memberID string, peerURLs []string) error {
	urls, err := parsePeerURLs(peerURLs)
	if err != nil {
		return err
	}
	resp, body, err := m.client.Do(ctx, &membersAction{method: http.MethodPut, memberID: memberID, peerURLs: urls})
	if err != nil {
		return err
	}
	if err := assertStatusCode(resp.StatusCode, http.StatusNoContent, http.StatusNotFound, http.StatusConflict); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent {
		return decodeMembersError(body)
	}
	return nil
}

func (m *httpMembersAPI) Remove(ctx context.Context, memberID string) error {
	resp, _, err := m.client.Do(ctx, &membersAction{method: http.MethodDelete, memberID: memberID})
	if err != nil {
		return err
	}
	// 410 Gone: the member was removed already, which is what was asked.
	return assertStatusCode(resp.StatusCode, http.StatusNoContent, http.StatusGone)
}

func (m *httpMembersAPI) Leader(ctx context.Context) (*Member, error) {
	resp, body, err := m.client.Do(ctx, &membersAction{method: http.MethodGet, memberID: defaultLeaderSuffix})
	if err != nil {
		return nil, err
	}
	if err := assertStatusCode(resp.StatusCode, http.StatusOK); err != nil {
		return nil, err
	}
	return decodeMember(body)
}

// membersAction is one request to /v2/members[/memberID].
type membersAction struct {
	method   string
	memberID string
	peerURLs []string
}

func (a *membersAction) describe() requestKind { return requestKind{write: isWriteMethod(a.method)} }

func (a *membersAction) HTTPRequest(ep url.URL) *http.Request {
	u := ep
	u.Path = path.Join(u.Path, defaultV2MembersPrefix, a.memberID)
	u.RawPath = ""
	if a.peerURLs == nil {
		return newRequest(a.method, &u, "", "")
	}
	b, err := json.Marshal(struct {
		PeerURLs []string `json:"peerURLs"`
	}{a.peerURLs})
	if err != nil {
		return nil
	}
	return newRequest(a.method, &u, string(b), "application/json")
}

// parsePeerURLs checks peer URLs before they are sent: http(s)://host:port
// without a path, or unix(s)://. It returns them trimmed and sorted.
func parsePeerURLs(in []string) ([]string, error) {
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

func assertStatusCode(got int, want ...int) error {
	for _, w := range want {
		if w == got {
			return nil
		}
	}
	return fmt.Errorf("unexpected status code %d", got)
}

// membersError is an error answered by the members API: {"message": "..."}.
type membersError struct {
	Message string `json:"message"`
	Code    int    `json:"-"`
}

func (e membersError) Error() string { return e.Message }

func decodeMembersError(body []byte) error {
	var merr membersError
	if err := json.Unmarshal(body, &merr); err != nil {
		return err
	}
	return merr
}
