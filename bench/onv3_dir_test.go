package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	v2keys "github.com/v2keys/client"
	"github.com/v2keys/client/onv3"
)

// BenchmarkOnV3WriteInDir times onv3 writes of one key inside a directory
// of 10 keys and inside one of 100,000 (1,000 under BENCH_SMOKE alone), at
// 1 goroutine, to show whether a write's cost grows with the size of the
// directory it writes into (it should not: v2 writes one key):
//
//   - set: a Set of an existing key (the common case: one guarded Txn);
//   - refresh: a TTL refresh of a key (the general path: the state is
//     read, then written in a Txn guarded by what was read);
//   - mkdir: a Set of a key in a new subdirectory, which creates the
//     subdirectory, then the recursive delete of that subdirectory (so
//     the directory keeps its size);
//   - inorder: a CreateInOrder in the directory, then the delete of the
//     key it made.
//
// Both directories are queues: their keys have in-order names (20 digits),
// each written by a put of its own in onv3's layout (raw clientv3, 16 at a
// time), so that every name is below the revision, as onv3 names them.
func BenchmarkOnV3WriteInDir(b *testing.B) {
	onv3Enabled(b)
	large, label := 100000, "100k"
	if smokeOnly() {
		large, label = 1000, "1k"
	}
	e := newOnV3Env(b)
	ctx := context.Background()
	l := onv3.Layout{Prefix: e.prefix}
	sizes := []struct {
		dir, label string
		keys       int
	}{{"/small", "10", 10}, {"/large", label, large}}
	name := func(dir string, i int) string { return fmt.Sprintf("%s/%020d", dir, i+1) }
	for _, s := range sizes {
		if _, err := e.cli.Put(ctx, l.DirKey(s.dir), ""); err != nil {
			b.Fatal(err)
		}
		errs := make(chan error, 16)
		for g := range 16 {
			go func() {
				for i := g; i < s.keys; i += 16 {
					if _, err := e.cli.Put(ctx, l.FileKey(name(s.dir, i)), keyValue); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 16 {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	refresh := &v2keys.SetOptions{Refresh: true, TTL: time.Minute, PrevExist: v2keys.PrevExist}
	recursive := &v2keys.DeleteOptions{Recursive: true}
	opsOf := map[string]func(dir string) error{
		"set": func(dir string) error {
			_, err := e.onv3.Set(ctx, name(dir, 1), keyValue, nil)
			return err
		},
		"refresh": func(dir string) error {
			_, err := e.onv3.Set(ctx, name(dir, 2), "", refresh)
			return err
		},
		"mkdir": func(dir string) error {
			if _, err := e.onv3.Set(ctx, dir+"/sub/k", keyValue, nil); err != nil {
				return err
			}
			_, err := e.onv3.Delete(ctx, dir+"/sub", recursive)
			return err
		},
	}
	opsOf["inorder"] = func(dir string) error {
		r, err := e.onv3.CreateInOrder(ctx, dir, keyValue, nil)
		if err != nil {
			return err
		}
		_, err = e.onv3.Delete(ctx, r.Node.Key, nil)
		return err
	}
	for _, s := range sizes {
		if _, err := e.onv3.Set(ctx, name(s.dir, 2), keyValue, &v2keys.SetOptions{TTL: time.Minute}); err != nil {
			b.Fatal(err)
		}
	}
	for _, op := range []string{"set", "refresh", "mkdir", "inorder"} {
		b.Run("op="+op, func(b *testing.B) {
			for _, s := range sizes {
				// impl=onv3 makes each size a row of compare.sh's table.
				b.Run("dir="+s.label+"/impl=onv3", func(b *testing.B) {
					f := opsOf[op]
					if err := f(s.dir); err != nil { // warm up, and check
						b.Fatal(err)
					}
					b.ReportAllocs()
					var m cpuMeter
					m.start(e.pid)
					for b.Loop() {
						if err := f(s.dir); err != nil {
							b.Fatal(err)
						}
					}
					m.report(b)
				})
			}
		})
	}
}
