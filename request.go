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
// build the HTTP request for a given endpoint. Retries, redirects, basic
// auth and timeouts are applied where the request is sent, so an action can
// be tested by looking at the request it builds.
type httpAction interface {
	HTTPRequest(url.URL) *http.Request
}

// httpClient sends an action to the cluster and returns the final answer
// with its whole body, read and closed (at most Config.MaxResponseBytes).
type httpClient interface {
	Do(context.Context, httpAction) (*http.Response, []byte, error)
}

// requestKind is what an action is, known before it is sent: how a failed
// attempt may be retried, whether the request waits for an event, whether
// it may change the keyspace.
type requestKind struct {
	retry retryPolicy
	// wait: the request waits for an event (a watch), so the header
	// timeout does not apply; liveness probes watch its member instead.
	wait bool
	// write: the request may change the keyspace, so whether it reached
	// the member is tracked.
	write bool
}

// kindedAction is an action of this package: it says what it is.
type kindedAction interface {
	describe() requestKind
}

// kindOf returns what act is. An action from outside the package (Do is
// reachable through the Client interface) is judged once by the request it
// builds: its method, and a wait=true query.
func kindOf(act httpAction) requestKind {
	if a, ok := act.(kindedAction); ok {
		return a.describe()
	}
	req := act.HTTPRequest(url.URL{Scheme: "http", Host: "localhost"})
	if req == nil {
		return requestKind{}
	}
	k := requestKind{write: isWriteMethod(req.Method)}
	if req.URL != nil && strings.Contains(req.URL.RawQuery, "wait=") {
		w, err := strconv.ParseBool(req.URL.Query().Get("wait"))
		k.wait = err == nil && w
	}
	return k
}

// isWriteMethod reports whether a request with this method may change the
// keyspace.
func isWriteMethod(method string) bool {
	return method != http.MethodGet && method != http.MethodHead
}

// request is one call as the client sends it, decided once when the call
// starts: the action, what it is (with Config.OneShotWrites applied to its
// retry policy), and how its answer is read: handed over open, or read
// within the attempt by the call's answerReader.
type request struct {
	action httpAction
	kind   requestKind
	// open: the final answer is handed to the caller with its body open,
	// to be read as it arrives and closed by the caller (Walk, streams).
	open bool
}

// answerReader reads a final answer, of a request that is not open,
// within the attempt that received it, so that a body that fails to
// arrive moves the request on to the next endpoint. It is the API
// method's: the decoded answer goes to the method's own variables, never
// into the request. The client closes the body after.
type answerReader func(*http.Response, *guardedBody) error

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
