// Package impl puts the clients under comparison behind one small
// interface, so every benchmark runs the same code for each of them.
//
// The three implementations are v2keys (this repository), upstream
// (go.etcd.io/etcd/client/v2) and raw (plain net/http issuing the same
// request and reading the body without decoding it: the floor).
package impl

import (
	"context"
	"fmt"
)

// Keys is the part of a keys API the benchmarks exercise.
type Keys interface {
	// Get reads key, with all descendants when recursive is set, and
	// returns the decoded response (for raw: the body length).
	Get(ctx context.Context, key string, recursive bool) (any, error)
	// Set writes value to key.
	Set(ctx context.Context, key, value string) error
}

// Impl is one client under comparison.
type Impl struct {
	// Name is the value of the impl= part of benchmark names.
	Name string
	// New returns a Keys talking to the etcd at endpoint (a base URL such
	// as http://127.0.0.1:2379). Clients use their own default transport.
	New func(endpoint string) (Keys, error)
	// Count returns the number of nodes below the top node of a response
	// returned by Get (for raw: the number of body bytes).
	Count func(resp any) int
}

// All returns the implementations in their default order.
func All() []Impl { return []Impl{V2keys(), Upstream(), Raw()} }

// Rotated returns All rotated left by round places, so that repeated runs
// alternate which client goes first.
func Rotated(round int) []Impl {
	all := All()
	n := len(all)
	round = ((round % n) + n) % n
	return append(all[round:], all[:round]...)
}

// ByName returns the implementation called name.
func ByName(name string) (Impl, error) {
	for _, im := range All() {
		if im.Name == name {
			return im, nil
		}
	}
	return Impl{}, fmt.Errorf("impl: unknown implementation %q", name)
}
