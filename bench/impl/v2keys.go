package impl

import (
	"context"
	"errors"

	v2keys "github.com/v2keys/client"
)

// V2keys returns this repository's client with its default Config (and
// so its own default transport).
func V2keys() Impl {
	return Impl{
		Name: "v2keys",
		New: func(endpoint string) (Keys, error) {
			c, err := v2keys.New(v2keys.Config{Endpoints: []string{endpoint}})
			if err != nil {
				return nil, err
			}
			return v2keysKeys{v2keys.NewKeysAPI(c)}, nil
		},
		Count: func(resp any) int { return countV2keys(resp.(*v2keys.Response).Node) },
	}
}

type v2keysKeys struct{ api v2keys.KeysAPI }

func (k v2keysKeys) Get(ctx context.Context, key string, recursive bool) (any, error) {
	resp, err := k.api.Get(ctx, key, &v2keys.GetOptions{Recursive: recursive})
	if err != nil {
		return nil, err
	}
	if resp.Node == nil {
		return nil, errors.New("impl: v2keys: response without node")
	}
	return resp, nil
}

func (k v2keysKeys) Set(ctx context.Context, key, value string) error {
	_, err := k.api.Set(ctx, key, value, nil)
	return err
}

func countV2keys(n *v2keys.Node) int {
	c := 0
	for _, ch := range n.Nodes {
		c += 1 + countV2keys(ch)
	}
	return c
}
