package onv3

import (
	"context"
	"errors"
	"fmt"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Error codes the v2 server answers that the client package does not name.
const (
	codeRefreshValue       = 211
	codeRefreshTTLRequired = 212
)

// messages are the v2 server's texts for its error codes.
var messages = map[int]string{
	client.ErrorCodeKeyNotFound:       "Key not found",
	client.ErrorCodeTestFailed:        "Compare failed",
	client.ErrorCodeNotFile:           "Not a file",
	client.ErrorCodeNotDir:            "Not a directory",
	client.ErrorCodeNodeExist:         "Key already exists",
	client.ErrorCodeRootROnly:         "Root is read only",
	client.ErrorCodeDirNotEmpty:       "Directory not empty",
	client.ErrorCodePrevValueRequired: "PrevValue is Required in POST form",
	codeRefreshValue:                  "Value provided on refresh",
	codeRefreshTTLRequired:            "A TTL must be provided on refresh",
	client.ErrorCodeEventIndexCleared: "The event in requested index is outdated and cleared",
}

// v2Error builds the error value the v2 server would have answered.
func v2Error(code int, cause string, index int64) error {
	return client.Error{Code: code, Message: messages[code], Cause: cause, Index: uint64(index)}
}

// ErrUnsupported is wrapped by the errors of options and combinations that
// onv3 cannot honour as v2 does; the message names the limitation.
var ErrUnsupported = errors.New("onv3: not supported on the v3 API")

func unsupported(what string) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, what)
}

// readErr reports a failed read: the context's own error when it ended,
// else the v3 error wrapped.
func readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("onv3: v3 read: %w", err)
}

// writeErr reports a failed transaction. An error the server answered
// before applying anything is definite. A context that ended is returned as
// itself, as the v2 client does; like any other failure (wrapped with
// client.ErrOutcomeUnknown) it leaves the outcome unknown.
func writeErr(ctx context.Context, err error) error {
	if definite(err) {
		return fmt.Errorf("onv3: v3 write refused: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err() // as the v2 client: the write may have been applied
	}
	return fmt.Errorf("onv3: %w: v3 write: %w", client.ErrOutcomeUnknown, err)
}

// definite reports whether the server refused a request without applying it.
func definite(err error) bool {
	for _, e := range []error{rpctypes.ErrTooManyOps, rpctypes.ErrLeaseNotFound, rpctypes.ErrRequestTooLarge,
		rpctypes.ErrDuplicateKey, rpctypes.ErrPermissionDenied, rpctypes.ErrUserEmpty, rpctypes.ErrAuthNotEnabled,
		rpctypes.ErrInvalidAuthToken, rpctypes.ErrKeyNotFound, rpctypes.ErrEmptyKey} {
		if errors.Is(err, e) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(e) {
			return true
		}
	}
	return false
}
