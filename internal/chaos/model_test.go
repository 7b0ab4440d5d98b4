package chaos

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// op builds a history entry for the model tests.
func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

func ok(idx uint64) Output { return Output{Result: OK, Index: idx} }

func okPrev(idx uint64, prevValue string, prevIndex uint64) Output {
	return Output{Result: OK, Index: idx, PrevFound: true, PrevValue: prevValue, PrevIndex: prevIndex}
}

func read(value string, idx uint64) Output { return Output{Result: OK, Value: value, Index: idx} }

func failed(code int) Output { return Output{Result: Failed, Code: code} }

var unknown = Output{Result: Unknown}

const never = 1 << 40 // the return time of an operation whose outcome is unknown

func TestModel(t *testing.T) {
	k := "/k"
	tests := []struct {
		name    string
		history []porcupine.Operation
		legal   bool
	}{
		{"empty key reads not found", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Get, Key: k}, failed(100)),
		}, true},
		{"create, read, cas by value, cas by index, delete by index", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Create, Key: k, Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: Get, Key: k}, read("a", 5)),
			op(0, 4, 5, Input{Kind: CASValue, Key: k, Value: "b", PrevValue: "a"}, okPrev(7, "a", 5)),
			op(0, 6, 7, Input{Kind: CASIndex, Key: k, Value: "c", PrevIndex: 7}, okPrev(9, "b", 7)),
			op(0, 8, 9, Input{Kind: CADIndex, Key: k, PrevIndex: 9}, okPrev(10, "c", 9)),
			op(0, 10, 11, Input{Kind: Get, Key: k}, failed(100)),
		}, true},
		{"concurrent writes may be linearized in either order", []porcupine.Operation{
			op(0, 0, 10, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(1, 1, 9, Input{Kind: Set, Key: k, Value: "b"}, okPrev(6, "a", 5)),
			op(2, 11, 12, Input{Kind: Get, Key: k}, read("b", 6)),
		}, true},
		{"stale read", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: Set, Key: k, Value: "b"}, okPrev(6, "a", 5)),
			op(1, 4, 5, Input{Kind: Get, Key: k}, read("a", 5)),
		}, false},
		{"write applied twice: an old value reappears after a newer acknowledged write", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(1, 2, 3, Input{Kind: Set, Key: k, Value: "b"}, okPrev(6, "a", 5)),
			op(2, 4, 5, Input{Kind: Get, Key: k}, read("a", 7)),
		}, false},
		{"a value nobody wrote", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Get, Key: k}, read("x", 3)),
		}, false},
		{"unknown write applied after its error", []porcupine.Operation{
			op(0, 0, never, Input{Kind: Set, Key: k, Value: "a"}, unknown),
			op(1, 2, 3, Input{Kind: Get, Key: k}, failed(100)),
			op(1, 4, 5, Input{Kind: Get, Key: k}, read("a", 8)),
		}, true},
		{"unknown write never applied", []porcupine.Operation{
			op(0, 0, never, Input{Kind: Set, Key: k, Value: "a"}, unknown),
			op(1, 2, 3, Input{Kind: Get, Key: k}, failed(100)),
		}, true},
		{"unknown write cannot apply before its call", []porcupine.Operation{
			op(1, 0, 1, Input{Kind: Get, Key: k}, read("a", 8)),
			op(0, 2, never, Input{Kind: Set, Key: k, Value: "a"}, unknown),
		}, false},
		{"unknown write applies at most once", []porcupine.Operation{
			op(0, 0, never, Input{Kind: Set, Key: k, Value: "a"}, unknown),
			op(1, 1, 2, Input{Kind: Get, Key: k}, read("a", 8)),
			op(1, 3, 4, Input{Kind: Set, Key: k, Value: "b"}, okPrev(9, "a", 8)),
			op(1, 5, 6, Input{Kind: Get, Key: k}, read("a", 10)),
		}, false},
		{"indexes of one key increase", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: Set, Key: k, Value: "b"}, okPrev(4, "a", 5)),
		}, false},
		{"create on an existing key fails", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: Create, Key: k, Value: "b"}, failed(105)),
		}, true},
		{"create on an existing key succeeding", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: Create, Key: k, Value: "b"}, ok(6)),
		}, false},
		{"cas by value on a different value fails", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: CASValue, Key: k, Value: "c", PrevValue: "b"}, failed(101)),
			op(0, 4, 5, Input{Kind: CASValue, Key: k, Value: "c", PrevValue: "a"}, okPrev(6, "a", 5)),
		}, true},
		{"cas by index on a stale index succeeding", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Set, Key: k, Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: Set, Key: k, Value: "b"}, okPrev(6, "a", 5)),
			op(0, 4, 5, Input{Kind: CASIndex, Key: k, Value: "c", PrevIndex: 5}, okPrev(7, "a", 5)),
		}, false},
		{"delete of a missing key fails with 100", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: Delete, Key: k}, failed(100)),
			op(0, 2, 3, Input{Kind: Create, Key: k, Value: "a"}, ok(5)),
			op(0, 4, 5, Input{Kind: Delete, Key: k}, okPrev(6, "a", 5)),
			op(0, 6, 7, Input{Kind: Delete, Key: k}, failed(100)),
		}, true},
		{"unknown cas by index on an unknown index may apply", []porcupine.Operation{
			op(0, 0, never, Input{Kind: Set, Key: k, Value: "a"}, unknown),
			op(1, 1, never, Input{Kind: CASIndex, Key: k, Value: "b", PrevIndex: 8}, unknown),
			op(2, 2, 3, Input{Kind: Get, Key: k}, read("b", 9)),
			op(2, 4, 5, Input{Kind: Set, Key: k, Value: "c"}, okPrev(10, "b", 9)),
		}, true},
		{"in-order children in creation order", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: GetDir, Key: "/q"}, failed(100)),
			op(0, 2, 3, Input{Kind: CreateInOrder, Key: "/q", Value: "a"}, ok(5)),
			op(1, 2, never, Input{Kind: CreateInOrder, Key: "/q", Value: "b"}, unknown),
			op(0, 4, 5, Input{Kind: CreateInOrder, Key: "/q", Value: "c"}, ok(8)),
			op(0, 6, 7, Input{Kind: GetDir, Key: "/q"}, Output{Result: OK, Children: []Child{{"a", 5}, {"b", 6}, {"c", 8}}}),
		}, true},
		{"in-order child created twice", []porcupine.Operation{
			op(0, 0, 1, Input{Kind: CreateInOrder, Key: "/q", Value: "a"}, ok(5)),
			op(0, 2, 3, Input{Kind: GetDir, Key: "/q"}, Output{Result: OK, Children: []Child{{"a", 5}, {"a", 6}}}),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := porcupine.CheckOperationsVerbose(Model(), tt.history, 0)
			if got := res == porcupine.Ok; got != tt.legal {
				t.Errorf("linearizable = %v (%s), want %v", got, res, tt.legal)
			}
		})
	}
}
