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

// protoTxn is the TxnRequest the generated messages build for puts.
func protoTxn(puts []wirePut) *pb.TxnRequest {
	r := &pb.TxnRequest{}
	for _, p := range puts {
		r.Success = append(r.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{
			RequestPut: &pb.PutRequest{Key: []byte(p.key), Value: []byte(p.value), Lease: p.lease}}})
	}
	return r
}

func encodeWire(puts []wirePut) *wireTxn {
	t := &wireTxn{}
	for _, p := range puts {
		t.put(p.key, p.value, p.lease)
	}
	return t
}

// TestWireTxnMatchesProto: the hand-encoded transaction is byte for byte
// what the generated etcdserverpb messages encode to, and decodes back to
// the same puts; its halves are the first and the second half of the puts.
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
				if !bytes.Equal(part.w.buf, want.Materialize()) || part.w.len() != len(part.puts) || len(got.Success) != len(part.puts) {
					t.Fatalf("half %d: %d ops decoded, %d recorded, want %d", i, len(got.Success), part.w.len(), len(part.puts))
				}
			}
		})
	}
}

// TestCommitWire: a hand-encoded transaction is written by a real etcd
// (of the matrix's v3 version) as clientv3 would write it, and one larger
// than the cluster's --max-txn-ops is written in halves.
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
	if err := commitWire(cli, encodeWire(puts)); err != nil {
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
	if err := commitWire(cli, encodeWire([]wirePut{{"", "v", 0}})); err == nil || !strings.Contains(err.Error(), "key is not provided") {
		t.Errorf("put of an empty key: %v, want etcd's \"key is not provided\"", err)
	}
}
