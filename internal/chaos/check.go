package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the result of checking one history.
type Verdict struct {
	Result porcupine.CheckResult
	// Visualization is the file porcupine's visualization was written to,
	// when the history is not linearizable.
	Visualization string
}

// Check checks ops for linearizability against Model within timeout. If the
// history is illegal, or the check did not finish, it writes porcupine's visualization to
// dir/name.html, annotated with notes (faults, say), and returns its path;
// an empty dir writes nothing.
func Check(ops []porcupine.Operation, timeout time.Duration, dir, name string, notes []porcupine.Annotation) (Verdict, error) {
	model := Model()
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	v := Verdict{Result: res}
	if res == porcupine.Ok || dir == "" {
		return v, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return v, fmt.Errorf("chaos: %w", err)
	}
	info.AddAnnotations(notes)
	v.Visualization = filepath.Join(dir, name+".html")
	if err := porcupine.VisualizePath(model, info, v.Visualization); err != nil {
		return v, fmt.Errorf("chaos: write visualization: %w", err)
	}
	return v, nil
}

// IndexViolation is a pair of operations whose etcd indexes contradict
// real time: After was called after Before returned, yet its index is not
// later.
type IndexViolation struct {
	Before, After Record
}

func (v IndexViolation) String() string {
	return fmt.Sprintf("%s on %s returned at %v with index %d, then %s on %s called at %v got index %d",
		v.Before.In.Kind, v.Before.In.Key, time.Duration(v.Before.Ret), position(v.Before),
		v.After.In.Kind, v.After.In.Key, time.Duration(v.After.Call), position(v.After))
}

// CheckIndexOrder checks, across all keys, that etcd's indexes agree with
// real time (the partitioned model cannot see this). Every answered
// operation has a position: a successful write its new modifiedIndex, a
// read or a refused write the X-Etcd-Index of its answer. If A returned
// before B was called, a write B needs a position above A's and a read B
// one at least A's. It returns the violations found (at most one per B).
func CheckIndexOrder(recs []Record) []IndexViolation {
	var answered []Record
	for _, r := range recs {
		if !r.Dropped && r.Ret != Never && position(r) != 0 {
			answered = append(answered, r)
		}
	}
	byRet := slices.Clone(answered)
	sort.Slice(byRet, func(i, j int) bool { return byRet[i].Ret < byRet[j].Ret })
	byCall := slices.Clone(answered)
	sort.Slice(byCall, func(i, j int) bool { return byCall[i].Call < byCall[j].Call })

	var out []IndexViolation
	var maxRec Record
	var maxPos uint64
	j := 0
	for _, b := range byCall {
		for j < len(byRet) && byRet[j].Ret < b.Call {
			if p := position(byRet[j]); p > maxPos {
				maxPos, maxRec = p, byRet[j]
			}
			j++
		}
		p := position(b)
		if p < maxPos || (p == maxPos && b.Out.Result == OK && b.In.Kind.isWrite()) {
			out = append(out, IndexViolation{Before: maxRec, After: b})
		}
	}
	return out
}

// position is the etcd index an answered operation vouches for.
func position(r Record) uint64 {
	if r.Out.Result == OK && r.In.Kind.isWrite() {
		return r.Out.Index
	}
	return r.Out.EtcdIndex
}

// Witness returns the values in recs (one key's records) seen under two
// different modifiedIndexes, with a description of the first: a proof,
// found without search, that their writes applied twice (values are unique
// per write, and a write that applies once makes one index). It returns
// none if there is no such value.
func Witness(recs []Record) (proof string, values map[string]bool) {
	seen := map[string]uint64{}
	values = map[string]bool{}
	note := func(value string, idx uint64) {
		if value == "" || idx == 0 {
			return
		}
		if first, ok := seen[value]; ok && first != idx {
			if proof == "" {
				proof = fmt.Sprintf("(value %q seen at index %d and at index %d)", value, first, idx)
			}
			values[value] = true
		}
		seen[value] = idx
	}
	for _, r := range recs {
		if r.Dropped || r.Out.Result != OK {
			continue
		}
		switch {
		case r.In.Kind == Get:
			note(r.Out.Value, r.Out.Index)
		case r.In.Kind == GetDir:
			for _, c := range r.Out.Children {
				note(c.Value, c.Index)
			}
		case r.In.Kind.isWrite():
			note(r.In.Value, r.Out.Index)
			if r.Out.PrevFound {
				note(r.Out.PrevValue, r.Out.PrevIndex)
			}
		}
	}
	return proof, values
}
