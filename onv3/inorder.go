package onv3

import (
	"context"

	"github.com/v2keys/client"
)

// CreateInOrder is implemented in a later step.
func (k *keysAPI) CreateInOrder(ctx context.Context, dir, value string, opts *client.CreateInOrderOptions) (*client.Response, error) {
	return nil, unsupported("CreateInOrder")
}
