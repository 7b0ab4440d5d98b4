package onv3

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/v2keys/client"
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
