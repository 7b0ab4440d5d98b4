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

// httpClusterClient is the Client: a pinned endpoint plus the others, tried
// round-robin from the pinned one when it fails.
type httpClusterClient struct {
	endpoint      endpointClient
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
		checkRedirect: cfg.checkRedirect(),
		closing:       ctx,
	}
	if cfg.Username != "" {
		c.endpoint.credentials = &credentials{username: cfg.Username, password: cfg.Password}
	}
	if probe := cfg.watchProbeInterval(); probe > 0 {
		c.endpoint.liveness = newLiveness(ctx, probe, c.endpoint)
	}
	if err := c.SetEndpoints(cfg.Endpoints); err != nil {
		return nil, err
	}
	return c, nil
}

// Do sends act to the pinned endpoint and, while attempts fail with a
// transport error or a 5xx status, to the other endpoints in turn, within
// the limits Config.OneShotWrites states for writes. Any other status is
// final and returned with its whole body for the API layer to decode,
// except a conflict that an earlier attempt of the same write may have
// caused: that is a *ClusterError reporting ErrOutcomeUnknown. A context
// error is returned as itself; when no endpoint served the request, a
// *ClusterError lists the failures.
func (c *httpClusterClient) Do(ctx context.Context, act httpAction) (*http.Response, []byte, error) {
	var body []byte
	req := c.request(act)
	resp, err := c.send(ctx, &req, func(_ *http.Response, g *guardedBody) (err error) {
		body, err = g.readAll(c.endpoint.maxBody)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// open is Do for an answer to be read as it arrives: the response's body
// is open, and the caller must close it.
func (c *httpClusterClient) open(ctx context.Context, act httpAction) (*http.Response, error) {
	req := c.request(act)
	req.open = true
	return c.send(ctx, &req, nil)
}

// request describes a call of act.
func (c *httpClusterClient) request(act httpAction) request {
	k := kindOf(act)
	k.retry = k.retry.resolve(c.oneShotWrites)
	return request{action: act, kind: k}
}

// send sends req to the pinned endpoint and, while attempts fail, to the
// others in turn, within req's retry policy. It returns the final answer
// with the error read returned for it (its body read and closed), or,
// for an open request, with its body open. A context error is returned as
// itself; when no endpoint served the request, a *ClusterError lists the
// failures. A write that may have been applied by an attempt is not sent
// again under retryIfUnsent; the next call then starts at the following
// endpoint.
func (c *httpClusterClient) send(ctx context.Context, req *request, read answerReader) (*http.Response, error) {
	if c.closed.Load() {
		return nil, ErrClientClosed
	}
	c.mu.RLock()
	eps, pinned := c.endpoints, c.pinned
	c.mu.RUnlock()

	n := len(eps)
	if n == 0 {
		return nil, ErrNoEndpoints
	}

	var errs []error
	for i := pinned; i < pinned+n; i++ {
		k := i % n
		resp, err := c.endpoint.send(ctx, req, &eps[k])
		var final error
		if err == nil {
			final, err = c.answer(req, read, resp, &eps[k], errs)
		}
		if err == nil {
			if k != pinned {
				c.movePin(eps, k)
			}
			if final != nil {
				return nil, final
			}
			return resp, nil
		}
		if endsCall(err) {
			return nil, err
		}
		errs = append(errs, err)
		if req.kind.retry == retryIfUnsent && mayHaveApplied(err) {
			c.movePin(eps, (k+1)%n)
			return nil, &ClusterError{Errors: errs}
		}
	}
	return nil, &ClusterError{Errors: errs}
}

// answer reads the answer resp of one attempt at ep. A 5xx, or a body
// that fails to arrive, is the attempt's failure (an *attemptError, or an
// error that ends the call); any other answer is final, and answer returns
// what reading it gave: read's error, or, for a conflict that an
// earlier attempt (errs) may have caused, a *ClusterError reporting an
// unknown outcome.
func (c *httpClusterClient) answer(req *request, read answerReader, resp *http.Response, ep *url.URL, errs []error) (final, failure error) {
	g := resp.Body.(*guardedBody)
	if resp.StatusCode/100 == 5 {
		g.Close()
		// The member answered, so a write reached it; etcd may still
		// commit a write it answered 500 for.
		return nil, &attemptError{endpoint: ep.String(), err: serverError(ep, resp.StatusCode), mayHaveApplied: req.kind.write}
	}
	if conflictMayBeOurs(errs, resp.StatusCode) {
		// An earlier attempt may have applied this write, and this
		// refusal may be the consequence (a create finding the node it
		// made): the outcome is unknown, not failed.
		defer g.Close()
		body, err := g.readAll(1 << 20)
		if err != nil {
			return nil, attemptFailure(ep, err, req.kind.write)
		}
		return &ClusterError{Errors: append(errs, conflictError(resp.StatusCode, body))}, nil
	}
	if req.open {
		return nil, nil
	}
	defer g.Close()
	final = read(resp, g)
	if err := g.failed(); err != nil {
		// The headers came, so a write reached the member.
		return nil, attemptFailure(ep, err, req.kind.write)
	}
	return final, nil
}

// Close ends the client: it stops the liveness checks, ends the requests
// in flight that may last long (watches, streaming Watchers, and the
// answers of Walk, OpenSnapshot and Follow read as they arrive) with
// ErrClientClosed, releases the idle connections of the transport the
// client created (a Transport given in Config belongs to its owner), and
// makes every later request fail with ErrClientClosed. Other calls in
// flight end on their own contexts or timeouts. Close is reached by a type
// assertion:
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
// streamed answer from it failed after open returned, which send would
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
