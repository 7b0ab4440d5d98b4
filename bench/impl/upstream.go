package impl

import (
	"context"
	"errors"

	upstream "go.etcd.io/etcd/client/v2"
)

// Upstream returns the go.etcd.io/etcd/client/v2 client with its default
// Config (and so its DefaultTransport).
func Upstream() Impl {
	return Impl{
		Name: "upstream",
		New: func(endpoint string) (Keys, error) {
			c, err := upstream.New(upstream.Config{Endpoints: []string{endpoint}})
			if err != nil {
				return nil, err
			}
			return upstreamKeys{upstream.NewKeysAPI(c)}, nil
		},
		Count: func(resp any) int { return countUpstream(resp.(*upstream.Response).Node) },
	}
}

type upstreamKeys struct{ api upstream.KeysAPI }

func (k upstreamKeys) Get(ctx context.Context, key string, recursive bool) (any, error) {
	resp, err := k.api.Get(ctx, key, &upstream.GetOptions{Recursive: recursive})
	if err != nil {
		return nil, err
	}
	if resp.Node == nil {
		return nil, errors.New("impl: upstream: response without node")
	}
	return resp, nil
}

func (k upstreamKeys) Set(ctx context.Context, key, value string) error {
	_, err := k.api.Set(ctx, key, value, nil)
	return err
}

func countUpstream(n *upstream.Node) int {
	c := 0
	for _, ch := range n.Nodes {
		c += 1 + countUpstream(ch)
	}
	return c
}
