package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// CheckRedirectFunc decides whether to follow another redirect. via is the
// number of requests already made for the call; a non-nil error stops the
// chain and becomes that endpoint's failure.
type CheckRedirectFunc func(via int) error

// DefaultCheckRedirect follows up to 10 redirects, but no more.
var DefaultCheckRedirect CheckRedirectFunc = func(via int) error {
	if via > 10 {
		return ErrTooManyRedirects
	}
	return nil
}

// maxRedirectChecks ends a chain even when CheckRedirect never objects.
const maxRedirectChecks = 100

// redirectedAction rebuilds the original request, so that its body is
// generated afresh, and sends it to the redirect's location.
type redirectedAction struct {
	action   httpAction
	location url.URL
}

func (r *redirectedAction) HTTPRequest(ep url.URL) *http.Request {
	req := r.action.HTTPRequest(ep)
	if req == nil {
		return nil
	}
	loc := r.location
	req.URL = &loc
	req.Host = loc.Host
	return req
}

// doFollowingRedirects sends act to ep and follows 3xx answers to their
// Location, asking checkRedirect before each new hop. Real etcd members do
// not redirect (followers forward writes themselves); proxies and etcd 0.4 do.
func (c *httpClusterClient) doFollowingRedirects(ctx context.Context, act httpAction, ep *url.URL, stream bool) (*http.Response, []byte, error) {
	next := act
	for i := 0; i < maxRedirectChecks; i++ {
		if i > 0 {
			if err := c.checkRedirect(i); err != nil {
				return nil, nil, err
			}
		}
		var resp *http.Response
		var body []byte
		var err error
		if stream {
			resp, err = c.endpoint.open(ctx, next, ep, true)
		} else {
			resp, body, err = c.endpoint.do(ctx, next, ep)
		}
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode/100 != 3 {
			return resp, body, nil
		}
		if stream {
			resp.Body.Close()
		}
		hdr := resp.Header.Get("Location")
		if hdr == "" {
			return nil, nil, fmt.Errorf("location header not set")
		}
		loc, err := url.Parse(hdr)
		if err != nil {
			return nil, nil, fmt.Errorf("location header not valid URL: %s", hdr)
		}
		next = &redirectedAction{action: act, location: *loc}
	}
	return nil, nil, errTooManyRedirectChecks
}
