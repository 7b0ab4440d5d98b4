package chaos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The model: the v2 keys API as a sequential specification, for porcupine.
//
// The history is partitioned by key (porcupine checks each partition on its
// own, which is sound because every operation touches one key). A plain key
// has a keyState; the in-order directory has a dirState.
//
// Every value a writer sends is unique in its run, so a value identifies the
// write that produced it. Indexes are etcd's modifiedIndex. The model does
// not assume that indexes are consecutive (etcd also spends indexes on its
// own records and on keys outside the partition); it requires only that, in
// the order porcupine linearizes them, the successful writes to one key get
// strictly increasing indexes. A write whose outcome is unknown applies with
// an index the model does not know (0) until a later answer reveals it.
//
// Rules for a plain key (state: Exists, Value, ModIndex, Floor, where Floor
// is the highest index known of a write to the key linearized so far):
//
//   - Get answers 100 (key not found) iff the key does not exist; otherwise
//     it returns Value with ModIndex. An unknown ModIndex is learned from
//     the answer, which must then exceed Floor.
//   - Every successful write answers with a new index above Floor and, when
//     it reports a previous node (prevNode), that node is the current
//     state: its value, and its index (learned if unknown). A write
//     reporting no previous node needs the key to be absent.
//   - Create applies iff the key does not exist; else it fails with 105.
//   - Set (plain) always applies.
//   - CAS by value applies iff the key exists with that value; it fails with
//     100 if the key does not exist and with 101 if the value differs.
//   - CAS by index and CAD (compare-and-delete) by index apply iff the key
//     exists with that modifiedIndex; else they fail with 100 or 101 as
//     above. While ModIndex is unknown a 101 is accepted and a success
//     learns the index.
//   - Delete (plain) applies iff the key exists; else it fails with 100.
//   - A write whose outcome is unknown is called at its call time and
//     returns at the end of time: porcupine may linearize it anywhere after
//     its call, which covers "applied before the error", "applied later"
//     and "never applied" (linearized last, it changes nothing observed).
//     It then does what the same write with a successful answer would do,
//     except that its new index is unknown; if the write's condition does
//     not hold, it changes nothing. A conditional write whose condition
//     cannot be decided (CAS or CAD by index on an unknown index) may do
//     either, so the model is nondeterministic.
//   - An operation that provably did not apply (an error without
//     ErrOutcomeUnknown, not a context error) is left out of the history:
//     if it did apply after all, its unique value shows up in some answer
//     and no write of the history explains it.
//
// Rules for the in-order directory (state: the children in creation order,
// each a value and its index, 0 if unknown):
//
//   - CreateInOrder appends a child; a successful one names its index, which
//     must exceed every known index before it. An unknown one appends a
//     child with an unknown index.
//   - A sorted Get of the directory returns exactly the children, in order
//     (the keys etcd makes are zero-padded indexes, so key order is
//     creation order); unknown indexes are learned and must increase. A
//     directory not yet created answers 100, like an empty one.

// Kind is the kind of an operation in a history.
type Kind uint8

// The operations of the workload.
const (
	Get           Kind = iota // quorum Get of a key
	Create                    // Set with PrevExist=false
	Set                       // plain Set
	CASValue                  // Set with PrevValue
	CASIndex                  // Set with PrevIndex
	CADIndex                  // Delete with PrevIndex
	Delete                    // plain Delete
	CreateInOrder             // CreateInOrder in the in-order directory
	GetDir                    // quorum, sorted Get of the in-order directory
)

var kindNames = [...]string{"get", "create", "set", "cas-value", "cas-index", "cad-index", "delete", "create-in-order", "get-dir"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// isWrite reports whether k may change the keyspace.
func (k Kind) isWrite() bool { return k != Get && k != GetDir }

// Input is what an operation asked for.
type Input struct {
	Kind      Kind
	Key       string // the key, or the in-order directory
	Value     string // the value written
	PrevValue string // CASValue's condition
	PrevIndex uint64 // CASIndex's and CADIndex's condition
}

// Result is the class of an operation's outcome.
type Result uint8

// Outcomes of an operation.
const (
	OK      Result = iota // answered with success
	Failed                // answered with a keys error (Code); not applied
	Unknown               // may or may not have applied, now or later
)

// Child is one child of the in-order directory.
type Child struct {
	Value string
	Index uint64
}

// Output is what an operation answered.
type Output struct {
	Result Result
	Code   int    // the keys error code when Failed
	Value  string // Get: the value read
	Index  uint64 // the node's modifiedIndex (reads: of the node read; writes: the write's)
	// Prev is the previous node a successful write reported.
	PrevFound bool
	PrevValue string
	PrevIndex uint64
	Children  []Child // GetDir
	// EtcdIndex is the answer's X-Etcd-Index (or an error's index); it is
	// not used by the model, only by the real-time index check.
	EtcdIndex uint64
}

// keyState is the state of a plain key.
type keyState struct {
	Exists   bool
	Value    string
	ModIndex uint64 // 0: unknown
	Floor    uint64
}

// dirState is the in-order directory: children in creation order, encoded
// as "value@index;" so that states compare with ==.
type dirState string

func (d dirState) children() []Child {
	if d == "" {
		return nil
	}
	parts := strings.Split(strings.TrimSuffix(string(d), ";"), ";")
	out := make([]Child, len(parts))
	for i, p := range parts {
		at := strings.LastIndexByte(p, '@')
		idx, _ := strconv.ParseUint(p[at+1:], 10, 64)
		out[i] = Child{Value: p[:at], Index: idx}
	}
	return out
}

func encodeDir(cs []Child) dirState {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s@%d;", c.Value, c.Index)
	}
	return dirState(b.String())
}

// Model returns the porcupine model of the v2 keys API described above,
// partitioned by key.
func Model() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: partitionByKey,
		Init:      func() []any { return []any{nil} },
		Step: func(state, input, output any) []any {
			in, out := input.(Input), output.(Output)
			if in.Kind == CreateInOrder || in.Kind == GetDir {
				d, _ := state.(dirState)
				return stepDir(d, in, out)
			}
			k, _ := state.(keyState)
			return stepKey(k, in, out)
		},
		DescribeOperation: describeOperation,
		DescribeState:     describeState,
	}
	return nm.ToModel()
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var order []string
	for _, op := range history {
		k := op.Input.(Input).Key
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	parts := make([][]porcupine.Operation, 0, len(order))
	for _, k := range order {
		parts = append(parts, byKey[k])
	}
	return parts
}

// stepKey returns the states a plain key can be in after the operation, or
// none if the operation cannot have answered out in state s.
func stepKey(s keyState, in Input, out Output) []any {
	if out.Result == Failed {
		return failedStep(s, in, out)
	}
	if in.Kind == Get {
		if out.Result != OK || !s.Exists || out.Value != s.Value {
			return nil
		}
		if s2, ok := learnIndex(s, out.Index); ok {
			return []any{s2}
		}
		return nil
	}
	// A write that applies (known or not).
	var cands []keyState // the state before the write, with what it learned
	switch in.Kind {
	case Create:
		if !s.Exists {
			cands = append(cands, s)
		}
	case Set:
		cands = append(cands, s)
	case CASValue:
		if s.Exists && s.Value == in.PrevValue {
			cands = append(cands, s)
		}
	case CASIndex, CADIndex:
		if s.Exists {
			if s2, ok := learnIndex(s, in.PrevIndex); ok {
				cands = append(cands, s2)
			}
		}
	case Delete:
		if s.Exists {
			cands = append(cands, s)
		}
	default:
		return nil
	}
	if out.Result == Unknown {
		next := []any{}
		for _, c := range cands {
			next = append(next, applyWrite(c, in, 0))
		}
		// The write's condition may not hold: then it changes nothing.
		// Set always applies, and Create, CASValue and Delete decide
		// their condition exactly, so only an undecided index condition
		// keeps the old state as a second possibility.
		if len(cands) == 0 || ((in.Kind == CASIndex || in.Kind == CADIndex) && s.ModIndex == 0 && s.Exists) {
			next = append(next, s)
		}
		return next
	}
	// A write that answered success.
	next := []any{}
	for _, c := range cands {
		c, ok := checkPrev(c, in, out)
		if !ok || out.Index <= c.Floor {
			continue
		}
		next = append(next, applyWrite(c, in, out.Index))
	}
	return next
}

// failedStep handles an answered keys error: the state is unchanged if the
// error is the one the state implies.
func failedStep(s keyState, in Input, out Output) []any {
	ok := false
	switch out.Code {
	case 100: // key not found
		ok = !s.Exists && in.Kind != Create && in.Kind != Set
	case 101: // compare failed
		switch in.Kind {
		case CASValue:
			ok = s.Exists && s.Value != in.PrevValue
		case CASIndex, CADIndex:
			ok = s.Exists && (s.ModIndex == 0 || s.ModIndex != in.PrevIndex)
		}
	case 105: // node exists
		ok = in.Kind == Create && s.Exists
	}
	if ok {
		return []any{s}
	}
	return nil
}

// learnIndex checks that the current node has index idx, learning it if
// unknown.
func learnIndex(s keyState, idx uint64) (keyState, bool) {
	if s.ModIndex != 0 {
		return s, s.ModIndex == idx
	}
	if idx <= s.Floor {
		return s, false
	}
	s.ModIndex, s.Floor = idx, idx
	return s, true
}

// checkPrev checks the previous node a successful write reported against
// the state before it.
func checkPrev(s keyState, in Input, out Output) (keyState, bool) {
	if !out.PrevFound {
		return s, !s.Exists
	}
	if !s.Exists || s.Value != out.PrevValue {
		return s, false
	}
	return learnIndex(s, out.PrevIndex)
}

// applyWrite returns the state after in applied with index idx (0 if
// unknown).
func applyWrite(s keyState, in Input, idx uint64) keyState {
	floor := max(s.Floor, idx)
	if in.Kind == CADIndex || in.Kind == Delete {
		return keyState{Floor: floor}
	}
	return keyState{Exists: true, Value: in.Value, ModIndex: idx, Floor: floor}
}

// stepDir applies an operation on the in-order directory.
func stepDir(d dirState, in Input, out Output) []any {
	cs := d.children()
	switch in.Kind {
	case CreateInOrder:
		switch out.Result {
		case Unknown:
			return []any{encodeDir(append(cs, Child{Value: in.Value}))}
		case OK:
			if out.Index <= lastKnown(cs) {
				return nil
			}
			return []any{encodeDir(append(cs, Child{Value: in.Value, Index: out.Index}))}
		}
		return nil
	case GetDir:
		if out.Result == Failed {
			if out.Code == 100 && len(cs) == 0 {
				return []any{d}
			}
			return nil
		}
		if out.Result != OK || len(out.Children) != len(cs) {
			return nil
		}
		var floor uint64
		for i, c := range cs {
			got := out.Children[i]
			if got.Value != c.Value || got.Index <= floor || (c.Index != 0 && c.Index != got.Index) {
				return nil
			}
			floor = got.Index
		}
		return []any{encodeDir(out.Children)}
	}
	return nil
}

func lastKnown(cs []Child) uint64 {
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Index != 0 {
			return cs[i].Index
		}
	}
	return 0
}

func describeOperation(input, output any) string {
	in, out := input.(Input), output.(Output)
	var op string
	switch in.Kind {
	case Get, GetDir, Delete:
		op = fmt.Sprintf("%s(%s)", in.Kind, in.Key)
	case CASValue:
		op = fmt.Sprintf("%s(%s, %s if %s)", in.Kind, in.Key, in.Value, in.PrevValue)
	case CASIndex:
		op = fmt.Sprintf("%s(%s, %s if @%d)", in.Kind, in.Key, in.Value, in.PrevIndex)
	case CADIndex:
		op = fmt.Sprintf("%s(%s if @%d)", in.Kind, in.Key, in.PrevIndex)
	default:
		op = fmt.Sprintf("%s(%s, %s)", in.Kind, in.Key, in.Value)
	}
	switch out.Result {
	case Unknown:
		return op + " -> unknown"
	case Failed:
		return fmt.Sprintf("%s -> error %d", op, out.Code)
	}
	switch in.Kind {
	case Get:
		return fmt.Sprintf("%s -> %s@%d", op, out.Value, out.Index)
	case GetDir:
		return fmt.Sprintf("%s -> %s", op, encodeDir(out.Children))
	}
	prev := "none"
	if out.PrevFound {
		prev = fmt.Sprintf("%s@%d", out.PrevValue, out.PrevIndex)
	}
	return fmt.Sprintf("%s -> @%d (prev %s)", op, out.Index, prev)
}

func describeState(state any) string {
	switch s := state.(type) {
	case keyState:
		if !s.Exists {
			return fmt.Sprintf("absent (floor %d)", s.Floor)
		}
		return fmt.Sprintf("%s@%d (floor %d)", s.Value, s.ModIndex, s.Floor)
	case dirState:
		return "[" + string(s) + "]"
	}
	return "initial"
}
