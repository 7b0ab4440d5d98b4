package client

// The redirect policy; transport.go follows redirects where a request is
// sent (endpointClient.send).

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
