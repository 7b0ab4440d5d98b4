package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

const clearedBody = `{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [1100/5]","index":2099}`

// clearedThenFake answers the first watch with EventIndexCleared, GETs with
// getStatus/getBody (X-Etcd-Index 7), and later watches with an event at
// index 9.
func clearedThenFake(t *testing.T, getStatus int, getBody string) *fakeMember {
	t.Helper()
	var mu sync.Mutex
	watches := 0
	return newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") != "true" {
			reply(getStatus, getBody)(w, r)
			return
		}
		mu.Lock()
		watches++
		n := watches
		mu.Unlock()
		if n == 1 {
			reply(http.StatusBadRequest, clearedBody)(w, r)
			return
		}
		reply(http.StatusOK, `{"action":"set","node":{"key":"/d/x","value":"after","modifiedIndex":9,"createdIndex":9}}`)(w, r)
	})
}

// queries returns the raw queries the fake member received, in order.
func (f *fakeMember) queries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var qs []string
	for _, r := range f.received {
		qs = append(qs, r.URL.Path+"?"+r.URL.RawQuery)
	}
	return qs
}

func TestWatcherResyncOnCleared(t *testing.T) {
	tests := []struct {
		name      string
		getStatus int
		getBody   string
		wantNode  bool
		wantIndex uint64
	}{
		// The node's modifiedIndex (5) is older than the read (7): the
		// watch must resume from the read's index, not the node's.
		{"key exists", http.StatusOK, `{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/a","value":"v","modifiedIndex":5,"createdIndex":5}],"modifiedIndex":2,"createdIndex":2}}`, true, 7},
		{"key missing", http.StatusNotFound, `{"errorCode":100,"message":"Key not found","cause":"/d","index":6}`, false, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clearedThenFake(t, tt.getStatus, tt.getBody)
			c := newTestClient(t, Config{}, f.URL)
			w := NewKeysAPI(c).Watcher("/d", &WatcherOptions{AfterIndex: 4, Recursive: true, ResyncOnCleared: true})
			resp, err := w.Next(context.Background())
			var hc *HistoryClearedError
			if resp != nil || !errors.As(err, &hc) {
				t.Fatalf("Next = %+v, %v; want nil and a *HistoryClearedError", resp, err)
			}
			var e Error
			if !errors.As(err, &e) || e.Code != ErrorCodeEventIndexCleared {
				t.Fatalf("errors.As(err, &Error{}) = %+v, want code 401", e)
			}
			if hc.Snapshot == nil || hc.Snapshot.Index != tt.wantIndex || (hc.Snapshot.Node != nil) != tt.wantNode {
				t.Fatalf("Snapshot = %+v, want Index %d, node present %v", hc.Snapshot, tt.wantIndex, tt.wantNode)
			}
			if tt.wantNode && (len(hc.Snapshot.Node.Nodes) != 1 || hc.Snapshot.Node.Nodes[0].Value != "v") {
				t.Fatalf("Snapshot node = %+v", hc.Snapshot.Node)
			}
			ev, err := w.Next(context.Background())
			if err != nil || ev.Node.Value != "after" {
				t.Fatalf("Next after resync = %+v, %v", ev, err)
			}
			want := []string{
				"/v2/keys/d?recursive=true&wait=true&waitIndex=5",
				"/v2/keys/d?quorum=true&recursive=true&sorted=true",
				fmt.Sprintf("/v2/keys/d?recursive=true&wait=true&waitIndex=%d", tt.wantIndex+1),
			}
			if got := f.queries(); !reflect.DeepEqual(got, want) {
				t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestWatcherWithoutResyncReturnsCleared(t *testing.T) {
	f := clearedThenFake(t, http.StatusOK, okBody)
	f.setHandler(reply(http.StatusBadRequest, clearedBody))
	c := newTestClient(t, Config{}, f.URL)
	w := NewKeysAPI(c).Watcher("/d", &WatcherOptions{AfterIndex: 4})
	for i := 0; i < 2; i++ {
		_, err := w.Next(context.Background())
		if e, ok := err.(Error); !ok || e.Code != ErrorCodeEventIndexCleared {
			t.Fatalf("Next = %T %v, want the value Error with code 401", err, err)
		}
	}
	want := []string{
		"/v2/keys/d?recursive=false&wait=true&waitIndex=5",
		"/v2/keys/d?recursive=false&wait=true&waitIndex=5",
	}
	if got := f.queries(); !reflect.DeepEqual(got, want) {
		t.Fatalf("requests %q, want %q (no GET, same index)", got, want)
	}
}

func TestWatcherResyncReadFailureKeepsIndex(t *testing.T) {
	f := clearedThenFake(t, http.StatusOK, okBody)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") == "true" {
			reply(http.StatusBadRequest, clearedBody)(w, r)
			return
		}
		reply(http.StatusInternalServerError, `{"errorCode":300,"message":"Raft Internal Error","index":7}`)(w, r)
	})
	c := newTestClient(t, Config{}, f.URL)
	w := NewKeysAPI(c).Watcher("/d", &WatcherOptions{AfterIndex: 4, ResyncOnCleared: true})
	_, err := w.Next(context.Background())
	var hc *HistoryClearedError
	if errors.As(err, &hc) || !errors.Is(err, ErrClusterUnavailable) {
		t.Fatalf("Next with a failing read = %v, want the read's ClusterError", err)
	}
	f.setHandler(reply(http.StatusBadRequest, clearedBody))
	w.Next(context.Background())
	qs := f.queries()
	if len(qs) != 4 || qs[2] != "/v2/keys/d?recursive=false&wait=true&waitIndex=5" {
		t.Fatalf("requests %q: want the watch after a failed resync at the old index", qs)
	}
}
