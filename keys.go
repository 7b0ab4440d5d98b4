package client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// PrevExistType is used to define an existence condition when setting or
// deleting Nodes.
type PrevExistType string

// Existence conditions for SetOptions.PrevExist.
const (
	PrevIgnore  = PrevExistType("")
	PrevExist   = PrevExistType("true")
	PrevNoExist = PrevExistType("false")
)

const defaultV2KeysPrefix = "/v2/keys"

const formContentType = "application/x-www-form-urlencoded"

// KeysAPI reads and writes the v2 keyspace. Every call is safe for
// concurrent use.
type KeysAPI interface {
	// Get retrieves a set of Nodes from etcd. A large answer (over 128
	// KiB) is decoded as it arrives, never held whole next to the tree;
	// Config.MaxResponseBytes bounds its size.
	Get(ctx context.Context, key string, opts *GetOptions) (*Response, error)

	// Set assigns a new value to a Node identified by a given key. The caller
	// may define a set of conditions in the SetOptions. If SetOptions.Dir=true
	// then value is ignored.
	//
	// Whether a Set that failed on one member is sent to another depends
	// on its conditions and on Config.OneShotWrites, which states the rules;
	// an error for which errors.Is(err, ErrOutcomeUnknown) holds means it
	// may have been applied.
	Set(ctx context.Context, key, value string, opts *SetOptions) (*Response, error)

	// Delete removes a Node identified by the given key, optionally destroying
	// all of its children as well. The caller may define a set of required
	// conditions in an DeleteOptions object.
	//
	// Whether a Delete that failed on one member is sent to another is
	// stated by Config.OneShotWrites; an error for which errors.Is(err,
	// ErrOutcomeUnknown) holds means it may have been applied.
	Delete(ctx context.Context, key string, opts *DeleteOptions) (*Response, error)

	// Create is an alias for Set w/ PrevExist=false. As upstream's, it is
	// not sent to another member once its request may have reached one (a
	// late copy would bring the key back if it were deleted in between),
	// in either setting of Config.OneShotWrites, which states the rules:
	// the call then fails with an error for which errors.Is(err,
	// ErrOutcomeUnknown) holds, and the next call starts at the next
	// member. A request that provably never left moves on.
	Create(ctx context.Context, key, value string) (*Response, error)

	// CreateInOrder is used to atomically create in-order keys within the given directory.
	// Applied twice it would create two keys; whether it is resent to
	// another member after a failure is stated by Config.OneShotWrites.
	CreateInOrder(ctx context.Context, dir, value string, opts *CreateInOrderOptions) (*Response, error)

	// Update is an alias for Set w/ PrevExist=true. Whether it is resent
	// to another member after a failure is stated by Config.OneShotWrites.
	Update(ctx context.Context, key, value string) (*Response, error)

	// Watcher builds a new Watcher targeted at a specific Node identified
	// by the given key. The Watcher may be configured at creation time
	// through a WatcherOptions object. The returned Watcher is designed
	// to emit events that happen to a Node, and optionally to its children.
	Watcher(key string, opts *WatcherOptions) Watcher
}

// GetOptions are the options of KeysAPI.Get. A nil *GetOptions means all
// zero.
type GetOptions struct {
	// Recursive defines whether or not all children of the Node
	// should be returned.
	Recursive bool

	// Sort instructs the server whether or not to sort the Nodes.
	// If true, the Nodes are sorted alphabetically by key in
	// ascending order (A to z). If false (default), the Nodes will
	// not be sorted and the ordering used should not be considered
	// predictable.
	Sort bool

	// Quorum specifies whether it gets the latest committed value that
	// has been applied in quorum of members, which ensures external
	// consistency (or linearizability).
	Quorum bool
}

// SetOptions are the options of KeysAPI.Set. A nil *SetOptions means all
// zero: an unconditional set without TTL.
type SetOptions struct {
	// PrevValue specifies what the current value of the Node must
	// be in order for the Set operation to succeed.
	//
	// Leaving this field empty means that the caller wishes to
	// ignore the current value of the Node. This cannot be used
	// to compare the Node's current value to an empty string.
	//
	// PrevValue is ignored if Dir=true
	PrevValue string

	// PrevIndex indicates what the current ModifiedIndex of the
	// Node must be in order for the Set operation to succeed.
	//
	// If PrevIndex is set to 0 (default), no comparison is made.
	PrevIndex uint64

	// PrevExist specifies whether the Node must currently exist
	// (PrevExist) or not (PrevNoExist). If the caller does not
	// care about existence, set PrevExist to PrevIgnore, or simply
	// leave it unset.
	//
	// With PrevNoExist the Set is a create (see KeysAPI.Create): etcd
	// ignores PrevValue and PrevIndex.
	PrevExist PrevExistType

	// TTL defines a period of time after-which the Node should
	// expire and no longer exist. Values <= 0 are ignored. Given
	// that the zero-value is ignored, TTL cannot be used to set
	// a TTL of 0. It is sent in whole seconds, rounded down.
	TTL time.Duration

	// Refresh set to true means a TTL value can be updated
	// without firing a watch or changing the node value. A
	// value must not be provided when refreshing a key.
	Refresh bool

	// Dir specifies whether or not this Node should be created as a directory.
	Dir bool

	// NoValueOnSuccess specifies whether the response contains the current value of the Node.
	// If set, the response will only contain the current value when the request fails.
	NoValueOnSuccess bool
}

// DeleteOptions are the options of KeysAPI.Delete. A nil *DeleteOptions
// means an unconditional delete of a key.
type DeleteOptions struct {
	// PrevValue specifies what the current value of the Node must
	// be in order for the Delete operation to succeed.
	//
	// Leaving this field empty means that the caller wishes to
	// ignore the current value of the Node. This cannot be used
	// to compare the Node's current value to an empty string.
	PrevValue string

	// PrevIndex indicates what the current ModifiedIndex of the
	// Node must be in order for the Delete operation to succeed.
	//
	// If PrevIndex is set to 0 (default), no comparison is made.
	PrevIndex uint64

	// Recursive defines whether or not all children of the Node
	// should be deleted. If set to true, all children of the Node
	// identified by the given key will be deleted. If left unset
	// or explicitly set to false, only a single Node will be
	// deleted.
	Recursive bool

	// Dir specifies whether or not this Node should be removed as a directory.
	Dir bool
}

// CreateInOrderOptions are the options of KeysAPI.CreateInOrder.
type CreateInOrderOptions struct {
	// TTL defines a period of time after-which the Node should
	// expire and no longer exist. Values <= 0 are ignored. Given
	// that the zero-value is ignored, TTL cannot be used to set
	// a TTL of 0.
	TTL time.Duration
}

// NewKeysAPI builds a KeysAPI that interacts with etcd's key-value API over
// HTTP.
func NewKeysAPI(c Client) KeysAPI {
	return NewKeysAPIWithPrefix(c, defaultV2KeysPrefix)
}

// NewKeysAPIWithPrefix acts like NewKeysAPI, but allows the caller to provide
// a custom base URL path. This should only be used in very rare cases.
func NewKeysAPIWithPrefix(c Client, p string) KeysAPI {
	return &httpKeysAPI{client: c, prefix: p}
}

type httpKeysAPI struct {
	client httpClient
	prefix string
}

func (k *httpKeysAPI) Set(ctx context.Context, key, val string, opts *SetOptions) (*Response, error) {
	act := &setAction{Prefix: k.prefix, Key: key, Value: val}
	if opts != nil {
		act.SetOptions = *opts
	}
	return k.do(ctx, act)
}

func (k *httpKeysAPI) Create(ctx context.Context, key, val string) (*Response, error) {
	return k.Set(ctx, key, val, &SetOptions{PrevExist: PrevNoExist})
}

func (k *httpKeysAPI) Update(ctx context.Context, key, val string) (*Response, error) {
	return k.Set(ctx, key, val, &SetOptions{PrevExist: PrevExist})
}

func (k *httpKeysAPI) CreateInOrder(ctx context.Context, dir, val string, opts *CreateInOrderOptions) (*Response, error) {
	act := &createInOrderAction{Prefix: k.prefix, Dir: dir, Value: val}
	if opts != nil {
		act.TTL = opts.TTL
	}
	return k.do(ctx, act)
}

func (k *httpKeysAPI) Delete(ctx context.Context, key string, opts *DeleteOptions) (*Response, error) {
	act := &deleteAction{Prefix: k.prefix, Key: key}
	if opts != nil {
		act.DeleteOptions = *opts
	}
	return k.do(ctx, act)
}

func (k *httpKeysAPI) Get(ctx context.Context, key string, opts *GetOptions) (*Response, error) {
	act := &getAction{Prefix: k.prefix, Key: key}
	if opts != nil {
		act.GetOptions = *opts
	}
	return k.do(ctx, act)
}

func (k *httpKeysAPI) do(ctx context.Context, act httpAction) (*Response, error) {
	res, _, err := doKeys(ctx, k.client, act)
	return res, err
}

// doKeys sends a keys request through c and decodes its answer: a
// Response with its headers, or the API's Error. A Client made by New reads
// the answer within the attempt, a large one decoded as it arrives; any
// other Client is asked through Do. The answer's headers come back too,
// even with an Error.
func doKeys(ctx context.Context, c httpClient, act httpAction) (*Response, http.Header, error) {
	hc, ok := c.(*httpClusterClient)
	if !ok {
		resp, body, err := c.Do(ctx, act)
		if err != nil {
			return nil, nil, err
		}
		res, err := unmarshalHTTPResponse(resp.StatusCode, resp.Header, body)
		return res, resp.Header, err
	}
	var res *Response
	var header http.Header
	req := hc.request(act)
	_, err := hc.send(ctx, &req, func(resp *http.Response, g *guardedBody) (err error) {
		header = resp.Header
		res, err = readKeysAnswer(resp, g, hc.endpoint.maxBody)
		return err
	})
	return res, header, err
}

// streamThreshold is the size above which a successful keys answer is
// decoded as it is read instead of being buffered whole: a small answer is
// cheapest decoded in place (its strings alias the buffer), a large one
// (a recursive GET of a big keyspace, which etcd sends chunked, without
// Content-Length) would cost the whole body on top of the tree. Measured
// with the bench fixture: at 128 KiB a 1k-key GET (290 KB) takes 0.56 ms
// and allocates 0.84 MB, at 1 MiB 0.70 ms and 1.5 MB.
const streamThreshold = 128 << 10

// readKeysAnswer reads and decodes a final answer of the keys API, body g,
// of at most limit bytes: a success whole when it is small, otherwise
// decoded as it arrives; any other status as the API's Error. A failure to
// read is g's (see guardedBody.failed), and is returned too.
func readKeysAnswer(resp *http.Response, g *guardedBody, limit int64) (*Response, error) {
	ok := resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated
	if !ok || g.length >= 0 && (g.length <= streamThreshold || g.length > limit) {
		body, err := g.readAll(limit)
		if err != nil {
			return nil, err
		}
		return unmarshalHTTPResponse(resp.StatusCode, resp.Header, body)
	}
	g.limit = limit
	head, err := readUpTo(g, streamThreshold+1)
	if err != nil {
		return nil, err
	}
	if len(head) <= streamThreshold {
		return unmarshalHTTPResponse(resp.StatusCode, resp.Header, head)
	}
	res := new(Response)
	if err := decodeStreamResponseAfter(head, g, res); err != nil {
		var re *readError
		if errors.As(err, &re) {
			return nil, g.fail(re.err) // g's own failure, or a token too large
		}
		return nil, ErrInvalidJSON
	}
	return withHeaders(res, resp.Header)
}

// unmarshalHTTPResponse turns a final answer of the keys API into a Response
// or an Error. Only 200 and 201 are successes.
func unmarshalHTTPResponse(code int, header http.Header, body []byte) (*Response, error) {
	if code != http.StatusOK && code != http.StatusCreated {
		return nil, decodeKeysError(body)
	}
	if len(body) == 0 {
		return nil, ErrEmptyBody
	}
	res := new(Response)
	if err := decodeResponse(body, res); err != nil {
		return nil, ErrInvalidJSON
	}
	return withHeaders(res, header)
}

// withHeaders sets the Response's Index and ClusterID from etcd's headers.
func withHeaders(res *Response, header http.Header) (*Response, error) {
	if idx := headerValue(header, "X-Etcd-Index"); idx != "" {
		var err error
		if res.Index, err = strconv.ParseUint(idx, 10, 64); err != nil {
			return nil, err
		}
	}
	res.ClusterID = headerValue(header, "X-Etcd-Cluster-Id")
	return res, nil
}

// headerValue is Header.Get for a key already in canonical form.
func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// decodeKeysError decodes an error body into the value Error.
func decodeKeysError(body []byte) error {
	var e Error
	if err := unmarshalJSON(body, &e); err != nil {
		return ErrInvalidJSON
	}
	return e
}
