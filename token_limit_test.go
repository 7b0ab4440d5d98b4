package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// chunkedAnswer serves body in flushed pieces, without Content-Length, as
// etcd sends large answers.
func chunkedAnswer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Etcd-Index", "9")
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 1<<20)
			w.Write([]byte(rest[:n]))
			w.(http.Flusher).Flush()
			rest = rest[n:]
		}
	}
}

// TestValueLimitFollowsMaxResponseBytes: a single value longer than 64 MiB
// (the decoder's former fixed limit) is read by Get under the default
// Config.MaxResponseBytes; Walk, which holds only one value at a time,
// reads a value within MaxResponseBytes and fails on a longer one with
// ErrResponseTooLarge.
func TestValueLimitFollowsMaxResponseBytes(t *testing.T) {
	answer := func(value string) string {
		return `{"action":"get","node":{"key":"/k","value":"` + value + `","modifiedIndex":5,"createdIndex":5}}`
	}

	huge := strings.Repeat("v", 64<<20+100)
	c := newTestClient(t, Config{}, newFakeMember(t, chunkedAnswer(answer(huge))).URL)
	resp, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	if err != nil {
		t.Fatalf("Get of a %d-byte value: %v", len(huge), err)
	}
	if resp.Node.Value != huge || resp.Index != 9 {
		t.Fatalf("Get of a %d-byte value: got %d bytes, index %d", len(huge), len(resp.Node.Value), resp.Index)
	}

	value := strings.Repeat("v", 2<<20)
	m := newFakeMember(t, chunkedAnswer(answer(value)))
	tests := []struct {
		max     int64
		wantErr error
	}{
		{4 << 20, nil},
		{1 << 20, ErrResponseTooLarge},
	}
	for _, tt := range tests {
		var got []*Node
		_, err := Walk(context.Background(), newTestClient(t, Config{MaxResponseBytes: tt.max}, m.URL), "/k", nil, func(n *Node) error {
			got = append(got, n)
			return nil
		})
		switch {
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("Walk of a %d-byte value, MaxResponseBytes %d: %v, want %v", len(value), tt.max, err, tt.wantErr)
		case tt.wantErr == nil && (err != nil || len(got) != 1 || got[0].Value != value):
			t.Errorf("Walk of a %d-byte value, MaxResponseBytes %d: %d nodes, %v", len(value), tt.max, len(got), err)
		}
	}
}
