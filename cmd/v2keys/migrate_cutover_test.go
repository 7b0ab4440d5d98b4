package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	"github.com/v2keys/client/onv3"
)

// cutoverWriter keeps a model of what its acknowledged writes left: each
// write goes to the KeysAPI it currently holds; a write that fails is
// retried until it is acknowledged (sets are idempotent here: one value
// per key and step).
type cutoverWriter struct {
	mu    sync.Mutex
	k     client.KeysAPI
	model map[string]string // v2 key → value, per acknowledged writes
	acks  int
}

func (w *cutoverWriter) use(k client.KeysAPI) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.k = k
}

// step does one write: sets of new keys, overwrites, compare-and-swaps by
// index (read through the same API), deletes, and directories.
func (w *cutoverWriter) step(ctx context.Context, src string, i int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := fmt.Sprintf("%s/d%d/k%03d", src, i%5, i%40)
	val := fmt.Sprint("v", i)
	var err error
	switch i % 7 {
	case 0, 1, 2:
		_, err = w.k.Set(ctx, key, val, nil)
	case 3:
		r, gerr := w.k.Get(ctx, key, &client.GetOptions{Quorum: true})
		if client.IsKeyNotFound(gerr) {
			_, err = w.k.Create(ctx, key, val)
			break
		}
		if gerr != nil {
			return gerr
		}
		_, err = w.k.Set(ctx, key, val, &client.SetOptions{PrevIndex: r.Node.ModifiedIndex})
	case 4:
		_, err = w.k.Delete(ctx, key, nil)
		if client.IsKeyNotFound(err) {
			err = nil
		}
		if err == nil {
			delete(w.model, key)
			w.acks++
		}
		return err
	case 5:
		d := fmt.Sprintf("%s/empty%d", src, i%3)
		_, err = w.k.Set(ctx, d, "", &client.SetOptions{Dir: true, PrevExist: client.PrevNoExist})
		if e, ok := err.(client.Error); ok && e.Code == client.ErrorCodeNodeExist {
			err = nil
		}
		if err == nil {
			w.model[d] = "<dir>"
			w.acks++
		}
		return err
	default:
		_, err = w.k.Set(ctx, key, val, &client.SetOptions{PrevExist: client.PrevIgnore})
	}
	if err == nil {
		w.model[key] = val
		w.acks++
	}
	return err
}

// TestMigrateCutover: a writer works on v2 while migrate --follow copies
// and follows; the follow catches up, verify is clean, and the writer
// moves to onv3 on the v3 copy and goes on: every acknowledged write, of
// both phases, reads through onv3, and nothing else.
func TestMigrateCutover(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	v2 := newV2(t, ep)
	cli := newV3(t, ep)
	ctx := context.Background()
	src := etcdtest.UniquePrefix(t) + "/svc"
	prefix := "/cut"
	w := &cutoverWriter{k: v2, model: map[string]string{}}
	i := 0
	write := func(n int) {
		t.Helper()
		for end := i + n; i < end; i++ {
			for attempt := 0; ; attempt++ {
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := w.step(wctx, src, i)
				cancel()
				if err == nil {
					break
				}
				if attempt == 5 {
					t.Fatalf("write %d: %v", i, err)
				}
			}
		}
	}
	write(100)
	bg := startCmd(t, "--endpoints", ep, "migrate", "--follow", "--prefix", prefix, src)
	stateKey := defaultStateKey(target{subtree: src, prefix: prefix})
	done := make(chan struct{})
	go func() { // writes go on during the copy
		defer close(done)
		write(200)
	}()
	waitFor(t, 60*time.Second, "the copy to finish", func() bool {
		st := readState(t, cli, stateKey)
		return st != nil && st.Phase == phaseFollow
	})
	<-done
	// Cutover: the writer stops on v2, the follow catches up and stops.
	catchUp(t, v2, cli, src+"/marker", prefix+src+"/marker")
	w.model[src+"/marker"] = "" // written by catchUp: checked by key only
	if code := bg.stop(t); code != 0 {
		t.Fatalf("follow exited %d: %s", code, bg.stderr.String())
	}
	if r := runCmd(t, "", "--endpoints", ep, "migrate", "--verify", "--prefix", prefix, src); r.code != 0 {
		t.Fatalf("verify at the cutover: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	w.use(onv3.NewKeysAPI(cli, prefix))
	write(200)

	// Every acknowledged write, nothing else.
	got := map[string]string{}
	r, err := onv3.NewKeysAPI(cli, prefix).Get(ctx, src, &client.GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(ns client.Nodes)
	walk = func(ns client.Nodes) {
		for _, n := range ns {
			switch {
			case n.Dir && len(n.Nodes) == 0:
				got[n.Key] = "<dir>"
			case n.Dir:
				walk(n.Nodes)
			default:
				got[n.Key] = n.Value
			}
		}
	}
	walk(r.Node.Nodes)
	for k, v := range w.model {
		g, ok := got[k]
		if !ok || (v != "" && g != v) {
			t.Errorf("%s: read through onv3 %q (present %v), acknowledged %q", k, g, ok, v)
		}
		delete(got, k)
	}
	for k, v := range got {
		if v != "<dir>" { // directories left empty by deletes are v2's too
			t.Errorf("extra through onv3: %s = %q", k, v)
		}
	}
	t.Logf("%d acknowledged writes (%d on v2, then on onv3)", w.acks, 300)
}
