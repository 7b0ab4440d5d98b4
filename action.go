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
