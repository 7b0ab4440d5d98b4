package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// The tests of a create's one copy: a Set with PrevExist: PrevNoExist is
// not sent again once it may have reached a member, in either config, as
// upstream's one-shot create; it moves on only when provably unsent.

// createCalls are the forms of a create: each is a Set with PrevNoExist,
// which etcd applies whatever PrevIndex or PrevValue says.
var createCalls = []struct {
	name string
	call func(KeysAPI) error
}{
	{"create", func(k KeysAPI) error { _, err := k.Create(context.Background(), "/k", "v"); return err }},
	{"create with PrevIndex", func(k KeysAPI) error {
		_, err := k.Set(context.Background(), "/k", "v", &SetOptions{PrevExist: PrevNoExist, PrevIndex: 5})
		return err
	}},
	{"create a directory", func(k KeysAPI) error {
		_, err := k.Set(context.Background(), "/d", "", &SetOptions{Dir: true, PrevExist: PrevNoExist})
		return err
	}},
}

// TestCreateIsNotSentTwice: in both configs, a create whose request may
// have reached a member (a 503, a 500, a dropped connection) is not sent
// to another: the call fails after one attempt with ErrOutcomeUnknown and
// the next call starts at the next member. A create refused at connect
// moves on.
func TestCreateIsNotSentTwice(t *testing.T) {
	for _, c := range createCalls {
		for _, oneShot := range []bool{false, true} {
			cfg := "default"
			if oneShot {
				cfg = "OneShotWrites"
			}
			for _, f := range mayHaveReached {
				t.Run(c.name+"/"+cfg+"/"+f.name, func(t *testing.T) {
					first := newFakeMember(t, f.handler)
					second := newFakeMember(t, reply(http.StatusCreated, okBody))
					cl := newTestClient(t, Config{OneShotWrites: oneShot}, first.URL, second.URL)
					kapi := NewKeysAPI(cl)

					err := c.call(kapi)
					var cerr *ClusterError
					if !errors.As(err, &cerr) || len(cerr.Errors) != 1 || !strings.Contains(err.Error(), f.want) {
						t.Fatalf("error = %v, want a ClusterError of one attempt containing %q", err, f.want)
					}
					if !errors.Is(err, ErrOutcomeUnknown) {
						t.Fatal("errors.Is(err, ErrOutcomeUnknown) = false for a create that reached a member")
					}
					if first.requests.Load() != 1 || second.requests.Load() != 0 {
						t.Fatalf("members got %d and %d requests, want 1 and 0", first.requests.Load(), second.requests.Load())
					}
					// The next call starts at the other member.
					if err := c.call(kapi); err != nil {
						t.Fatalf("second call: %v", err)
					}
					if first.requests.Load() != 1 || second.requests.Load() != 1 {
						t.Fatalf("after the second call members got %d and %d requests, want 1 and 1", first.requests.Load(), second.requests.Load())
					}
				})
			}
			t.Run(c.name+"/"+cfg+"/connection refused", func(t *testing.T) {
				second := newFakeMember(t, reply(http.StatusCreated, okBody))
				cl := newTestClient(t, Config{OneShotWrites: oneShot}, refusedURL(t), second.URL)
				if err := c.call(NewKeysAPI(cl)); err != nil {
					t.Fatalf("a create that was never sent did not move on: %v", err)
				}
				if second.requests.Load() != 1 {
					t.Fatalf("second member got %d requests, want 1", second.requests.Load())
				}
			})
		}
	}
}

// TestRealCreateIgnoresConditions: etcd applies a Set with PrevNoExist as
// a create whatever PrevIndex and PrevValue say, so a copy of one that
// carries an index is applied again once its key was deleted: PrevIndex
// does not make a create safe to resend.
func TestRealCreateIgnoresConditions(t *testing.T) {
	kapi, p := sharedKeys(t)
	ctx := testCtx(t)
	key := p + "/k"

	first, err := kapi.Set(ctx, key, "a", &SetOptions{PrevExist: PrevNoExist, PrevIndex: 1 << 40, PrevValue: "nothing"})
	if err != nil {
		t.Fatalf("create with a PrevIndex and PrevValue no key has: %v", err)
	}
	if first.Action != "create" {
		t.Fatalf("action %q, want create", first.Action)
	}
	if _, err := kapi.Delete(ctx, key, nil); err != nil {
		t.Fatal(err)
	}
	// The same request again, as a late copy would be, and one conditioned
	// on the deleted node's index: both create the key anew.
	for _, opts := range []*SetOptions{
		{PrevExist: PrevNoExist, PrevIndex: 1 << 40, PrevValue: "nothing"},
		{PrevExist: PrevNoExist, PrevIndex: first.Node.ModifiedIndex},
	} {
		again, err := kapi.Set(ctx, key, "a", opts)
		if err != nil {
			t.Fatalf("create %+v after the delete: %v", opts, err)
		}
		if again.Action != "create" || again.Node.CreatedIndex <= first.Node.CreatedIndex {
			t.Fatalf("create %+v after the delete: action %q at %d, want a new create after %d", opts, again.Action, again.Node.CreatedIndex, first.Node.CreatedIndex)
		}
		if _, err := kapi.Delete(ctx, key, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFaultCreateAcrossDelete is the case internal/chaos found (when a
// create was resent): a Create whose copy went to a stopped follower, then
// a Delete of the key, then the follower resumes and applies its copy. In
// both configs the Create is not resent: it fails after one attempt with
// ErrOutcomeUnknown, the Delete finds no key, and the one copy is applied
// late, after the Delete: the key exists once, with the Create's value, as
// the unknown outcome allowed. (Resent, the Create was applied twice: by
// the next member, then, after the Delete, by the resumed one.)
func TestFaultCreateAcrossDelete(t *testing.T) {
	for _, oneShot := range []bool{false, true} {
		name := "default"
		if oneShot {
			name = "OneShotWrites"
		}
		t.Run(name, func(t *testing.T) {
			ctx := faultCtx(t, 90*time.Second)
			_, members := startFaultCluster(t, ctx)
			leader, follower, other := members[0], members[1], members[2]
			cl := newTestClient(t, Config{HeaderTimeoutPerRequest: faultHeaderTimeout, OneShotWrites: oneShot},
				memberURLs([]*etcdtest.Member{follower, other})...)
			kapi := NewKeysAPI(cl)
			side := NewKeysAPI(faultClient(t, leader))

			const dir = "/create-across-delete"
			const key = dir + "/k"
			base, err := side.Set(ctx, dir+"/before", "0", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := follower.Pause(); err != nil {
				t.Fatal(err)
			}
			resumed := false
			defer func() {
				if !resumed {
					follower.Resume()
				}
			}()
			t0 := time.Now()
			_, err = kapi.Create(ctx, key, "first")
			took := time.Since(t0)
			var cerr *ClusterError
			if !errors.As(err, &cerr) || len(cerr.Errors) != 1 || !errors.Is(err, ErrOutcomeUnknown) {
				t.Fatalf("Create through a stopped member: %v, want one attempt with ErrOutcomeUnknown", err)
			}
			if took > faultHeaderTimeout+2*time.Second {
				t.Errorf("Create through a stopped member failed after %v", took)
			}
			// Not resent: no copy reached the running members, so the
			// delete finds nothing.
			_, delErr := side.Delete(ctx, key, nil)
			if !IsKeyNotFound(delErr) {
				t.Fatalf("delete after the Create: %v, want key not found", delErr)
			}
			// The next call starts at the next member, at once.
			t0 = time.Now()
			if _, err := kapi.Set(ctx, dir+"/next", "1", nil); err != nil {
				t.Fatalf("the call after the failed Create: %v", err)
			}
			if next := time.Since(t0); next > faultHeaderTimeout/2 {
				t.Errorf("the call after the failed Create took %v: it did not start at the next member", next)
			}
			if err := follower.Resume(); err != nil {
				t.Fatal(err)
			}
			resumed = true

			// Wait (bounded) for the resumed member's copy to be applied.
			var got *Response
			var getErr error
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if got, getErr = side.Get(ctx, key, &GetOptions{Quorum: true}); getErr == nil {
					break
				}
			}
			if getErr != nil {
				t.Fatalf("the stopped member's copy never applied: %v", getErr)
			}
			var notFound Error
			errors.As(delErr, &notFound)
			delIndex := notFound.Index
			if got.Node.Value != "first" || got.Node.CreatedIndex <= delIndex {
				t.Fatalf("key %+v, want the Create's value, created after the delete's index %d", got.Node, delIndex)
			}
			// One copy, applied once: the key's history since before the
			// Create holds one create event.
			creates := createEvents(t, ctx, side, key, base.Node.ModifiedIndex, got.Node.ModifiedIndex)
			if len(creates) != 1 || creates[0] != got.Node.CreatedIndex {
				t.Fatalf("create events of %s at %v, want one, at %d", key, creates, got.Node.CreatedIndex)
			}
			t.Logf("Create failed as unknown after %v; delete found no key (index %d); the one copy applied late at %d",
				took.Round(time.Millisecond), delIndex, got.Node.CreatedIndex)
		})
	}
}

// createEvents returns the indexes of the create events of key after index
// after, reading its history up to its event at index upTo.
func createEvents(t *testing.T, ctx context.Context, kapi KeysAPI, key string, after, upTo uint64) []uint64 {
	t.Helper()
	var creates []uint64
	w := kapi.Watcher(key, &WatcherOptions{AfterIndex: after})
	for {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ev, err := w.Next(wctx)
		cancel()
		if err != nil {
			t.Fatalf("watch of %s: %v", key, err)
		}
		if ev.Action == "create" {
			creates = append(creates, ev.Node.CreatedIndex)
		}
		if ev.Node.ModifiedIndex >= upTo {
			return creates
		}
	}
}
