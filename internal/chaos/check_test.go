package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/anishathalye/porcupine"
	client "github.com/v2keys/client"
)

func TestClassify(t *testing.T) {
	unknownWrite := &client.ClusterError{Errors: []error{fmt.Errorf("attempt: %w", client.ErrOutcomeUnknown)}}
	refused := &client.ClusterError{Errors: []error{syscall.ECONNREFUSED, syscall.ECONNREFUSED}}
	tests := []struct {
		name    string
		kind    Kind
		err     error
		res     Result
		code    int
		dropped bool
	}{
		{"success", Set, nil, OK, 0, false},
		{"keys error", CASValue, client.Error{Code: 101}, Failed, 101, false},
		{"not found on read", Get, client.Error{Code: 100}, Failed, 100, false},
		{"outcome unknown", Set, unknownWrite, Unknown, 0, false},
		{"conflict after a copy may have applied", CASIndex, &client.ClusterError{Errors: []error{client.ErrOutcomeUnknown, client.Error{Code: 101}}}, Unknown, 0, false},
		{"deadline", CASIndex, context.DeadlineExceeded, Unknown, 0, false},
		{"every member refused the connection", Set, refused, Unknown, 0, true},
		{"failed read", Get, refused, Unknown, 0, true},
		{"read with unknown outcome", GetDir, unknownWrite, Unknown, 0, true},
		{"any other error of a write: not applied", Delete, fmt.Errorf("something"), Unknown, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, code, dropped := Classify(tt.kind, tt.err)
			if res != tt.res || code != tt.code || dropped != tt.dropped {
				t.Errorf("Classify(%v, %v) = %v, %d, %v; want %v, %d, %v", tt.kind, tt.err, res, code, dropped, tt.res, tt.code, tt.dropped)
			}
		})
	}
}

func TestCheckIndexOrder(t *testing.T) {
	w := func(call, ret int64, idx uint64) Record {
		return Record{Call: call, Ret: ret, In: Input{Kind: Set, Key: "/a", Value: "v"}, Out: Output{Result: OK, Index: idx}}
	}
	r := func(call, ret int64, etcdIndex uint64) Record {
		return Record{Call: call, Ret: ret, In: Input{Kind: Get, Key: "/b"}, Out: Output{Result: OK, EtcdIndex: etcdIndex}}
	}
	tests := []struct {
		name string
		recs []Record
		bad  int
	}{
		{"increasing", []Record{w(0, 1, 5), r(2, 3, 5), w(4, 5, 6), r(6, 7, 9)}, 0},
		{"concurrent ops in any order", []Record{w(0, 10, 9), w(1, 11, 5), r(2, 3, 4)}, 0},
		{"read behind a finished write on another key", []Record{w(0, 1, 5), r(2, 3, 4)}, 1},
		{"write not after a finished read", []Record{r(0, 1, 7), w(2, 3, 7)}, 1},
		{"unknown outcomes are not positions", []Record{{Call: 0, Ret: Never, In: Input{Kind: Set}, Out: Output{Result: Unknown}}, r(2, 3, 1)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckIndexOrder(tt.recs); len(got) != tt.bad {
				t.Errorf("%d violations %v, want %d", len(got), got, tt.bad)
			}
		})
	}
}

// TestGhostsExplainDoubleApply: a plain set applied twice is illegal as
// recorded and legal once the resent write may apply once per copy, and a
// violation is written out as a visualization.
func TestGhostsExplainDoubleApply(t *testing.T) {
	recs := []Record{
		{Client: 0, Call: 0, Ret: 10, In: Input{Kind: Set, Key: "/k", Value: "a"}, Out: Output{Result: OK, Index: 5}},
		{Client: 1, Call: 11, Ret: 12, In: Input{Kind: Set, Key: "/k", Value: "b"}, Out: Output{Result: OK, Index: 6, PrevFound: true, PrevValue: "a", PrevIndex: 5}},
		{Client: 1, Call: 13, Ret: 14, In: Input{Kind: Get, Key: "/k"}, Out: Output{Result: OK, Value: "a", Index: 7}},
		{Client: 2, Call: 15, Ret: 16, In: Input{Kind: Set, Key: "/k", Value: "c"}, Out: Output{Result: Failed, Code: 500}, Dropped: true},
	}
	dir := t.TempDir()
	v, err := Check(Operations(recs, nil), 0, dir, "double", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Result != porcupine.Illegal || v.Visualization != filepath.Join(dir, "double.html") {
		t.Fatalf("as recorded: %+v, want illegal with a visualization", v)
	}
	if _, err := os.Stat(v.Visualization); err != nil {
		t.Fatal(err)
	}
	if v, _ := Check(Operations(recs, map[int]int{0: 1}), 0, "", "", nil); v.Result != porcupine.Ok {
		t.Fatalf("with a second copy of the first set: %v, want ok", v.Result)
	}
	if n := len(Operations(recs, map[int]int{0: 2})); n != 5 {
		t.Errorf("%d operations, want 3 checked plus 2 copies", n)
	}
}

func TestWitness(t *testing.T) {
	set := func(value string, idx uint64) Record {
		return Record{In: Input{Kind: Set, Key: "/k", Value: value}, Out: Output{Result: OK, Index: idx}}
	}
	get := func(value string, idx uint64) Record {
		return Record{In: Input{Kind: Get, Key: "/k"}, Out: Output{Result: OK, Value: value, Index: idx}}
	}
	dir := func(cs ...Child) Record {
		return Record{In: Input{Kind: GetDir, Key: "/q"}, Out: Output{Result: OK, Children: cs}}
	}
	tests := []struct {
		name string
		recs []Record
		want []string
	}{
		{"each value at one index", []Record{set("a", 5), get("a", 5), set("b", 6), get("b", 6)}, nil},
		{"a value read at a second index", []Record{set("a", 5), set("b", 6), get("a", 7)}, []string{"a"}},
		{"an in-order child created twice", []Record{dir(Child{"a", 5}, Child{"a", 6})}, []string{"a"}},
		{"unknown outcomes prove nothing", []Record{{In: Input{Kind: Set, Key: "/k", Value: "a"}, Out: Output{Result: Unknown}}, get("a", 9)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proof, values := Witness(tt.recs)
			if len(values) != len(tt.want) || (len(tt.want) > 0 && (!values[tt.want[0]] || proof == "")) {
				t.Errorf("Witness = %q, %v; want %v", proof, values, tt.want)
			}
		})
	}
}

func TestValueHistory(t *testing.T) {
	recs := []Record{
		{Call: 0, Ret: 1, In: Input{Kind: Get, Key: "/k"}, Out: Output{Result: OK, Value: "z", Index: 3}},
		{Call: 2, Ret: 3, In: Input{Kind: Create, Key: "/k", Value: "a"}, Out: Output{Result: OK, Index: 5}},
		{Call: 4, Ret: 5, In: Input{Kind: Delete, Key: "/k"}, Out: Output{Result: OK, Index: 6, PrevFound: true, PrevValue: "a", PrevIndex: 5}},
		{Call: 6, Ret: 7, In: Input{Kind: Get, Key: "/k"}, Out: Output{Result: OK, Value: "a", Index: 8}},
		{Call: 8, Ret: Never, In: Input{Kind: Set, Key: "/k", Value: "b"}, Out: Output{Result: Unknown}},
	}
	got := valueHistory(recs, map[int]int{1: 1})
	if lines := strings.Count(got, "\n"); lines != 3 || !strings.Contains(got, "create(/k, a) -> @5") || !strings.Contains(got, "get(/k) -> a@8") {
		t.Errorf("valueHistory =\n%s\nwant ops 1 to 3", got)
	}
}
