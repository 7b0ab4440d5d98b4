package impl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Raw returns plain net/http sending the same requests as the upstream
// client (same method, URL, query and form body) and reading each response
// body to the end without keeping or decoding it. It uses a clone of
// http.DefaultTransport allowing as many idle connections per host as the
// largest benchmark concurrency, so it is the floor the clients are
// measured against.
func Raw() Impl {
	return Impl{
		Name: "raw",
		New: func(endpoint string) (Keys, error) {
			if _, err := url.Parse(endpoint); err != nil {
				return nil, err
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 128
			return &rawKeys{base: strings.TrimSuffix(endpoint, "/") + "/v2/keys", hc: &http.Client{Transport: tr}}, nil
		},
		Count: func(resp any) int { return int(resp.(int64)) },
	}
}

type rawKeys struct {
	base string
	hc   *http.Client
}

func (k *rawKeys) Get(ctx context.Context, key string, recursive bool) (any, error) {
	q := "?quorum=false&recursive=false&sorted=false"
	if recursive {
		q = "?quorum=false&recursive=true&sorted=false"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.base+key+q, nil)
	if err != nil {
		return nil, err
	}
	return k.do(req)
}

func (k *rawKeys) Set(ctx context.Context, key, value string) error {
	form := "value=" + url.QueryEscape(value)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, k.base+key, strings.NewReader(form))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err = k.do(req)
	return err
}

// do sends req and drains the body, returning its length as an int64 (one
// small allocation to box it, the only one raw adds to net/http's).
func (k *rawKeys) do(req *http.Request) (any, error) {
	resp, err := k.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("impl: raw: %s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return n, nil
}
