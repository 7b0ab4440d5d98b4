package client

import (
	"bytes"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// postOrder flattens a tree as decodeStream hands it out: depth-first, each
// directory after its children, nil entries left out, Nodes cleared.
func postOrder(n *Node, out []Node) []Node {
	if n == nil {
		return out
	}
	for _, c := range n.Nodes {
		out = postOrder(c, out)
	}
	flat := *n
	flat.Nodes = nil
	return append(out, flat)
}

// chunkReader returns the body in pieces of random sizes (1 to 300 bytes),
// sometimes with a zero-length read.
type chunkReader struct {
	b   []byte
	rng *rand.Rand
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.rng.IntN(8) == 0 {
		return 0, nil
	}
	n := min(len(p), len(r.b), 1+r.rng.IntN(300))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// streamResult decodes body from r with decodeStream.
func streamResult(r io.Reader) ([]Node, error) {
	var got []Node
	err := decodeStream(r, func(n *Node) error {
		if n.Nodes != nil {
			panic("emitted node has children")
		}
		got = append(got, *n)
		return nil
	})
	return got, err
}

// checkWalkDecode checks decodeStream against decodeResponse on body, read
// whole, one byte at a time, and in random chunks: it must fail exactly
// when decodeResponse does, with the same error text (offset included)
// however the body is cut into reads, and otherwise hand out the nodes of
// decodeResponse's tree in post-order. Bodies that repeat a field name are the exception for the
// nodes (decodeResponse keeps the last "node" or "nodes", the stream hands
// out all of them); they must still fail or succeed alike.
func checkWalkDecode(t *testing.T, body []byte, seed uint64) {
	t.Helper()
	var res Response
	werr := decodeResponse(bytes.Clone(body), &res)
	want := postOrder(res.Node, nil)

	readers := []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(body)},
		{"one byte", iotest.OneByteReader(bytes.NewReader(body))},
		{"chunks", &chunkReader{b: body, rng: rand.New(rand.NewPCG(seed, 7))}},
	}
	for _, rd := range readers {
		got, err := streamResult(rd.r)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s: decodeStream(%q) error %v, decodeResponse error %v", rd.name, body, err, werr)
		}
		if err != nil {
			if _, ok := err.(*decodeError); !ok {
				t.Fatalf("%s: decodeStream(%q) error %T %v, want a *decodeError", rd.name, body, err, err)
			}
			if err.Error() != werr.Error() {
				t.Fatalf("%s: decodeStream(%q) error %q, decodeResponse error %q", rd.name, body, err, werr)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			if _, rep, _ := refDecode(body); rep.duplicate {
				continue
			}
			t.Fatalf("%s: decodeStream(%q):\n got %v\nwant %v", rd.name, body, got, want)
		}
	}
}

// FuzzWalkDecode checks the stream decoder against the whole-body decoder
// on any input and any cutting of it into reads; see checkWalkDecode. Seeds
// are in testdata/fuzz/FuzzWalkDecode.
func FuzzWalkDecode(f *testing.F) {
	f.Add([]byte(realRecursiveGet), uint64(1))
	f.Add(benchBody(40), uint64(2))
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		checkWalkDecode(t, body, seed)
	})
}

// walkDecodeCases are bodies with a known outcome, beyond the fuzz seeds.
var walkDecodeCases = []string{
	``,
	` `,
	`null`,
	` null `,
	`{}`,
	`{"action":"get"}`,
	`{"action":"get","node":null}`,
	`{"node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`,
	`{"node":{"key":"/d","dir":true,"nodes":[],"modifiedIndex":1,"createdIndex":1}}`,
	`{"node":{"key":"/d","dir":true,"nodes":null}}`,
	`{"node":{"key":"/d","dir":true,"nodes":[null,{"key":"/d/a"},null]}}`,
	`{"node":{"nodes":[{"key":"/d/a","nodes":[{"key":"/d/a/b"}]},{"key":"/d/c"}],"key":"/d"}}`,
	`{"node":{"key":"/k\u00e9\ud83d\ude00\n\"\\","value":"a\u0026b<>\ud800x","ttl":-3,"expiration":"2026-11-21T10:00:00.5+01:00"}}`,
	`{"node":{"key":"/k","value":"` + "\xff\xfe" + `"}}`,
	`{"node":{"key":"/k","extra":{"a":[1,2.5e3,-0,true,false,null,"x\"y"]},"value":"v"}}`,
	`{"prevNode":{"key":"/old","nodes":[{"key":"/old/a"}]},"node":{"key":"/new"}}`,
	`{"node":{"key":"/k"}} x`,
	`{"node":{"key":"/k"}`,
	`{"node":{"key":"/k","value":"unterminated`,
	`{"node":{"key":"/k","createdIndex":1.5}}`,
	`{"node":{"key":"/k","createdIndex":-1}}`,
	`{"node":{"key":"/k","createdIndex":18446744073709551616}}`,
	`{"node":{"key":"/k","ttl":-9223372036854775808}}`,
	`{"node":{"key":"/k","expiration":"yesterday"}}`,
	`{"node":{"key":5}}`,
	`{"node":[]}`,
	`{"node":{"nodes":{}}}`,
	`{"node":{"nodes":[5]}}`,
	`{"node":{"key":"/k"},"node":{"key":"/j"}}`,
	`{"node":{"dir":tru}}`,
	`{"node":{"key":"a` + "\x01" + `b"}}`,
	`{"node":{"key":"a\x"}}`,
	`{"node":{"key":"a\u12"}}`,
	`[1,2]`,
	`"string"`,
	`{"k\u0065y":1,"node":{"k\u0065y":"/escaped-name"}}`,
	`{"Node":{"key":"/case"}}`,
	strings.Repeat(`{"node":`, 5) + `null` + strings.Repeat(`}`, 5),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"node":{"key":"/big","value":"` + strings.Repeat("x", 300000) + `"}}`,
	`{"node":{"key":"/bigesc","value":"` + strings.Repeat(`\u0041\n`, 50000) + `"}}`,
}

func TestWalkDecodeCases(t *testing.T) {
	for i, body := range walkDecodeCases {
		checkWalkDecode(t, []byte(body), uint64(i))
	}
	for _, keys := range []int{1, 100, 5000} {
		checkWalkDecode(t, benchBody(keys), uint64(keys))
	}
}

// TestWalkDecodeStrings: no string handed out aliases the window, which is
// reused: nodes read early must keep their values after the whole body was
// read through a small window.
func TestWalkDecodeStrings(t *testing.T) {
	body := benchBody(20000)
	var res Response
	if err := decodeResponse(bytes.Clone(body), &res); err != nil {
		t.Fatal(err)
	}
	want := postOrder(res.Node, nil)
	var kept []*Node
	err := decodeStream(iotest.HalfReader(bytes.NewReader(body)), func(n *Node) error {
		kept = append(kept, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != len(want) {
		t.Fatalf("%d nodes, want %d", len(kept), len(want))
	}
	for i, n := range kept {
		if !reflect.DeepEqual(*n, want[i]) {
			t.Fatalf("node %d = %v, want %v", i, n, want[i])
		}
	}
}

// TestWalkDecodeReadError: a failing reader ends the decode with a
// *readError wrapping its error, not a JSON error.
func TestWalkDecodeReadError(t *testing.T) {
	body := benchBody(200)
	r := io.MultiReader(bytes.NewReader(body[:len(body)/2]), iotest.ErrReader(io.ErrUnexpectedEOF))
	n := 0
	err := decodeStream(r, func(*Node) error { n++; return nil })
	var re *readError
	if !errAs(err, &re) || re.err != io.ErrUnexpectedEOF {
		t.Fatalf("error = %T %v, want a *readError with io.ErrUnexpectedEOF", err, err)
	}
	if n == 0 {
		t.Fatal("no node handed out before the failure")
	}
}

func errAs(err error, target **readError) bool {
	re, ok := err.(*readError)
	*target = re
	return ok
}
