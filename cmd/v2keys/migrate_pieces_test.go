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

// fillPieces makes a subtree of ten child directories (one with a TTL,
// one with a nested directory), 30 keys each, and two top-level files.
func fillPieces(t *testing.T, k client.KeysAPI, src string) {
	t.Helper()
	ctx := context.Background()
	if _, err := k.Set(ctx, src+"/d05", "", &client.SetOptions{Dir: true, TTL: 300 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for d := 0; d < 10; d++ {
		for i := 0; i < 30; i++ {
			key := fmt.Sprintf("%s/d%02d/k%02d", src, d, i)
			if d == 2 && i%2 == 0 {
				key = fmt.Sprintf("%s/d02/nested/k%02d", src, i)
			}
			if _, err := k.Set(ctx, key, fmt.Sprintf("v%d-%d", d, i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range []string{"/top1", "/top2"} {
		if _, err := k.Set(ctx, src+f, "top", nil); err != nil {
			t.Fatal(err)
		}
	}
}

// changesBetweenPieces returns a testHookPiece that changes v2 while the
// copy reads the pieces: before piece 0 is written, piece 3's turn and
// piece 6's: sets and deletes in pieces already read and not yet read,
// recursive deletes of a piece not yet read (d07, then recreated as a
// file before its turn) and of one already read (d01), a new top-level
// directory, top-level file changes, TTL changes (a directory's, a key's).
func changesBetweenPieces(t *testing.T, k client.KeysAPI, src string, count *int) func(int, string) {
	return func(i int, dir string) {
		ctx := context.Background()
		must := func(_ *client.Response, err error) {
			if err != nil {
				t.Errorf("piece %d (%s): %v", i, dir, err)
			}
		}
		switch i {
		case 0:
			*count++
			must(k.Set(ctx, src+"/d00/k01", "changed-while-read", nil))
			must(k.Set(ctx, src+"/d04/k01", "changed-before-read", nil))
			must(k.Delete(ctx, src+"/d08/k02", nil))
			must(k.Delete(ctx, src+"/d07", &client.DeleteOptions{Recursive: true}))
			must(k.Set(ctx, src+"/new/x", "new dir", nil))
			must(k.Set(ctx, src+"/top1", "top changed", nil))
			if _, err := k.Set(ctx, src+"/d05", "", &client.SetOptions{Dir: true, PrevExist: client.PrevExist, TTL: 600 * time.Second}); err != nil {
				// etcd 3.5 answers a directory's TTL update with 300
				// "Raft Internal Error ... Not a file" (500); 3.4 applies it.
				if v := etcdtest.DefaultVersion(etcdtest.V2); !strings.HasPrefix(v, "3.5") {
					t.Errorf("directory TTL update on etcd %s: %v", v, err)
				}
			}
			must(k.Set(ctx, src+"/d06/k03", "now with a TTL", &client.SetOptions{TTL: 900 * time.Second}))
		case 3:
			*count++
			must(k.Delete(ctx, src+"/d01", &client.DeleteOptions{Recursive: true}))
			must(k.Set(ctx, src+"/d07", "a file now", nil))
			must(k.Set(ctx, src+"/d02/nested/k04", "deep change", nil))
			must(k.Delete(ctx, src+"/top2", nil))
		case 6:
			*count++
			must(k.Set(ctx, src+"/d00/k01", "changed again", nil))
			must(k.Set(ctx, src+"/d09/k09", "before its piece", nil))
			must(k.Set(ctx, src+"/new/y", "another", nil))
			must(k.Set(ctx, src+"/d06/k03", "TTL gone", nil))
			// Last, two changes etcd's history matches for a watch of src
			// and its watches do not deliver: settle must not wait for
			// them.
			must(k.Set(ctx, src+"/d08/_hidden", "h", nil))
			sib := strings.TrimSuffix(src, "c") // "…/sr", a string prefix of "…/src"
			must(k.Set(ctx, sib+"/a", "sibling", nil))
			must(k.Delete(ctx, sib, &client.DeleteOptions{Recursive: true}))
		}
	}
}

// TestMigratePiecesWithChanges: changes made to v2 between the pieces of
// the copy end up in v3, for a one-shot copy (which ends as v2 was at one
// index at or after its last piece) and for a copy with --follow; both
// verify clean.
func TestMigratePiecesWithChanges(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	k := newV2(t, ep)
	cli := newV3(t, ep)
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			src := etcdtest.UniquePrefix(t) + "/src"
			fillPieces(t, k, src)
			prefix := "/pieces"
			args := []string{"--endpoints", ep, "migrate", "--prefix", prefix, src}
			if follow {
				args = []string{"--endpoints", ep, "migrate", "--follow", "--prefix", prefix, src}
			}
			hooked := 0
			testHookPiece = changesBetweenPieces(t, k, src, &hooked)
			defer func() { testHookPiece = nil }()
			stateKey := defaultStateKey(target{subtree: src, prefix: prefix})
			out, _ := migrateRun(t, context.Background(), args, follow, k, cli, stateKey, src+"/marker", prefix+src+"/marker")
			testHookPiece = nil
			if hooked != 3 {
				t.Fatalf("the hook changed v2 at %d pieces, want 3", hooked)
			}
			t.Logf("%s", strings.TrimSpace(out))
			if !strings.Contains(out, "events applied") || strings.Contains(out, " 0 events applied") {
				t.Errorf("no event applied after the pieces: %s", out)
			}
			r := runCmd(t, "", "--endpoints", ep, "migrate", "--verify", "--prefix", prefix, src)
			if r.code != 0 {
				t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if got := v3Range(t, cli, prefix+src+"/d07"); len(got) != 1 || got[prefix+src+"/d07"].value != "a file now" {
				t.Errorf("d07 (deleted, then a file before its piece): %v", got)
			}
		})
	}
}

// TestMigratePiecesResume: a copy interrupted between two pieces, with
// v2 changed before the re-run (in a piece the first run wrote, in one it
// did not, a piece removed), is resumed by the re-run, which keeps what
// the first run wrote as v2 still has it and verifies clean.
func TestMigratePiecesResume(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	k := newV2(t, ep)
	cli := newV3(t, ep)
	src := etcdtest.UniquePrefix(t) + "/src"
	fillPieces(t, k, src)
	const prefix = "/piecesres"
	args := []string{"--endpoints", ep, "migrate", "--prefix", prefix, src}

	ctx, cancel := context.WithCancel(context.Background())
	wrote := interruptAfter(t, cli, prefix+src+"/", 0, cancel)
	testHookPiece = func(i int, dir string) {
		if i == 5 {
			wrote(0) // once some keys are written
		}
	}
	var out, errb syncBuffer
	code := runContext(ctx, args, strings.NewReader(""), &out, &errb)
	testHookPiece = nil
	cancel()
	if code != ExitServerError || !strings.Contains(errb.String(), "run the same command again to resume it") {
		t.Fatalf("interrupted copy: exit %d, stderr %q", code, errb.String())
	}
	bg := context.Background()
	for _, w := range []func() (*client.Response, error){
		func() (*client.Response, error) { return k.Set(bg, src+"/d00/k00", "changed between runs", nil) },
		func() (*client.Response, error) { return k.Set(bg, src+"/d08/k00", "changed between runs", nil) },
		func() (*client.Response, error) {
			return k.Delete(bg, src+"/d03", &client.DeleteOptions{Recursive: true})
		},
	} {
		if _, err := w(); err != nil {
			t.Fatal(err)
		}
	}
	r := runCmd(t, "", args...)
	if r.code != 0 || !strings.Contains(r.stdout, "kept from the interrupted copy") {
		t.Fatalf("re-run: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("%s", strings.TrimSpace(r.stdout))
	if r := runCmd(t, "", "--endpoints", ep, "migrate", "--verify", "--prefix", prefix, src); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestWatchSkips(t *testing.T) {
	m := &migrator{t: target{subtree: "/app/src"}}
	root := &migrator{t: target{subtree: "/"}}
	for _, c := range []struct {
		m    *migrator
		key  string
		want bool
	}{
		{m, "/app/src", false},
		{m, "/app/src/a/b", false},
		{m, "/app", false},
		{m, "/", false},
		{m, "/app/src/_h", true},
		{m, "/app/src/a/_h/b", true},
		{m, "/app/sr", true},
		{m, "/app/srcx", true},
		{root, "/a", false},
		{root, "/_a", true},
	} {
		if got := c.m.watchSkips(c.key); got != c.want {
			t.Errorf("subtree %s: watchSkips(%s) = %v, want %v", c.m.t.subtree, c.key, got, c.want)
		}
	}
}
