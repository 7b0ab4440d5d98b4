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

// send sends req to ep and follows 3xx answers to their Location, asking
// checkRedirect before each new hop; it returns the first other answer,
// its body open. Real etcd members do not redirect (followers forward
// writes themselves); proxies and etcd 0.4 do.
func (c *endpointClient) send(ctx context.Context, req *request, ep *url.URL) (*http.Response, error) {
	var loc *url.URL
	for i := 0; i < maxRedirectChecks; i++ {
		if i > 0 {
			if err := c.checkRedirect(i); err != nil {
				return nil, err
			}
		}
		resp, err := c.roundTrip(ctx, req, ep, loc)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 != 3 {
			return resp, nil
		}
		resp.Body.Close()
		hdr := resp.Header.Get("Location")
		if hdr == "" {
			return nil, fmt.Errorf("location header not set")
		}
		if loc, err = url.Parse(hdr); err != nil {
			return nil, fmt.Errorf("location header not valid URL: %s", hdr)
		}
	}
	return nil, errTooManyRedirectChecks
}
