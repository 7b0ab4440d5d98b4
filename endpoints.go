package client

import (
	"fmt"
	"net/url"
	"strings"
)

// parseEndpoints parses and checks every endpoint, so that a typo fails at
// New or SetEndpoints with the endpoint named, instead of later as an opaque
// "cluster is unavailable".
func parseEndpoints(eps []string) ([]url.URL, error) {
	if len(eps) == 0 {
		return nil, ErrNoEndpoints
	}
	neps := make([]url.URL, len(eps))
	for i, ep := range eps {
		u, err := parseEndpoint(ep)
		if err != nil {
			return nil, err
		}
		neps[i] = *u
	}
	return neps, nil
}

func parseEndpoint(ep string) (*url.URL, error) {
	invalid := func(why string) error {
		return fmt.Errorf("client: invalid endpoint %q: %s", ep, why)
	}
	u, err := url.Parse(ep)
	if err != nil {
		if !strings.Contains(ep, "://") {
			return nil, invalid("missing scheme (want http:// or https://)")
		}
		return nil, fmt.Errorf("client: invalid endpoint %q: %w", ep, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "unix", "unixs":
		// Served by custom transports, as etcd's own tools do.
		return u, nil
	case "":
		return nil, invalid("missing scheme (want http:// or https://)")
	default:
		if u.Opaque != "" {
			// "host:2379" parses as scheme "host" with opaque "2379".
			return nil, invalid("missing scheme (want http:// or https://)")
		}
		return nil, invalid(fmt.Sprintf("unsupported scheme %q (want http or https)", u.Scheme))
	}
	if u.Host == "" {
		return nil, invalid("missing host")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, invalid(fmt.Sprintf("unexpected path %q (want scheme, host and port only)", u.Path))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, invalid("unexpected query or fragment (want scheme, host and port only)")
	}
	return u, nil
}
