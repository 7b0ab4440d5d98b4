package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// rootChanges returns a testHookPiece for a copy of the whole keyspace
// ("/", laid out by fillPieces with src ""): v2 changed between the
// pieces, every change recorded in h: sets and deletes in top-level
// directories read and not yet read, a recursive delete of each, one
// recreated as a file before its turn, the last piece (/d09) deleted
// before its read, a new top-level directory, top-level files set and
// deleted, a TTL set, and hidden keys (top-level and below a directory),
// which the watch does not deliver and the copy must not wait for; last,
// a hidden top-level key, so that the copy's last change below "/" is
// one the stream never delivers.
func rootChanges(t *testing.T, h *v2History, count *int) func(int, string) {
	k := h.k
	return func(i int, dir string) {
		ctx := context.Background()
		hidden := func(key string) {
			if _, err := k.Set(ctx, key, "h", nil); err != nil {
				t.Errorf("piece %d (%s): %v", i, dir, err)
			}
		}
		switch i {
		case 0:
			*count++
			h.change(k.Set(ctx, "/d00/k01", "changed-while-read", nil))
			h.change(k.Set(ctx, "/d04/k01", "changed-before-read", nil))
			h.change(k.Delete(ctx, "/d08/k02", nil))
			h.change(k.Delete(ctx, "/d07", &client.DeleteOptions{Recursive: true}))
			h.change(k.Set(ctx, "/new/x", "new dir", nil))
			h.change(k.Set(ctx, "/top1", "top changed", nil))
			h.change(k.Set(ctx, "/d06/k03", "now with a TTL", &client.SetOptions{TTL: 900 * time.Second}))
			hidden("/_hidden2")
		case 3:
			*count++
			h.change(k.Delete(ctx, "/d01", &client.DeleteOptions{Recursive: true}))
			h.change(k.Set(ctx, "/d07", "a file now", nil))
			h.change(k.Set(ctx, "/d02/nested/k04", "deep change", nil))
			h.change(k.Delete(ctx, "/top2", nil))
			hidden("/d03/_h2")
			h.change(k.Set(ctx, "/top3", "new top file", nil))
		case 8: // the last piece's read is requested after this
			*count++
			h.change(k.Set(ctx, "/d00/k01", "changed again", nil))
			h.change(k.Delete(ctx, "/d09", &client.DeleteOptions{Recursive: true}))
			hidden("/_last")
		}
	}
}

// TestMigrateRootInPieces migrates the whole keyspace ("/": top-level
// directories, each a piece, top-level files, hidden keys at the top and
// below a directory) of an etcd member of its own, while v2 changes
// between the pieces, one-shot and with --follow, into the shared v3
// member of the matrix. The one-shot copy ends as v2 was at the state's
// applied index (the target compared with a v2 read after each change);
// the follow ends as v2 is; both verify clean and hold no hidden key.
func TestMigrateRootInPieces(t *testing.T) {
	dst := etcdtest.SharedV3(t)
	dstEP := dst.ClientURL()
	cli := newV3(t, dstEP)
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			srcEP := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V2}).Members()[0].ClientURL()
			k := newV2(t, srcEP)
			ctx := context.Background()
			fillPieces(t, k, "")
			for _, key := range []string{"/_hidden", "/d03/_h", "/d02/nested/_h"} {
				if _, err := k.Set(ctx, key, "hidden", nil); err != nil {
					t.Fatal(err)
				}
			}
			prefix := "/root" + strings.ReplaceAll(etcdtest.UniquePrefix(t), "/", "_")
			h := &v2History{t: t, k: k, src: "/", prefix: prefix}
			h.change(k.Set(ctx, "/top1", "top", nil))
			args := []string{"--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--prefix", prefix, "/"}
			if follow {
				args = append(args[:len(args)-1], "--follow", "/")
			}
			hooked := 0
			var pieces []string
			changes := rootChanges(t, h, &hooked)
			testHookPiece = func(i int, dir string) {
				pieces = append(pieces, dir)
				changes(i, dir)
			}
			defer func() { testHookPiece = nil }()
			stateKey := defaultStateKey(target{subtree: "/", prefix: prefix})
			out, marker := migrateRun(t, ctx, args, follow, k, cli, stateKey, "/marker", prefix+"/marker")
			if follow {
				h.record(marker)
			}
			testHookPiece = nil
			t.Logf("%s", strings.TrimSpace(out))
			if hooked != 3 || len(pieces) != 10 || pieces[0] != "/d00" || pieces[9] != "/d09" {
				t.Fatalf("pieces %v, the hook changed v2 at %d of them, want /d00 to /d09 and 3", pieces, hooked)
			}
			st := readState(t, cli, stateKey)
			if st == nil || st.Phase != phaseFollow {
				t.Fatalf("state after the copy: %+v", st)
			}
			got := targetImage(t, cli, prefix, "/")
			if d := diffImages(h.asOf(st.AppliedIndex), got); d != "" {
				t.Fatalf("the target is not v2 as of the applied index %d:\n%s", st.AppliedIndex, d)
			}
			for key := range got {
				if strings.Contains(key, "/_") {
					t.Errorf("hidden key copied: %s", key)
				}
			}
			if got[prefix+"/d07"] != "a file now" || got[prefix+"/new/x"] != "new dir" {
				t.Errorf("/d07 = %q, /new/x = %q", got[prefix+"/d07"], got[prefix+"/new/x"])
			}
			r := runCmd(t, "", "--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--verify", "--prefix", prefix, "/")
			if r.code != 0 {
				t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
