package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"time"

	client "github.com/v2keys/client"
)

// opTimeout bounds each operation of the workload.
const opTimeout = 4 * time.Second

// opWeights is the workload's mix: the relative frequency of each kind.
var opWeights = []struct {
	kind   Kind
	weight int
}{
	{Get, 26}, {Create, 8}, {Set, 16}, {CASValue, 12}, {CASIndex, 12},
	{CADIndex, 6}, {Delete, 8}, {CreateInOrder, 6}, {GetDir, 6},
}

// worker runs random operations through its own Client.
type worker struct {
	id   int
	kapi client.KeysAPI
	rng  *rand.Rand
	keys []string // plain keys
	dir  string   // the in-order directory
	hist *History
	seq  int
	// seen is the last node this worker saw of each key, to build
	// compare-and-swaps that can succeed.
	seen map[string]client.Node
}

// run issues operations until ctx ends, pausing a random 5-30 ms between
// them so that histories stay checkable.
func (w *worker) run(ctx context.Context) {
	total := 0
	for _, ow := range opWeights {
		total += ow.weight
	}
	for ctx.Err() == nil {
		n := w.rng.Intn(total)
		kind := Get
		for _, ow := range opWeights {
			if n < ow.weight {
				kind = ow.kind
				break
			}
			n -= ow.weight
		}
		w.do(ctx, kind, w.keys[w.rng.Intn(len(w.keys))])
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(5+w.rng.Intn(25)) * time.Millisecond):
		}
	}
}

// do runs one operation, records it and returns its outcome.
func (w *worker) do(ctx context.Context, kind Kind, key string) Result {
	w.seq++
	in := Input{Kind: kind, Key: key}
	if kind.isWrite() && kind != CADIndex && kind != Delete {
		in.Value = fmt.Sprintf("w%d-%d", w.id, w.seq)
	}
	seen, known := w.seen[key]
	switch kind {
	case CASValue:
		if !known {
			in.Kind = Get
		}
		in.PrevValue = seen.Value
	case CASIndex, CADIndex:
		if !known {
			in.Kind, in.Value = Get, ""
		}
		in.PrevIndex = seen.ModifiedIndex
	case CreateInOrder, GetDir:
		in.Key = w.dir
	}
	if in.Kind == Get {
		in.Value, in.PrevValue = "", ""
	}

	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	call := w.hist.Now()
	resp, err := w.send(octx, in)
	ret := w.hist.Now()

	res, code, dropped := Classify(in.Kind, err)
	rec := Record{Client: w.id, Call: call, Ret: ret, In: in, Out: Output{Result: res, Code: code}, Dropped: dropped}
	if err != nil {
		rec.Err = err.Error()
		var ke client.Error
		if res == Failed && errors.As(err, &ke) {
			rec.Out.EtcdIndex = ke.Index
		}
	}
	if res == Unknown {
		rec.Ret = Never
	}
	if res == OK {
		fillOutput(&rec.Out, in, resp)
	}
	w.learn(in, rec.Out)
	w.hist.Add(rec)
	return res
}

// send issues the client call for in.
func (w *worker) send(ctx context.Context, in Input) (*client.Response, error) {
	switch in.Kind {
	case Get, GetDir:
		return w.kapi.Get(ctx, in.Key, &client.GetOptions{Quorum: true, Sort: true, Recursive: in.Kind == GetDir})
	case Create:
		return w.kapi.Create(ctx, in.Key, in.Value)
	case Set:
		return w.kapi.Set(ctx, in.Key, in.Value, nil)
	case CASValue:
		return w.kapi.Set(ctx, in.Key, in.Value, &client.SetOptions{PrevValue: in.PrevValue})
	case CASIndex:
		return w.kapi.Set(ctx, in.Key, in.Value, &client.SetOptions{PrevIndex: in.PrevIndex})
	case CADIndex:
		return w.kapi.Delete(ctx, in.Key, &client.DeleteOptions{PrevIndex: in.PrevIndex})
	case Delete:
		return w.kapi.Delete(ctx, in.Key, nil)
	case CreateInOrder:
		return w.kapi.CreateInOrder(ctx, in.Key, in.Value, nil)
	}
	return nil, fmt.Errorf("chaos: unknown kind %v", in.Kind)
}

// fillOutput copies what the model checks from a successful answer.
func fillOutput(out *Output, in Input, resp *client.Response) {
	out.EtcdIndex = resp.Index
	if resp.Node != nil {
		out.Value, out.Index = resp.Node.Value, resp.Node.ModifiedIndex
	}
	if resp.PrevNode != nil {
		out.PrevFound, out.PrevValue, out.PrevIndex = true, resp.PrevNode.Value, resp.PrevNode.ModifiedIndex
	}
	if in.Kind == GetDir && resp.Node != nil {
		nodes := append(client.Nodes(nil), resp.Node.Nodes...)
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Key < nodes[j].Key })
		for _, n := range nodes {
			out.Children = append(out.Children, Child{Value: n.Value, Index: n.ModifiedIndex})
		}
		out.Value, out.Index = "", 0
	}
	if in.Kind == GetDir || in.Kind == Get {
		out.PrevFound, out.PrevValue, out.PrevIndex = false, "", 0
	}
}

// learn remembers the node an answer showed, for later compare-and-swaps.
func (w *worker) learn(in Input, out Output) {
	if in.Kind == CreateInOrder || in.Kind == GetDir {
		return
	}
	switch {
	case out.Result == OK && (in.Kind == Delete || in.Kind == CADIndex):
		delete(w.seen, in.Key)
	case out.Result == OK && in.Kind == Get:
		w.seen[in.Key] = client.Node{Value: out.Value, ModifiedIndex: out.Index}
	case out.Result == OK:
		w.seen[in.Key] = client.Node{Value: in.Value, ModifiedIndex: out.Index}
	case out.Result == Failed && out.Code == 100:
		delete(w.seen, in.Key)
	}
}
