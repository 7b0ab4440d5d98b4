package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

type wirePut struct {
	key, value string
	lease      int64
}

const (
	testGuardKey = "v2keys-migrate:/p/src"
	testGuardRev = 1234567
)

// protoTxn is the TxnRequest the generated messages build for puts with
// the guard.
func protoTxn(puts []wirePut) *pb.TxnRequest {
	cmp := clientv3.Compare(clientv3.ModRevision(testGuardKey), "=", testGuardRev)
	r := &pb.TxnRequest{Compare: []*pb.Compare{cmp.GetCompare()}}
	for _, p := range puts {
		r.Success = append(r.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{
			RequestPut: &pb.PutRequest{Key: []byte(p.key), Value: []byte(p.value), Lease: p.lease}}})
	}
	return r
}

func encodeWire(puts []wirePut) *wireTxn {
	t := newWireTxn(testGuardKey, testGuardRev, 0)
	for _, p := range puts {
		t.put(p.key, p.value, p.lease)
	}
	return t
}

// TestWireTxnMatchesProto: the hand-encoded transaction is byte for byte
// what the generated etcdserverpb messages encode to (guard and puts), and
// decodes back to the same; its halves are the guard with the first and
// with the second half of the puts; the answer's succeeded is read from
// what etcd's messages encode, and a malformed answer is an error.
func TestWireTxnMatchesProto(t *testing.T) {
	codec := encoding.GetCodecV2(proto.Name)
	long := strings.Repeat("v", 70000) // lengths of three varint bytes
	cases := []struct {
		name string
		puts []wirePut
	}{
		{"one", []wirePut{{"/p/a", "1", 0}}},
		{"empty value (a directory marker)", []wirePut{{"/p/d/", "", 0}}},
		{"lease", []wirePut{{"/p/t", "x", 0x694d7a1b2c3d4e5f}}},
		{"small lease", []wirePut{{"/p/t", "x", 1}}},
		{"long value", []wirePut{{"/p/long", long, 0}, {"/p/after", "y", 7}}},
		{"binary and unicode", []wirePut{{"/p/\x00\xff", "\x80\x00é", 0}, {"/p/ключ", "значение", 0}}},
		{"long key", []wirePut{{"/" + strings.Repeat("k", 200), "v", 0}}},
		{"a full batch", func() (ps []wirePut) {
			for i := range maxTxnOps {
				ps = append(ps, wirePut{fmt.Sprintf("/p/d%02d/key%07d", i%100, i), fmt.Sprintf("value %07d", i), int64(i % 3)})
			}
			return ps
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := encodeWire(tc.puts)
			want, err := codec.Marshal(protoTxn(tc.puts))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w.buf, want.Materialize()) {
				t.Fatalf("encoding differs from the generated messages':\n got %x\nwant %x", w.buf, want.Materialize())
			}
			if w.len() != len(tc.puts) {
				t.Fatalf("len %d, want %d", w.len(), len(tc.puts))
			}
			if len(tc.puts) < 2 {
				return
			}
			a, b := w.halves()
			n := len(tc.puts) / 2
			for i, part := range []struct {
				w    *wireTxn
				puts []wirePut
			}{{a, tc.puts[:n]}, {b, tc.puts[n:]}} {
				var got pb.TxnRequest
				if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(part.w.buf)}, &got); err != nil {
					t.Fatalf("half %d: %v", i, err)
				}
				want, err := codec.Marshal(protoTxn(part.puts))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(part.w.buf, want.Materialize()) || part.w.len() != len(part.puts) || len(got.Success) != len(part.puts) || len(got.Compare) != 1 {
					t.Fatalf("half %d: %d ops decoded, %d recorded, want %d; %d compares", i, len(got.Success), part.w.len(), len(part.puts), len(got.Compare))
				}
			}
		})
	}

	answers := []struct {
		name string
		resp *pb.TxnResponse
	}{
		{"succeeded", &pb.TxnResponse{Header: &pb.ResponseHeader{ClusterId: 1 << 60, MemberId: 2, Revision: 99999, RaftTerm: 3}, Succeeded: true,
			Responses: []*pb.ResponseOp{{Response: &pb.ResponseOp_ResponsePut{ResponsePut: &pb.PutResponse{Header: &pb.ResponseHeader{Revision: 99999}}}}}}},
		{"failed", &pb.TxnResponse{Header: &pb.ResponseHeader{Revision: 5}, Succeeded: false}},
		{"empty", &pb.TxnResponse{}},
	}
	for _, a := range answers {
		data, err := codec.Marshal(a.resp)
		if err != nil {
			t.Fatal(err)
		}
		var r wireResult
		if err := (wireCodec{}).Unmarshal(data.Materialize(), &r); err != nil || r.succeeded != a.resp.Succeeded {
			t.Errorf("answer %s: succeeded %v, %v; want %v", a.name, r.succeeded, err, a.resp.Succeeded)
		}
	}
	for _, bad := range []string{"\x12", "\x10", "\x0a\x05ab", "\x0d\x00\x00\x00\x00", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"} {
		var r wireResult
		if err := (wireCodec{}).Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("answer %q: no error", bad)
		}
	}
}

// TestCommitWire: a hand-encoded transaction is written by a real etcd
// (of the matrix's v3 version) as clientv3 would write it, one larger
// than the cluster's --max-txn-ops is written in halves, and one whose
// guard no longer holds (the state key was written since) writes nothing
// and returns errStateChanged.
func TestCommitWire(t *testing.T) {
	c := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V3, Flags: []string{"--max-txn-ops", "10"}})
	t.Logf("etcd %s", c.Version())
	cli := newV3(t, c.ClientURLs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lease, err := cli.Grant(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	put, err := cli.Put(ctx, testGuardKey, "state")
	if err != nil {
		t.Fatal(err)
	}
	guarded := func(puts []wirePut) *wireTxn {
		w := newWireTxn(testGuardKey, put.Header.Revision, 0)
		for _, p := range puts {
			w.put(p.key, p.value, p.lease)
		}
		return w
	}
	var puts []wirePut
	for i := range 37 {
		p := wirePut{fmt.Sprintf("/w/k%02d", i), fmt.Sprintf("value %d", i), 0}
		if i%5 == 0 {
			p.lease = int64(lease.ID)
		}
		if i == 3 {
			p.value = ""
		}
		puts = append(puts, p)
	}
	if err := commitWire(cli, guarded(puts)); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(ctx, "/w/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != len(puts) {
		t.Fatalf("%d keys written, want %d", len(resp.Kvs), len(puts))
	}
	for i, kv := range resp.Kvs {
		p := puts[i]
		if string(kv.Key) != p.key || string(kv.Value) != p.value || kv.Lease != p.lease {
			t.Errorf("got %q=%q lease %x, want %q=%q lease %x", kv.Key, kv.Value, kv.Lease, p.key, p.value, p.lease)
		}
	}
	// 37 puts with at most 10 per Txn: 37 -> 18+19 -> 9+9+9+10: 4 revisions.
	if revs := resp.Kvs[len(resp.Kvs)-1].ModRevision - resp.Kvs[0].ModRevision + 1; revs != 4 {
		t.Errorf("written in %d revisions, want 4 (halved twice)", revs)
	}
	// An error that is not about the size is returned as etcd's.
	if err := commitWire(cli, guarded([]wirePut{{"", "v", 0}})); err == nil || !strings.Contains(err.Error(), "key is not provided") {
		t.Errorf("put of an empty key: %v, want etcd's \"key is not provided\"", err)
	}
	// The state key changes (a new run took over): a late Txn of the old
	// one, large enough to be halved, writes nothing.
	if _, err := cli.Put(ctx, testGuardKey, "new state"); err != nil {
		t.Fatal(err)
	}
	var late []wirePut
	for i := range 15 {
		late = append(late, wirePut{fmt.Sprintf("/w/k%02d", i), "late", 0})
	}
	if err := commitWire(cli, guarded(late)); err != errStateChanged {
		t.Fatalf("late Txn: %v, want errStateChanged", err)
	}
	after, err := cli.Get(ctx, "/w/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if after.Header.Revision != resp.Header.Revision+1 {
		t.Errorf("revision %d after the late Txn, want %d (only the state key's put)", after.Header.Revision, resp.Header.Revision+1)
	}
}

// TestCommitSplitGuarded checks the sweep's deletes: written in halves
// when the cluster allows fewer operations per Txn, and, once the state key
// has changed (a newer run took over), a late delete removes nothing and
// returns errStateChanged.
func TestCommitSplitGuarded(t *testing.T) {
	c := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V3, Flags: []string{"--max-txn-ops", "10"}})
	cli := newV3(t, c.ClientURLs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	state, err := cli.Put(ctx, testGuardKey, "state")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := cli.Put(ctx, fmt.Sprintf("/s/k%02d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	dels := func(from, to int) []clientv3.Op {
		var ops []clientv3.Op
		for i := from; i < to; i++ {
			ops = append(ops, clientv3.OpDelete(fmt.Sprintf("/s/k%02d", i)))
		}
		return ops
	}
	if err := commitSplit(cli, testGuardKey, state.Header.Revision, dels(0, 15)); err != nil {
		t.Fatal(err)
	}
	left, err := cli.Get(ctx, "/s/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if left.Count != 15 {
		t.Fatalf("%d keys left after deleting 15 of 30, want 15", left.Count)
	}
	if _, err := cli.Put(ctx, testGuardKey, "new state"); err != nil {
		t.Fatal(err)
	}
	if err := commitSplit(cli, testGuardKey, state.Header.Revision, dels(15, 30)); err != errStateChanged {
		t.Fatalf("late delete: %v, want errStateChanged", err)
	}
	after, err := cli.Get(ctx, "/s/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if after.Count != 15 {
		t.Errorf("%d keys left after the late delete, want 15 (nothing deleted)", after.Count)
	}
}
