package client

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// longValue returns a string of at least n bytes made by repeating unit.
func longValue(unit string, n int) string {
	return strings.Repeat(unit, n/len(unit)+1)
}

// longStringBodies are answers whose strings do not fit in the stream
// decoder's window (longString): plain, escaped in every way, with escapes
// and backslash runs at every offset of the reads, invalid UTF-8 that grows
// when replaced, malformed, and cut short.
func longStringBodies() []string {
	node := func(value string) string {
		return `{"action":"get","node":{"key":"/k","value":"` + value + `","modifiedIndex":5,"createdIndex":5}}`
	}
	escaped := `a\"b\\c\n\t\u003cd\u0026\ud83d\ude80 é 日本 \\\\\" \/ x\u2028`
	return []string{
		node(longValue("0123456789abcdef", 40<<10)),
		node(longValue("0123456789abcdef", 300<<10)),
		node(longValue(escaped, 40<<10)),
		node(longValue(escaped, 1200<<10)),
		node(longValue("Grüße 日本 🚀 ", 70<<10)),
		node(longValue("ok \xff\xfe\xc0 ", 50<<10)), // every invalid byte becomes 3
		node(longValue("x", 40<<10) + `\\\\`),       // ends with backslashes
		node(longValue(`\\`, 40<<10)),
		// The long string is the key, the action, a prevNode's value,
		// and is followed by more nodes.
		`{"action":"` + longValue("get", 40<<10) + `","node":{"key":"/` + longValue(`k\u0026`, 40<<10) + `","dir":true,"nodes":[` +
			`{"key":"/a","value":"` + longValue("v", 100<<10) + `","modifiedIndex":6,"createdIndex":6},` +
			`{"key":"/b","value":"` + longValue(escaped, 90<<10) + `","modifiedIndex":7,"createdIndex":7}]},` +
			`"prevNode":{"key":"/p","value":"` + longValue("p\\n", 50<<10) + `"}}`,
		// A value repeated: the later one wins.
		`{"node":{"value":"` + longValue(escaped, 40<<10) + `","value":"` + longValue("w", 40<<10) + `"}}`,
		`{"node":{"value":"short\n","value":"` + longValue("w", 40<<10) + `"}}`,
		// Malformed, and cut short.
		node(longValue("x", 40<<10) + "\x01"),
		node(longValue(escaped, 40<<10) + `\x`),
		node(longValue("x", 40<<10) + `\u12`),
		`{"node":{"value":"` + longValue(escaped, 40<<10),
		`{"node":{"value":"` + longValue("x", 40<<10) + `\`,
		`{"node":{"value":"` + longValue("x", 40<<10) + `\u00`,
		`{"node":{"value":"` + longValue("x", 40<<10) + `"`,
		`{"node":{"value":"` + longValue("x", 40<<10) + `","dir":tru}}`,
	}
}

// TestLongStringMatchesWholeBody: a string read past the window decodes
// to what the whole-body decoder gives, or fails with the same error at
// the same offset, however the body is cut into reads, into a tree and
// node by node.
func TestLongStringMatchesWholeBody(t *testing.T) {
	for i, body := range longStringBodies() {
		checkStreamResponse(t, []byte(body), uint64(i))
		checkWalkDecode(t, []byte(body), uint64(i))
	}
}

// TestLongStringLimit: a string value is refused with ErrResponseTooLarge
// exactly when it is longer than the token limit, quotes included,
// however the body is cut into reads.
func TestLongStringLimit(t *testing.T) {
	value := longValue("v", 100<<10)
	body := []byte(`{"node":{"key":"/k","value":"` + value + `"}}`)
	token := int64(len(value) + 2)
	tests := []struct {
		max     int64
		wantErr bool
	}{
		{token, false},
		{token - 1, true},
		{token / 2, true},
	}
	for _, tt := range tests {
		readers := map[string]io.Reader{
			"whole":    bytes.NewReader(body),
			"one byte": iotest.OneByteReader(bytes.NewReader(body)),
			"half":     iotest.HalfReader(bytes.NewReader(body)),
		}
		for name, r := range readers {
			var got string
			err := decodeStreamMax(r, tt.max, func(n *Node) error {
				got = n.Value
				return nil
			})
			switch {
			case tt.wantErr && !errors.Is(err, ErrResponseTooLarge):
				t.Errorf("%s, limit %d for a %d-byte token: %v, want ErrResponseTooLarge", name, tt.max, token, err)
			case !tt.wantErr && (err != nil || got != value):
				t.Errorf("%s, limit %d for a %d-byte token: %v, value of %d bytes", name, tt.max, token, err, len(got))
			}
		}
	}
}

// TestLongStringReadError: a read failure within a long string is the
// decode's error.
func TestLongStringReadError(t *testing.T) {
	body := []byte(`{"node":{"key":"/k","value":"` + longValue("v", 200<<10))
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(body), iotest.ErrReader(boom))
	var res Response
	err := decodeStreamResponse(r, &res)
	var re *readError
	if !errors.As(err, &re) || !errors.Is(err, boom) {
		t.Fatalf("decodeStreamResponse: %v, want a *readError wrapping boom", err)
	}
}

// TestLongStringOwnStorage: a long plain value is a view of storage of its
// own, not of the window, which later reads reuse.
func TestLongStringOwnStorage(t *testing.T) {
	v1, v2 := longValue("a", 50<<10), longValue("b", 50<<10)
	body := `{"node":{"dir":true,"nodes":[{"key":"/1","value":"` + v1 + `"},{"key":"/2","value":"` + v2 + `"},{"key":"/3","value":"` + longValue("c", 70<<10) + `"}]}}`
	var res Response
	if err := decodeStreamResponse(iotest.HalfReader(strings.NewReader(body)), &res); err != nil {
		t.Fatal(err)
	}
	if got := res.Node.Nodes; len(got) != 3 || got[0].Value != v1 || got[1].Value != v2 {
		t.Fatalf("values changed after later reads: %d nodes", len(got))
	}
}

// TestLongStringPiecesReused: the pieces a long string was read into go
// back to a pool for the next one, so a value must never view them: values
// decoded earlier, and by other goroutines at the same time, keep their
// bytes while later long strings are read (the race detector also checks
// the hand-over).
func TestLongStringPiecesReused(t *testing.T) {
	body := func(c byte, n int) string {
		return `{"action":"get","node":{"key":"/k","value":"` + strings.Repeat(string(c), n) + `","modifiedIndex":5,"createdIndex":5}}`
	}
	sizes := []int{200 << 10, 1 << 20, 3<<20 + 17, 9 << 20} // within the pooled pieces, and past them
	var kept []*Response
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func(g int) {
			var err error
			for i, n := range sizes {
				c := byte('a' + (g*len(sizes)+i)%26)
				var res Response
				if e := decodeStreamResponse(iotest.HalfReader(strings.NewReader(body(c, n))), &res); e != nil && err == nil {
					err = e
				}
				if res.Node == nil || res.Node.Value != strings.Repeat(string(c), n) {
					err = errors.New("a value does not hold the bytes it was sent with")
				}
			}
			done <- err
		}(g)
	}
	for i, n := range sizes {
		var res Response
		if err := decodeStreamResponse(strings.NewReader(body(byte('A'+i), n)), &res); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, &res)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for i, res := range kept {
		if want := strings.Repeat(string(byte('A'+i)), sizes[i]); res.Node.Value != want {
			t.Fatalf("value %d changed after later long strings were read", i)
		}
	}
}
