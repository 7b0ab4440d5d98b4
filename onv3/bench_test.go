package onv3

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/v2keys/client"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Benchmarks of onv3 beside raw clientv3 doing the least the same v2
// operation needs on the same member (the floor): a Get of one key, a Put,
// a compare-and-swap Txn. Run with -cpu 1,16 and -run '^$'; compare
// ns/op of each pair.

func benchSetup(b *testing.B) (client.KeysAPI, *clientv3.Client, string) {
	b.Helper()
	k, c, prefix := newOnV3(b)
	if _, err := k.Set(context.Background(), "/b/key", "value", nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer() // the shared member's start and the set-up are not measured
	return k, c, prefix
}

func BenchmarkGetOnV3(b *testing.B) {
	k, _, _ := benchSetup(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Get(context.Background(), "/b/key", &client.GetOptions{Quorum: true}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGetRaw(b *testing.B) {
	_, c, prefix := benchSetup(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(context.Background(), prefix+"/b/key"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var benchSeq atomic.Int64

func BenchmarkSetOnV3(b *testing.B) {
	k, _, _ := benchSetup(b)
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("/b/set%d", benchSeq.Add(1))
		for pb.Next() {
			if _, err := k.Set(context.Background(), key, "value", nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSetRaw(b *testing.B) {
	_, c, prefix := benchSetup(b)
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("%s/b/set%d", prefix, benchSeq.Add(1))
		for pb.Next() {
			if _, err := c.Put(context.Background(), key, "value"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCASOnV3(b *testing.B) {
	k, _, _ := benchSetup(b)
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("/b/cas%d", benchSeq.Add(1))
		r, err := k.Set(context.Background(), key, "0", nil)
		if err != nil {
			b.Error(err)
			return
		}
		idx := r.Node.ModifiedIndex
		for pb.Next() {
			r, err := k.Set(context.Background(), key, "v", &client.SetOptions{PrevIndex: idx})
			if err != nil {
				b.Error(err)
				return
			}
			idx = r.Node.ModifiedIndex
		}
	})
}

func BenchmarkCASRaw(b *testing.B) {
	_, c, prefix := benchSetup(b)
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("%s/b/cas%d", prefix, benchSeq.Add(1))
		r, err := c.Put(context.Background(), key, "0")
		if err != nil {
			b.Error(err)
			return
		}
		rev := r.Header.Revision
		for pb.Next() {
			t, err := c.Txn(context.Background()).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpPut(key, "v")).Commit()
			if err != nil || !t.Succeeded {
				b.Error(err)
				return
			}
			rev = t.Header.Revision
		}
	})
}

// fill100k writes 100 directories of 1000 keys below /big, in onv3's
// layout, with raw batched transactions.
func fill100k(b *testing.B, c *clientv3.Client, prefix string) {
	b.Helper()
	l := Layout{Prefix: prefix}
	ctx := context.Background()
	if _, err := c.Put(ctx, l.DirKey("/big"), ""); err != nil {
		b.Fatal(err)
	}
	errs := make(chan error, 100)
	sem := make(chan struct{}, 4)
	for d := range 100 {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			dir := fmt.Sprintf("/big/d%03d", d)
			ops := []clientv3.Op{clientv3.OpPut(l.DirKey(dir), "")}
			for i := range 1000 {
				ops = append(ops, clientv3.OpPut(l.FileKey(fmt.Sprintf("%s/k%04d", dir, i)), "some value of a key"))
				if len(ops) == 100 {
					if _, err := c.Txn(ctx).Then(ops...).Commit(); err != nil {
						errs <- err
						return
					}
					ops = ops[:0]
				}
			}
			if _, err := c.Txn(ctx).Then(ops...).Commit(); err != nil {
				errs <- err
				return
			}
			errs <- nil
		}()
	}
	for range 100 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecursiveGet100k compares a recursive Get of a 100k-key subtree
// through onv3 with the raw v3 Get of the same range (the floor).
func BenchmarkRecursiveGet100k(b *testing.B) {
	k, c, prefix := newOnV3(b)
	fill100k(b, c, prefix)
	ctx := context.Background()
	start, end := Layout{Prefix: prefix}.Below("/big")
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			r, err := c.Get(ctx, start, clientv3.WithRange(end))
			if err != nil || len(r.Kvs) != 100101 {
				b.Fatalf("%v, %d keys", err, len(r.Kvs))
			}
		}
	})
	b.Run("onv3", func(b *testing.B) {
		for b.Loop() {
			r, err := k.Get(ctx, "/big", &client.GetOptions{Recursive: true, Quorum: true})
			if err != nil || len(r.Node.Nodes) != 100 {
				b.Fatal(err)
			}
		}
	})
	b.Run("onv3-sorted", func(b *testing.B) {
		for b.Loop() {
			r, err := k.Get(ctx, "/big", &client.GetOptions{Recursive: true, Quorum: true, Sort: true})
			if err != nil || len(r.Node.Nodes) != 100 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkListing100k measures onv3's own work on a 100k-key recursive
// Get (building the v2 tree from the v3 key-values), without a server.
func BenchmarkListing100k(b *testing.B) {
	k := &keysAPI{l: Layout{Prefix: "/p"}}
	var kvs []*mvccpb.KeyValue
	for d := range 100 {
		kvs = append(kvs, &mvccpb.KeyValue{Key: fmt.Appendf(nil, "/p/big/d%03d/", d), CreateRevision: 5, ModRevision: 5})
		for i := range 1000 {
			kvs = append(kvs, &mvccpb.KeyValue{Key: fmt.Appendf(nil, "/p/big/d%03d/k%04d", d, i), Value: []byte("some value of a key"), CreateRevision: 7, ModRevision: 9})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ns, err := k.listing(context.Background(), "/big", kvs, true, false, newTTLs(nil))
		if err != nil || len(ns) != 100 || len(ns[0].Nodes) != 1000 {
			b.Fatal(err)
		}
	}
}
