package client

import (
	"time"
)

// EndpointSelectionMode is the policy a Client uses to choose the member it
// sends requests to.
type EndpointSelectionMode int

const (
	// EndpointSelectionRandom is the default value of the 'SelectionMode'.
	// The client pins a random member of the cluster and stays with it for
	// as long as it answers; the others are tried in turn when it fails.
	EndpointSelectionRandom EndpointSelectionMode = iota

	// EndpointSelectionPrioritizeLeader pins the cluster leader, saving the
	// hop a follower makes to forward writes. The leader is only looked up
	// by Sync, so this mode should be used with Client.AutoSync(); until the
	// first Sync, endpoints are used in random order.
	EndpointSelectionPrioritizeLeader
)

// Config describes a Client: the cluster's endpoints and how to talk to them.
// The zero value of every field but Endpoints is usable.
type Config struct {
	// Endpoints defines a set of URLs (schemes, hosts and ports only)
	// that can be used to communicate with a logical etcd cluster, e.g.
	// "http://node1.example.com:2379". The scheme must be http or https
	// (unix and unixs are accepted as they are, for custom transports); New
	// rejects an endpoint without a scheme, and an http(s) endpoint without
	// a host or with a path, query or fragment.
	//
	// If multiple endpoints are provided, the Client will attempt to use
	// them all in the event that one or more of them are unusable. If
	// Client.Sync is ever called, the Client may cache an alternate set of
	// endpoints to continue operation.
	Endpoints []string

	// Transport is used by the Client to drive HTTP requests. If not
	// provided, DefaultTransport will be used.
	Transport CancelableTransport

	// CheckRedirect specifies the policy for handling HTTP redirects. It is
	// called before following each redirect with the number of requests
	// already made; an error stops the chain and counts as that endpoint's
	// failure. If nil, DefaultCheckRedirect (at most 10 redirects) is used.
	CheckRedirect CheckRedirectFunc

	// Username, when not empty, is sent with Password as HTTP basic
	// authentication on every request.
	Username string

	// Password is the password for Username.
	Password string

	// HeaderTimeoutPerRequest bounds the wait for response headers of each
	// single request to one endpoint, connection time included (each hop
	// of a redirect is a request of its own), and then every wait for more
	// of the response body (ErrResponseStalled). When it passes, the
	// attempt has failed and the request moves on to the next endpoint
	// within the rules of OneShotWrites. Requests that wait for an event
	// (watches) ignore it, because a proxy may hold their headers until the
	// event; WatchProbeInterval watches their members instead. Zero means
	// no timeout. The context of an API call bounds the call as a whole.
	HeaderTimeoutPerRequest time.Duration

	// SelectionMode specifies the policy for choosing the etcd member to
	// which requests are sent.
	SelectionMode EndpointSelectionMode

	// WatchProbeInterval is how often a member is asked for its /version
	// while a watch waits on it; a member that does not answer within the
	// interval is abandoned and the watch continues on another member from
	// the same index, so a stopped or partitioned member is noticed within
	// two intervals. One probe per member serves all of a client's watches.
	// Zero means 5 s; a negative value turns the probes off (upstream's
	// behaviour: such a watch waits forever).
	WatchProbeInterval time.Duration

	// OneShotWrites chooses whether a plain or value-conditioned set, an
	// update or an in-order create is resent to another member. This is
	// the one statement of the client's write-retry rules; the methods of
	// KeysAPI refer to it.
	//
	// A request moves on to the next member when its attempt fails (no
	// answer, a 5xx answer, a body that failed to arrive), with these
	// limits for writes that may have reached the member:
	//
	//   - Reads, compare-and-swaps and deletes by index (PrevIndex set,
	//     PrevExist not PrevNoExist), and the members and auth APIs'
	//     requests always move on: the server refuses to apply an indexed
	//     write twice. If a retry meets that refusal (it may have been
	//     caused by the first attempt), the call fails with an error for
	//     which errors.Is(err, ErrOutcomeUnknown) holds, not with the
	//     conflict.
	//   - Plain and value-conditioned deletes, and creates (PrevExist:
	//     PrevNoExist, whatever PrevIndex and PrevValue say: etcd ignores
	//     them on a create), never move on once they may have reached a
	//     member: the call fails with ErrOutcomeUnknown. Upstream sends
	//     them once too. A member can apply such a request late (a stopped
	//     member applies what it read from its socket when it resumes), so
	//     a copy resent elsewhere could apply twice: a late delete could
	//     remove a key set again in between, a late create bring back a key
	//     deleted in between.
	//   - Plain and value-conditioned sets, updates and in-order creates
	//     move on when OneShotWrites is false, the default, as upstream's
	//     do, for availability; when it is true they follow the rule of
	//     deletes and creates. Resent, they can apply twice the same way: a
	//     late set may undo a newer write, a late in-order create adds a
	//     second child.
	//
	// A write whose request provably never left (a refused connection, a
	// failed name lookup) always moves on. When a write is not sent again
	// because it may have reached a member, the call fails with
	// ErrOutcomeUnknown and the next call starts at the next member.
	OneShotWrites bool

	// MaxResponseBytes bounds the size of a response body: a larger answer
	// fails with ErrResponseTooLarge on that endpoint. It bounds a whole
	// answer to Get (even one decoded as it arrives) and to the other
	// calls, and each event of a streaming Watcher; Walk and OpenSnapshot
	// never hold their answer, so for them it bounds each single value in
	// it. Zero or less means 1 GiB.
	MaxResponseBytes int64
}

// defaultWatchProbeInterval: a watch on a silent member is abandoned within
// two intervals.
const defaultWatchProbeInterval = 5 * time.Second

func (cfg *Config) watchProbeInterval() time.Duration {
	if cfg.WatchProbeInterval == 0 {
		return defaultWatchProbeInterval
	}
	return cfg.WatchProbeInterval
}

func (cfg *Config) checkRedirect() CheckRedirectFunc {
	if cfg.CheckRedirect == nil {
		return DefaultCheckRedirect
	}
	return cfg.CheckRedirect
}
