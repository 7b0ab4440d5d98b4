package client

import (
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// The requests of the keys API as values (see httpAction): what each
// builds, and what it is (requestKind).

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

// withQuery sets u's query. An http(s) endpoint never carries a query of
// its own (parseEndpoint rejects one), so there is nothing to merge; a
// unix(s) endpoint's own query, which parseEndpoint lets through, is
// replaced.
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
}

func (g *getAction) describe() requestKind { return requestKind{} }

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
}

// A create (PrevNoExist) is sent again only when its request provably never
// left, as a plain delete: the server refuses a second copy only while the
// key exists, so a late first copy (a stopped member applies what it read
// from its socket when it resumes) brings the key back if it was deleted in
// between (found by internal/chaos). etcd ignores PrevIndex and PrevValue
// on a create, so they change nothing here. A compare-and-swap by index
// cannot apply twice: once a copy applied, the key's modifiedIndex has
// moved on for good. Any other set can: a late copy overwrites a newer
// value.
func (a *setAction) describe() requestKind {
	switch {
	case a.PrevExist == PrevNoExist:
		return requestKind{retry: retryIfUnsent, write: true}
	case a.PrevIndex != 0:
		return requestKind{retry: retryAlways, write: true}
	}
	return requestKind{retry: resendUnlessStrict, write: true}
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
}

// A delete by index cannot apply twice; any other delete could remove a key
// that was set again in between, so it is retried only when unsent.
func (a *deleteAction) describe() requestKind {
	if a.PrevIndex != 0 {
		return requestKind{retry: retryAlways, write: true}
	}
	return requestKind{retry: retryIfUnsent, write: true}
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
}

// Each application of an in-order create makes a new key.
func (a *createInOrderAction) describe() requestKind {
	return requestKind{retry: resendUnlessStrict, write: true}
}

func (a *createInOrderAction) HTTPRequest(ep url.URL) *http.Request {
	u := v2KeysURL(ep, a.Prefix, a.Dir)
	var form query
	if a.TTL > 0 {
		form.add("ttl", ttlSeconds(a.TTL))
	}
	form.add("value", a.Value)
	return newRequest(http.MethodPost, u, form.String(), formContentType)
}
