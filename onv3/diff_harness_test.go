package onv3

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// A differential scenario runs the same steps against native v2 (the root
// client on etcd --enable-v2) and against onv3 on the v3 API, and compares
// normalised transcripts: actions, keys, values, dirs, children, error codes
// and causes, TTL presence, and index relations (indexes are replaced by
// their order of first appearance, so "the same index as step 2's node" is
// compared, not the number).

// env is what a step sees: the KeysAPI under test, a function that puts a
// relative key under the scenario's base, and the earlier responses.
type env struct {
	k    client.KeysAPI
	base string
	rs   []*client.Response

	lastInOrder string // the key of the last CreateInOrder
}

func (e *env) key(k string) string { return e.base + k }

// modOf is the ModifiedIndex of step i's node.
func (e *env) modOf(i int) uint64 {
	if e.rs[i] == nil || e.rs[i].Node == nil {
		return 999999999
	}
	return e.rs[i].Node.ModifiedIndex
}

type step struct {
	name string
	do   func(ctx context.Context, e *env) (*client.Response, error)
	// noCreated drops CreatedIndex from the step's transcript line, for
	// the documented difference of a plain Set over an existing key.
	noCreated bool
}

func runSteps(t *testing.T, k client.KeysAPI, base string, steps []step) []string {
	t.Helper()
	ctx := testCtx(t)
	e := &env{k: k, base: base}
	nz := &normaliser{base: base, labels: map[uint64]int{}}
	var out []string
	for _, s := range steps {
		r, err := s.do(ctx, e)
		e.rs = append(e.rs, r)
		out = append(out, s.name+": "+nz.response(r, err, s.noCreated))
	}
	return out
}

// differential runs steps on both sides and fails on any difference.
func differential(t *testing.T, steps []step) {
	t.Helper()
	base := "/d" + strings.ReplaceAll(etcdtest.UniquePrefix(t), "/", "_")
	v2 := runSteps(t, newNativeV2(t), base, steps)
	k, _, _ := newOnV3(t)
	v3 := runSteps(t, k, base, steps)
	for i := range v2 {
		if testing.Verbose() {
			t.Logf("%2d %s", i, v2[i])
		}
		if v2[i] != v3[i] {
			t.Errorf("step %d differs\n  v2:   %s\n  onv3: %s", i, v2[i], v3[i])
		}
	}
}

type normaliser struct {
	base   string
	labels map[uint64]int
}

func (n *normaliser) label(i uint64) string {
	if i == 0 {
		return "0"
	}
	l, ok := n.labels[i]
	if !ok {
		l = len(n.labels) + 1
		n.labels[i] = l
	}
	return fmt.Sprintf("#%d", l)
}

var (
	digits       = regexp.MustCompile(`[0-9]+`)
	inOrderNames = regexp.MustCompile(`/[0-9]{20}\b`)
)

func (n *normaliser) key(k string) string {
	if k == n.base {
		return "<base>"
	}
	return inOrderNames.ReplaceAllString(strings.TrimPrefix(k, n.base), "/<n>")
}

func (n *normaliser) response(r *client.Response, err error, noCreated bool) string {
	if err != nil {
		var ce client.Error
		if errors.As(err, &ce) {
			cause := strings.ReplaceAll(ce.Cause, n.base, "")
			if ce.Code == client.ErrorCodeTestFailed {
				cause = digits.ReplaceAllString(cause, "N")
			}
			return fmt.Sprintf("error %d %q %q index>0:%v", ce.Code, ce.Message, cause, ce.Index > 0)
		}
		return "go error: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s", r.Action)
	if r.Node != nil {
		b.WriteString(" node=" + n.node(r.Node, noCreated))
		switch {
		case r.Index == r.Node.ModifiedIndex:
			b.WriteString(" index=mod")
		case r.Index > r.Node.ModifiedIndex:
			b.WriteString(" index>mod")
		default:
			b.WriteString(" index<mod!")
		}
	} else {
		b.WriteString(" node=nil")
	}
	if r.PrevNode != nil {
		b.WriteString(" prev=" + n.node(r.PrevNode, false))
	}
	return b.String()
}

func (n *normaliser) node(nd *client.Node, noCreated bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{%s", n.key(nd.Key))
	if nd.Dir {
		b.WriteString(" dir")
	} else {
		fmt.Fprintf(&b, " %q", nd.Value)
	}
	if !noCreated {
		fmt.Fprintf(&b, " c=%s", n.label(nd.CreatedIndex))
	}
	fmt.Fprintf(&b, " m=%s", n.label(nd.ModifiedIndex))
	if nd.TTL > 0 || nd.Expiration != nil {
		ok := nd.TTL > 0 && nd.Expiration != nil && time.Until(*nd.Expiration) < time.Duration(nd.TTL+2)*time.Second
		fmt.Fprintf(&b, " ttl:%v", ok)
	}
	if nd.Nodes != nil {
		kids := append(client.Nodes(nil), nd.Nodes...)
		sort.Sort(kids)
		b.WriteString(" [")
		for i, c := range kids {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(n.node(c, noCreated))
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	return b.String()
}

// Step builders.

func set(k, v string, o *client.SetOptions) step {
	return step{name: fmt.Sprintf("set %s %q %+v", k, v, o), do: func(ctx context.Context, e *env) (*client.Response, error) {
		return e.k.Set(ctx, e.key(k), v, o)
	}}
}

func get(k string, o *client.GetOptions) step {
	return step{name: fmt.Sprintf("get %s %+v", k, o), do: func(ctx context.Context, e *env) (*client.Response, error) {
		return e.k.Get(ctx, e.key(k), o)
	}}
}

func del(k string, o *client.DeleteOptions) step {
	return step{name: fmt.Sprintf("delete %s %+v", k, o), do: func(ctx context.Context, e *env) (*client.Response, error) {
		return e.k.Delete(ctx, e.key(k), o)
	}}
}

func create(k, v string) step {
	return step{name: fmt.Sprintf("create %s %q", k, v), do: func(ctx context.Context, e *env) (*client.Response, error) {
		return e.k.Create(ctx, e.key(k), v)
	}}
}

func update(k, v string) step {
	return step{name: fmt.Sprintf("update %s %q", k, v), do: func(ctx context.Context, e *env) (*client.Response, error) {
		return e.k.Update(ctx, e.key(k), v)
	}}
}

// casIndexOf is a compare-and-swap by the ModifiedIndex of step i's node.
func casIndexOf(k, v string, i int) step {
	return step{name: fmt.Sprintf("cas %s %q prevIndex=step%d", k, v, i), do: func(ctx context.Context, e *env) (*client.Response, error) {
		return e.k.Set(ctx, e.key(k), v, &client.SetOptions{PrevIndex: e.modOf(i)})
	}}
}

// cadIndexOf is a compare-and-delete by the ModifiedIndex of step i's node.
func cadIndexOf(k string, i int) step {
	return step{name: fmt.Sprintf("cad %s prevIndex=step%d", k, i), do: func(ctx context.Context, e *env) (*client.Response, error) {
		return e.k.Delete(ctx, e.key(k), &client.DeleteOptions{PrevIndex: e.modOf(i)})
	}}
}

func noCreated(s step) step { s.noCreated = true; return s }
