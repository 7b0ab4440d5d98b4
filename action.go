package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// httpAction describes one API operation as a value whose only job is to
// build the HTTP request for a given endpoint. Retries, redirects, basic auth
// and timeouts are layers around it, so an action can be tested by looking
// at the request it builds.
type httpAction interface {
	HTTPRequest(url.URL) *http.Request
}

// httpClient sends an action to the cluster and returns the answer with its
// whole body.
type httpClient interface {
	Do(context.Context, httpAction) (*http.Response, []byte, error)
}

// retryPolicy says when an action whose attempt failed may be sent to the
// next endpoint: the rules Config.OneShotWrites states, one value each.
type retryPolicy int

const (
	// retryAlways: reads, and writes the server refuses to apply twice.
	retryAlways retryPolicy = iota
	// retryIfUnsent: moves on only when the request provably never
	// reached a member (plain and value-conditioned deletes).
	retryIfUnsent
	// resendUnlessStrict: retryAlways, or retryIfUnsent with
	// Config.OneShotWrites (plain and value-conditioned sets, updates,
	// in-order creates).
	resendUnlessStrict
)

type retryPolicyAction interface {
	retryPolicy() retryPolicy
}

func retryPolicyOf(act httpAction) retryPolicy {
	if a, ok := act.(retryPolicyAction); ok {
		return a.retryPolicy()
	}
	return retryAlways
}

// isWaitRequest reports whether req waits for an event (wait=true), which
// exempts it from the header timeout.
func isWaitRequest(req *http.Request) bool {
	if req.URL == nil || !strings.Contains(req.URL.RawQuery, "wait=") {
		return false
	}
	w, err := strconv.ParseBool(req.URL.Query().Get("wait"))
	return err == nil && w
}

// newRequest builds a request without a round trip through URL parsing. u is
// owned by the request afterwards.
func newRequest(method string, u *url.URL, body string, contentType string) *http.Request {
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, 2),
		Host:       u.Host,
	}
	if contentType != "" {
		req.Header["Content-Type"] = []string{contentType}
	}
	if body != "" {
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(strings.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(body)), nil
		}
	}
	return req
}
