package client

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// checkStreamResponse checks decodeStreamResponse against decodeResponse on
// body, read whole, one byte at a time, and in random chunks: the same
// error text (offsets included), or the same Response.
func checkStreamResponse(t *testing.T, body []byte, seed uint64) {
	t.Helper()
	var want Response
	werr := decodeResponse(bytes.Clone(body), &want)
	readers := []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(body)},
		{"one byte", iotest.OneByteReader(bytes.NewReader(body))},
		{"chunks", &chunkReader{b: body, rng: rand.New(rand.NewPCG(seed, 11))}},
	}
	for _, rd := range readers {
		var got Response
		gerr := decodeStreamResponse(rd.r, &got)
		switch {
		case werr == nil && gerr == nil:
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %q\nstream  %s\nwhole   %s", rd.name, body, dumpResponse(&got), dumpResponse(&want))
			}
		case werr != nil && gerr != nil:
			if werr.Error() != gerr.Error() {
				t.Fatalf("%s: %q\nstream error %q\nwhole error  %q", rd.name, body, gerr, werr)
			}
		default:
			t.Fatalf("%s: %q\nstream error %v, whole error %v", rd.name, body, gerr, werr)
		}
	}
}

func dumpResponse(r *Response) string {
	var b strings.Builder
	b.WriteString(r.Action)
	var dump func(n *Node, depth int)
	dump = func(n *Node, depth int) {
		if n == nil {
			b.WriteString(" <nil>")
			return
		}
		b.WriteString(" {" + n.String())
		if n.Nodes != nil {
			b.WriteString(" [")
			for _, c := range n.Nodes {
				dump(c, depth+1)
			}
			b.WriteString("]")
		}
		b.WriteString("}")
	}
	dump(r.Node, 0)
	b.WriteString(" prev:")
	dump(r.PrevNode, 0)
	return b.String()
}

func TestStreamResponseMatchesWholeBody(t *testing.T) {
	bodies := append([]string{realRecursiveGet, string(benchBody(300))}, walkDecodeCases...)
	bodies = append(bodies,
		`{"node":{"key":"/a"},"node":null}`,
		`{"node":{"key":"/d","nodes":[{"key":"/d/a"}],"nodes":[{"key":"/d/b"},null]}}`,
		`{"node":{"key":"/d","nodes":[{"key":"/d/a"}],"nodes":null}}`,
		`{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":9,"createdIndex":9},"prevNode":{"key":"/k","value":"u","modifiedIndex":8,"createdIndex":8}}`,
		// Repeated members whose earlier value is unescaped on the
		// offload worker: the later one wins.
		`{"node":{"key":"/k\u0026","value":"a\n","value":"b","key":"/plain"}}`,
		`{"node":{"value":"a\n","value":null,"value":"c\u003c","value":"d"}}`,
		`{"node":{"value":"x","value":"é\t"}}`,
		// A string the worker rejects, then later failures: the
		// first in the body is reported.
		`{"node":{"key":"/a","value":"bad\x","dir":tru}}`,
		`{"node":{"key":"/a","value":"ctl`+"\x01"+`","nodes":[{"key":"/b","value":"\u12g4"}]`,
		`{"node":{"nodes":[{"key":"/b\u","value":"é"}],"dir":1}}`,
		`{"node":{"value":"\ud83d\ude80 ok \ud800 \uDFFF`+"\xff"+`"}}`,
	)
	// The fuzz corpus of the whole-body decoder, too.
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzDecodeResponse/*")
	for _, path := range seeds {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if body, ok := fuzzSeedBytes(string(b)); ok {
			bodies = append(bodies, body)
		}
	}
	for i, body := range bodies {
		checkStreamResponse(t, []byte(body), uint64(i))
	}
}

// fuzzSeedBytes extracts the []byte argument of a one-argument seed file.
func fuzzSeedBytes(file string) (string, bool) {
	lines := strings.Split(strings.TrimSpace(file), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "[]byte(") {
		return "", false
	}
	lit := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
	s, err := strconv.Unquote(lit)
	return s, err == nil
}

// FuzzStreamResponse checks the tree mode of the stream decoder (used for
// large GET answers) against the whole-body decoder on any input and any
// cutting of it into reads.
func FuzzStreamResponse(f *testing.F) {
	f.Add([]byte(realRecursiveGet), uint64(1))
	f.Add(benchBody(40), uint64(2))
	for i, c := range walkDecodeCases {
		f.Add([]byte(c), uint64(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		checkStreamResponse(t, body, seed)
	})
}

// TestStreamResponseAfterHead: a body whose first bytes were read already
// (readKeysAnswer's head, which becomes the window) decodes as the whole
// body does, whatever the size of the head and of the window behind it.
func TestStreamResponseAfterHead(t *testing.T) {
	bodies := append([]string{realRecursiveGet, string(benchBody(3000))}, longStringBodies()...)
	for i, body := range bodies {
		var want Response
		werr := decodeResponse([]byte(body), &want)
		for _, n := range []int{1, 100, 4096, streamThreshold + 1} {
			n = min(n, len(body))
			head := append(make([]byte, 0, max(n, streamThreshold+1)), body[:n]...)
			var got Response
			gerr := decodeStreamResponseAfter(head, iotest.HalfReader(strings.NewReader(body[n:])), &got)
			switch {
			case (werr == nil) != (gerr == nil):
				t.Fatalf("body %d, head %d: error %v, whole body: %v", i, n, gerr, werr)
			case werr != nil && werr.Error() != gerr.Error():
				t.Fatalf("body %d, head %d: error %q, whole body: %q", i, n, gerr, werr)
			case werr == nil && !reflect.DeepEqual(got, want):
				t.Fatalf("body %d, head %d:\nstream %.300s\nwhole  %.300s", i, n, dumpResponse(&got), dumpResponse(&want))
			}
		}
	}
}
