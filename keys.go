package client

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
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
	// Get retrieves a set of Nodes from etcd.
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
	// conditions in an DeleteOptions object. Unless PrevIndex is set, a
	// Delete is not sent to a second member once it may have reached one
	// (see Config.OneShotWrites for the rules).
	Delete(ctx context.Context, key string, opts *DeleteOptions) (*Response, error)

	// Create is an alias for Set w/ PrevExist=false. The server refuses a
	// second application, so it fails over to the other members (see
	// Config.OneShotWrites for the rules).
	Create(ctx context.Context, key, value string) (*Response, error)

	// CreateInOrder is used to atomically create in-order keys within the given directory.
	// Applied twice it would create two keys; whether it is resent to
	// another member after a failure is Config.OneShotWrites's choice.
	CreateInOrder(ctx context.Context, dir, value string, opts *CreateInOrderOptions) (*Response, error)

	// Update is an alias for Set w/ PrevExist=true. Like a plain Set, it
	// is resent to another member after a failure unless
	// Config.OneShotWrites is set.
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

func (k *httpKeysAPI) do(ctx context.Context, act answerAction) (*Response, error) {
	resp, body, err := k.client.Do(ctx, act.(httpAction))
	if err != nil {
		return nil, err
	}
	if ans := act.answer(); ans.decoded {
		// A large answer, decoded while it was read.
		if ans.invalid != nil {
			return nil, ans.invalid
		}
		res := ans.res
		return withHeaders(&res, resp.Header)
	}
	return unmarshalHTTPResponse(resp.StatusCode, resp.Header, body)
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

// v2KeysURL forms the URL of key under prefix at endpoint ep. Like path.Join
// it cleans the path, but it keeps a trailing slash, as etcd's tools do.
func v2KeysURL(ep url.URL, prefix, key string) *url.URL {
	if prefix != "" && prefix[0] != '/' {
		prefix = "/" + prefix
	}
	if key != "" && key[0] != '/' {
		key = "/" + key
	}
	ep.Path = canonicalURLPath(ep.Path + prefix + key)
	ep.RawPath = ""
	return &ep
}

func canonicalURLPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// query builds a query string with its parameters in sorted order, the same
// bytes url.Values.Encode would produce. Parameters must be added in sorted
// order.
type query struct{ b strings.Builder }

func (q *query) add(key, value string) {
	if q.b.Len() > 0 {
		q.b.WriteByte('&')
	}
	q.b.WriteString(key)
	q.b.WriteByte('=')
	q.b.WriteString(url.QueryEscape(value))
}

func (q *query) String() string { return q.b.String() }

// withQuery sets u's query. Endpoints never carry a query of their own
// (parseEndpoint rejects one), so there is nothing to merge.
func withQuery(u *url.URL, q string) {
	u.RawQuery = q
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func ttlSeconds(ttl time.Duration) string {
	return strconv.FormatUint(uint64(ttl.Seconds()), 10)
}

type getAction struct {
	Prefix string
	Key    string
	GetOptions
	streamedAnswer
}

func (g *getAction) HTTPRequest(ep url.URL) *http.Request {
	u := v2KeysURL(ep, g.Prefix, g.Key)
	var q query
	q.add("quorum", formatBool(g.Quorum))
	q.add("recursive", formatBool(g.Recursive))
	q.add("sorted", formatBool(g.Sort))
	withQuery(u, q.String())
	return newRequest(http.MethodGet, u, "", "")
}

type setAction struct {
	Prefix string
	Key    string
	Value  string
	SetOptions
	streamedAnswer
}

// A create or a compare-and-swap by index cannot apply twice; any other set
// could, later, overwrite a newer value.
func (a *setAction) retryPolicy() retryPolicy {
	if a.PrevExist == PrevNoExist || a.PrevIndex != 0 {
		return retryAlways
	}
	return resendUnlessStrict
}

func (a *setAction) HTTPRequest(ep url.URL) *http.Request {
	u := v2KeysURL(ep, a.Prefix, a.Key)

	var q query
	if a.Dir {
		q.add("dir", "true")
	}
	if a.NoValueOnSuccess {
		q.add("noValueOnSuccess", "true")
	}
	if a.PrevExist != PrevIgnore {
		q.add("prevExist", string(a.PrevExist))
	}
	if a.PrevIndex != 0 {
		q.add("prevIndex", strconv.FormatUint(a.PrevIndex, 10))
	}
	if !a.Dir && a.PrevValue != "" {
		q.add("prevValue", a.PrevValue)
	}
	withQuery(u, q.String())

	var form query
	if a.Refresh {
		form.add("refresh", "true")
	}
	if a.TTL > 0 {
		form.add("ttl", ttlSeconds(a.TTL))
	}
	if !a.Dir {
		form.add("value", a.Value)
	}
	return newRequest(http.MethodPut, u, form.String(), formContentType)
}

type deleteAction struct {
	Prefix string
	Key    string
	DeleteOptions
	streamedAnswer
}

// A delete by index cannot apply twice; any other delete could remove a key
// that was set again in between, so it is retried only when unsent.
func (a *deleteAction) retryPolicy() retryPolicy {
	if a.PrevIndex != 0 {
		return retryAlways
	}
	return retryIfUnsent
}

func (a *deleteAction) HTTPRequest(ep url.URL) *http.Request {
	u := v2KeysURL(ep, a.Prefix, a.Key)
	var q query
	if a.Dir {
		q.add("dir", "true")
	}
	if a.PrevIndex != 0 {
		q.add("prevIndex", strconv.FormatUint(a.PrevIndex, 10))
	}
	if a.PrevValue != "" {
		q.add("prevValue", a.PrevValue)
	}
	if a.Recursive {
		q.add("recursive", "true")
	}
	withQuery(u, q.String())
	return newRequest(http.MethodDelete, u, "", formContentType)
}

type createInOrderAction struct {
	Prefix string
	Dir    string
	Value  string
	TTL    time.Duration
	streamedAnswer
}

// Each application of an in-order create makes a new key.
func (a *createInOrderAction) retryPolicy() retryPolicy { return resendUnlessStrict }

func (a *createInOrderAction) HTTPRequest(ep url.URL) *http.Request {
	u := v2KeysURL(ep, a.Prefix, a.Dir)
	var form query
	if a.TTL > 0 {
		form.add("ttl", ttlSeconds(a.TTL))
	}
	form.add("value", a.Value)
	return newRequest(http.MethodPost, u, form.String(), formContentType)
}
