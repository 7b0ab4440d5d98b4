package client

import (
	"context"
	"math/rand"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
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
	// (unix and unixs are accepted for custom transports); New rejects an
	// endpoint without a scheme or host, or with a path.
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
	// single request to one endpoint, including connection time and
	// redirects; when it passes, the request moves on to the next endpoint.
	// Requests that wait for an event (watches) ignore it, because a proxy
	// may hold their headers until the event. Zero means no timeout. The
	// context of an API call bounds the call as a whole.
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

	// OneShotWrites chooses whether a write that could apply twice is
	// resent to another member. This is the one statement of the client's
	// write-retry rules; the methods of KeysAPI refer to it.
	//
	// A request moves on to the next member when its attempt fails (no
	// answer, a 5xx answer, a body that failed to arrive), with these
	// limits for writes that may have reached the member:
	//
	//   - Reads, creates (PrevExist: PrevNoExist), compare-and-swaps and
	//     deletes by index (PrevIndex set), and the members and auth APIs'
	//     requests always move on: the server refuses to apply a create or
	//     an indexed write twice. If a retry meets that refusal (it may have
	//     been caused by the first attempt), the call fails with an error
	//     for which errors.Is(err, ErrOutcomeUnknown) holds, not with the
	//     conflict.
	//   - Plain and value-conditioned deletes never move on once they may
	//     have reached a member: the call fails with ErrOutcomeUnknown.
	//   - Plain and value-conditioned sets, updates and in-order creates
	//     move on when OneShotWrites is false, the default, as upstream's
	//     do, for availability; when it is true they follow the rule of
	//     deletes. Such a request can be applied late (a stopped member
	//     applies what it read from its socket when it resumes), so a copy
	//     resent elsewhere may apply twice and the late copy may undo a
	//     newer write.
	//
	// A write whose request provably never left (a refused connection, a
	// failed name lookup) always moves on. After a failure with
	// ErrOutcomeUnknown the next call starts at the next member.
	OneShotWrites bool

	// MaxResponseBytes bounds the size of a response body the client reads
	// into memory; a larger answer fails with ErrResponseTooLarge on that
	// endpoint. Zero means 1 GiB.
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

// Client talks to an etcd cluster through its v2 HTTP API. It is safe for
// concurrent use by multiple goroutines. KeysAPI, MembersAPI and the auth
// APIs are built on top of it.
type Client interface {
	// Sync updates the client's endpoints from the cluster's membership:
	// the client URLs of all members.
	//
	// Loopback URLs (host "localhost", "*.localhost", 127.0.0.0/8, ::1,
	// 0.0.0.0 or ::; names are not resolved) are left out when the
	// endpoints last given to New or SetEndpoints include an http(s)
	// endpoint that is not loopback: such a URL names the client's own
	// machine, not the member (etcd-io/etcd#7588). If that leaves no URL,
	// Sync keeps the current endpoints and returns nil. A client
	// configured with loopback endpoints only uses every advertised URL.
	//
	// In EndpointSelectionRandom mode an unchanged set of URLs keeps the
	// current pin; a changed set is shuffled. In
	// EndpointSelectionPrioritizeLeader mode the leader's client URL is
	// pinned, and Sync fails with ErrNoLeaderEndpoint if the leader cannot
	// be found.
	Sync(context.Context) error

	// AutoSync calls Sync now and then every interval, until a Sync fails
	// or ctx ends; it returns that error or ctx.Err(). The recommended
	// interval is 10 seconds to 1 minute. Callers loop:
	//
	//	for {
	//		err := c.AutoSync(ctx, 10*time.Second)
	//		if err == context.DeadlineExceeded || err == context.Canceled {
	//			break
	//		}
	//		log.Print(err)
	//	}
	AutoSync(context.Context, time.Duration) error

	// Endpoints returns a copy of the current set of API endpoints used
	// by Client to resolve HTTP requests. If Sync has ever been called,
	// this may differ from the initial Endpoints provided in the Config.
	Endpoints() []string

	// SetEndpoints replaces the set of API endpoints used by Client. If the
	// given endpoints are not valid, an error is returned and the current
	// set is kept.
	SetEndpoints(eps []string) error

	// GetVersion retrieves the current etcd server and cluster version.
	GetVersion(ctx context.Context) (*Versions, error)

	httpClient
}

// Versions is the answer of an etcd member's /version endpoint. It has the
// same fields and JSON form as etcd's api/version.Versions, without the
// dependency on etcd's API module.
type Versions struct {
	// Server is the member's etcd version, e.g. "3.4.23".
	Server string `json:"etcdserver"`
	// Cluster is the version the cluster agreed on, e.g. "3.4.0", or
	// "not_decided" before the members agree.
	Cluster string `json:"etcdcluster"`
}

type credentials struct {
	username string
	password string
}

// httpClusterClient is the Client: a pinned endpoint plus the others, tried
// round-robin from the pinned one when it fails.
type httpClusterClient struct {
	endpoint      endpointClient
	checkRedirect CheckRedirectFunc
	credentials   *credentials
	selectionMode EndpointSelectionMode
	oneShotWrites bool

	// ctx ends when the client is closed; it bounds the liveness probes.
	ctx          context.Context
	cancel       context.CancelFunc
	closed       atomic.Bool
	ownTransport *http.Transport // created by New, closed by Close

	mu sync.RWMutex
	// endpoints is replaced as a whole, never changed in place, so that Do
	// can use its snapshot without holding the lock.
	endpoints []url.URL
	pinned    int
	// remoteConfigured records whether the endpoints last given to New or
	// SetEndpoints include a non-loopback http(s) endpoint; Sync then leaves
	// out members' loopback URLs.
	remoteConfigured bool

	randMu sync.Mutex
	rand   *rand.Rand
}

// New returns a Client for the cluster described by cfg. It fails with
// ErrNoEndpoints for an empty endpoint list and with a descriptive error
// for a malformed endpoint; it does not contact the cluster.
func New(cfg Config) (Client, error) {
	maxBody := cfg.MaxResponseBytes
	if maxBody <= 0 {
		maxBody = maxResponseBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &httpClusterClient{
		checkRedirect: cfg.checkRedirect(),
		selectionMode: cfg.SelectionMode,
		oneShotWrites: cfg.OneShotWrites,
		rand:          rand.New(rand.NewSource(time.Now().UnixNano())),
		ctx:           ctx,
		cancel:        cancel,
	}
	transport := cfg.Transport
	if transport == nil {
		transport = DefaultTransport
		if t, ok := DefaultTransport.(*http.Transport); ok {
			c.ownTransport = t.Clone()
			transport = c.ownTransport
		}
	}
	c.endpoint = endpointClient{
		transport:     transport,
		headerTimeout: cfg.HeaderTimeoutPerRequest,
		maxBody:       maxBody,
		closing:       ctx,
	}
	if probe := cfg.watchProbeInterval(); probe > 0 {
		c.endpoint.liveness = newLiveness(ctx, probe, c.endpoint)
	}
	if cfg.Username != "" {
		c.credentials = &credentials{username: cfg.Username, password: cfg.Password}
	}
	if err := c.SetEndpoints(cfg.Endpoints); err != nil {
		return nil, err
	}
	return c, nil
}

// Do sends act to the pinned endpoint and, while attempts fail with a
// transport error or a 5xx status, to the other endpoints in turn, within
// the limits Config.OneShotWrites states for writes. Any other status is
// final and returned with its whole body for the API layer to decode. A
// context error is returned as itself; when no endpoint served the request,
// a *ClusterError lists the failures.
func (c *httpClusterClient) Do(ctx context.Context, act httpAction) (*http.Response, []byte, error) {
	return c.do(ctx, act, false)
}

// doStream is Do for an answer to be read as it arrives: the response's
// body is open, and the caller must close it.
func (c *httpClusterClient) doStream(ctx context.Context, act httpAction) (*http.Response, error) {
	resp, _, err := c.do(ctx, act, true)
	return resp, err
}

func (c *httpClusterClient) do(ctx context.Context, act httpAction, stream bool) (*http.Response, []byte, error) {
	if c.closed.Load() {
		return nil, nil, ErrClientClosed
	}
	policy := retryPolicyOf(act)
	if policy == resendUnlessStrict {
		policy = retryAlways
		if c.oneShotWrites {
			policy = retryIfUnsent
		}
	}
	if c.credentials != nil {
		act = &authedAction{act: act, credentials: *c.credentials}
	}

	c.mu.RLock()
	eps, pinned := c.endpoints, c.pinned
	c.mu.RUnlock()

	n := len(eps)
	if n == 0 {
		return nil, nil, ErrNoEndpoints
	}

	var errs []error
	for i := pinned; i < pinned+n; i++ {
		k := i % n
		resp, body, err := c.doFollowingRedirects(ctx, act, &eps[k], stream)
		if err != nil {
			if endsCall(err) {
				return nil, nil, err
			}
		} else if resp.StatusCode/100 == 5 {
			if stream {
				resp.Body.Close()
			}
			// The member answered, so a write reached it; etcd may still
			// commit a write it answered 500 for.
			err = &attemptError{endpoint: eps[k].String(), err: serverError(&eps[k], resp.StatusCode), mayHaveApplied: isWriteResponse(resp)}
		}
		if err != nil {
			errs = append(errs, err)
			if policy == retryIfUnsent && mayHaveApplied(err) {
				c.movePin(eps, (k+1)%n)
				return nil, nil, &ClusterError{Errors: errs}
			}
			continue
		}
		if k != pinned {
			c.movePin(eps, k)
		}
		if conflictMayBeOurs(errs, resp.StatusCode) {
			// An earlier attempt may have applied this write, and this
			// refusal may be the consequence (a create finding the node it
			// made): the outcome is unknown, not failed.
			errs = append(errs, conflictError(resp, body, stream))
			return nil, nil, &ClusterError{Errors: errs}
		}
		return resp, body, nil
	}
	return nil, nil, &ClusterError{Errors: errs}
}

// Close ends the client: it stops the liveness checks and the requests that
// wait on them, releases the idle connections of the transport the client
// created (a Transport given in Config belongs to its owner), and makes
// every later call fail with ErrClientClosed. Calls in flight end on their
// own contexts or timeouts. Close is reached by a type assertion:
//
//	c.(io.Closer).Close()
func (c *httpClusterClient) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.cancel()
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	return nil
}

// movePin pins endpoint k of eps, unless the endpoints were replaced since
// eps was read.
func (c *httpClusterClient) movePin(eps []url.URL, k int) {
	c.mu.Lock()
	if sameEndpointSet(c.endpoints, eps) {
		c.pinned = k
	}
	c.mu.Unlock()
}

// unpin moves the pin to the next endpoint if u's endpoint is pinned: a
// streamed answer from it failed after doStream returned, which Do would
// have counted as that endpoint's failure.
func (c *httpClusterClient) unpin(u *url.URL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.endpoints); n > 1 {
		if ep := &c.endpoints[c.pinned]; ep.Scheme == u.Scheme && ep.Host == u.Host {
			c.pinned = (c.pinned + 1) % n
		}
	}
}

func sameEndpointSet(a, b []url.URL) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Endpoints returns the current endpoints, pinned or not, in the order they
// are tried.
func (c *httpClusterClient) Endpoints() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	eps := make([]string, len(c.endpoints))
	for i := range c.endpoints {
		eps[i] = c.endpoints[i].String()
	}
	return eps
}

// SetEndpoints validates eps, shuffles them and pins the first.
func (c *httpClusterClient) SetEndpoints(eps []string) error {
	neps, err := parseEndpoints(eps)
	if err != nil {
		return err
	}
	neps = c.shuffle(neps)
	remote := hasRemoteEndpoint(neps)
	c.mu.Lock()
	c.endpoints = neps
	c.pinned = 0
	c.remoteConfigured = remote
	c.mu.Unlock()
	return nil
}

// shuffle returns eps in a random order; the client's source of randomness
// is not safe for concurrent use, hence the lock.
func (c *httpClusterClient) shuffle(eps []url.URL) []url.URL {
	c.randMu.Lock()
	defer c.randMu.Unlock()
	c.rand.Shuffle(len(eps), func(i, j int) { eps[i], eps[j] = eps[j], eps[i] })
	return eps
}

// GetVersion asks the pinned member for its /version.
func (c *httpClusterClient) GetVersion(ctx context.Context) (*Versions, error) {
	resp, body, err := c.Do(ctx, &getAction{Prefix: "/version"})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, decodeKeysError(body)
	}
	return decodeVersions(body)
}

// decodeVersions decodes the answer of /version.
func decodeVersions(body []byte) (*Versions, error) {
	if len(body) == 0 {
		return nil, ErrEmptyBody
	}
	var v Versions
	if err := unmarshalJSON(body, &v); err != nil {
		return nil, ErrInvalidJSON
	}
	return &v, nil
}

// authedAction adds HTTP basic authentication to every request of act.
type authedAction struct {
	act         httpAction
	credentials credentials
}

func (a *authedAction) HTTPRequest(ep url.URL) *http.Request {
	req := a.act.HTTPRequest(ep)
	if req != nil {
		req.SetBasicAuth(a.credentials.username, a.credentials.password)
	}
	return req
}
