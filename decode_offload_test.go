package client

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// failingReader returns the bytes of b, then err.
type failingReader struct {
	b   []byte
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestOffloadManyBatches decodes a body whose escaped strings fill many
// more batches than the worker may hold at once, so that the decoder waits
// for returned batches, and checks the tree against the whole-body decoder.
func TestOffloadManyBatches(t *testing.T) {
	checkGoroutines(t)
	body := benchBody(20_000)
	if min := 4 * offloadBatches * offloadBatchBytes; len(body) < min {
		t.Fatalf("body of %d bytes, want at least %d to cycle the batches", len(body), min)
	}
	var want, got Response
	if err := decodeResponse(bytes.Clone(body), &want); err != nil {
		t.Fatal(err)
	}
	if err := decodeStreamResponse(bytes.NewReader(body), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("the tree decoded with the offload worker differs from the whole-body decoder's")
	}
}

// TestOffloadFirstErrorWins: when the worker rejects a string and the
// decoder then fails too, further on in the body or in reading it, the
// error reported is the one that comes first in the body, as a decoder
// that reads in order would report it.
func TestOffloadFirstErrorWins(t *testing.T) {
	valid := string(benchBody(2_000)) // about 600 KiB
	inner := strings.TrimSuffix(strings.TrimPrefix(valid, `{"action":"get","node":`), "}")
	// A bad escape in the first node's value, ahead of a long valid tail.
	bad := `{"action":"get","node":{"key":"/x","dir":true,"nodes":[{"key":"/x/a","value":"ok \u003c then \q"},` + inner + `]}}`
	boom := errors.New("connection reset")
	cases := []struct {
		name string
		r    io.Reader
	}{
		{"syntax error later", strings.NewReader(bad[:len(bad)-2] + `,}`)},
		{"read error later", &failingReader{b: []byte(bad[:len(bad)/2]), err: boom}},
		{"body ends early", strings.NewReader(bad[:len(bad)/2])},
	}
	want := decodeResponse([]byte(bad), new(Response))
	if want == nil || !strings.Contains(want.Error(), `invalid character 'q' in string escape code`) {
		t.Fatalf("whole-body decoder: %v", want)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			err := decodeStreamResponse(tc.r, new(Response))
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("error %v, want %v", err, want)
			}
		})
	}
}

// TestOffloadWorkerStops: the worker ends with the decode, whether it
// succeeded, failed on a string, or failed reading; none outlives it.
func TestOffloadWorkerStops(t *testing.T) {
	checkGoroutines(t)
	body := benchBody(3_000)
	readers := []io.Reader{
		bytes.NewReader(body),
		&failingReader{b: body[:len(body)/3], err: errors.New("reset")},
		strings.NewReader(`{"node":{"value":"\u00zz` + strings.Repeat(" ", 1<<20) + `"}}`),
	}
	for _, r := range readers {
		_ = decodeStreamResponse(r, new(Response))
	}
}
