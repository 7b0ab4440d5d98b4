//go:build !v2keys_core

package impl

import "errors"

// ErrUnavailable is returned by New of an implementation that is not
// built in.
var ErrUnavailable = errors.New("impl: v2keys core not merged yet")

// V2keys is a placeholder until the library core lands.
func V2keys() Impl {
	return Impl{
		Name:  "v2keys",
		New:   func(string) (Keys, error) { return nil, ErrUnavailable },
		Count: func(any) int { return 0 },
	}
}
