package client

import (
	"errors"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// TestFaultCreateAcrossDelete is the case internal/chaos found: a Create
// whose first copy went to a stopped follower, then a Delete of the key,
// then the follower resumes and applies its copy. A Create resent to the
// next member (the default; upstream sends a Create once) is applied
// twice and the deleted key comes back; with Config.OneShotWrites the
// Create is not resent and says its outcome is unknown, so the only copy
// is the late one.
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
			kapi := NewKeysAPI(newTestClient(t, Config{HeaderTimeoutPerRequest: faultHeaderTimeout, OneShotWrites: oneShot},
				memberURLs([]*etcdtest.Member{follower, other})...))
			side := NewKeysAPI(faultClient(t, leader))

			const key = "/create-across-delete/k"
			if err := follower.Pause(); err != nil {
				t.Fatal(err)
			}
			resumed := false
			defer func() {
				if !resumed {
					follower.Resume()
				}
			}()
			resp, err := kapi.Create(ctx, key, "first")
			switch {
			case oneShot && !errors.Is(err, ErrOutcomeUnknown):
				t.Fatalf("Create through a stopped member with OneShotWrites: %v, want ErrOutcomeUnknown", err)
			case !oneShot && err != nil:
				t.Fatalf("Create through a stopped member, resent to the next: %v", err)
			}
			// Delete it if the resent copy created it; with one-shot writes
			// the key is not there yet.
			_, delErr := side.Delete(ctx, key, nil)
			if oneShot != IsKeyNotFound(delErr) {
				t.Fatalf("delete after the Create: %v", delErr)
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
			if oneShot {
				// One copy only, applied late: the outcome the call said was
				// unknown.
				t.Logf("the one copy applied at %d after the member resumed", got.Node.CreatedIndex)
				return
			}
			// The documented risk of resending: the key is back after its
			// delete.
			t.Logf("created at %d, deleted, back at %d: applied twice", resp.Node.CreatedIndex, got.Node.CreatedIndex)
			if got.Node.CreatedIndex <= resp.Node.CreatedIndex {
				t.Errorf("key at %d, want a second creation after %d", got.Node.CreatedIndex, resp.Node.CreatedIndex)
			}
		})
	}
}
