package onv3

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/v2keys/client"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/client/v3/namespace"
	"google.golang.org/protobuf/proto"
)

// sampleTxnResponse has what a Get's answer holds, and what it does not
// use: a range of several key-values (an empty value, a lease, a version),
// an empty range, a response that is no range, headers in the ranges.
func sampleTxnResponse() *pb.TxnResponse {
	rangeOp := func(kvs ...*mvccpb.KeyValue) *pb.ResponseOp {
		return &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: &pb.RangeResponse{
			Header: &pb.ResponseHeader{Revision: 99}, Kvs: kvs, Count: int64(len(kvs)), More: true}}}
	}
	return &pb.TxnResponse{
		Header:    &pb.ResponseHeader{ClusterId: 0xdeadbeef, MemberId: 7, Revision: 12345, RaftTerm: 3},
		Succeeded: true,
		Responses: []*pb.ResponseOp{
			rangeOp(&mvccpb.KeyValue{Key: []byte("/p/a"), Value: []byte("v1"), CreateRevision: 5, ModRevision: 9, Version: 2}),
			rangeOp(),
			{Response: &pb.ResponseOp_ResponsePut{ResponsePut: &pb.PutResponse{}}},
			rangeOp(&mvccpb.KeyValue{Key: []byte("/p/d/"), CreateRevision: 3, ModRevision: 3, Lease: 0x1234},
				&mvccpb.KeyValue{Key: []byte("/p/d/x"), Value: []byte("a longer value \x00 with a NUL"), CreateRevision: 1 << 40, ModRevision: 1<<40 + 1}),
		},
	}
}

// rangesOf lists the key-values of m's responses as decode reports them.
func rangesOf(m *pb.TxnResponse) [][]*mvccpb.KeyValue {
	var out [][]*mvccpb.KeyValue
	for _, op := range m.Responses {
		rr := op.GetResponseRange()
		if rr == nil {
			out = append(out, nil)
			continue
		}
		kvs := []*mvccpb.KeyValue{}
		for _, kv := range rr.Kvs {
			kvs = append(kvs, &mvccpb.KeyValue{Key: kv.Key, Value: kv.Value, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision, Lease: kv.Lease})
		}
		out = append(out, kvs)
	}
	return out
}

func sameKV(a, b *mvccpb.KeyValue) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) && a.CreateRevision == b.CreateRevision &&
		a.ModRevision == b.ModRevision && a.Lease == b.Lease
}

// checkDecoded compares r with m, as proto decodes it.
func checkDecoded(r *rawTxnReply, m *pb.TxnResponse) error {
	if r.rev != m.GetHeader().GetRevision() || r.clusterID != m.GetHeader().GetClusterId() || r.succeeded != m.Succeeded {
		return fmt.Errorf("header: rev %d cluster %x succeeded %v, want %d %x %v", r.rev, r.clusterID, r.succeeded,
			m.GetHeader().GetRevision(), m.GetHeader().GetClusterId(), m.Succeeded)
	}
	want := rangesOf(m)
	if len(r.ranges) != len(want) {
		return fmt.Errorf("%d responses, want %d", len(r.ranges), len(want))
	}
	for i := range want {
		if (r.ranges[i] == nil) != (want[i] == nil) || len(r.ranges[i]) != len(want[i]) {
			return fmt.Errorf("response %d: %d key-values (nil %v), want %d (nil %v)", i, len(r.ranges[i]), r.ranges[i] == nil, len(want[i]), want[i] == nil)
		}
		for j := range want[i] {
			if got := r.keyValue(&r.ranges[i][j]); !sameKV(got, want[i][j]) {
				return fmt.Errorf("response %d, key-value %d: %v, want %v", i, j, got, want[i][j])
			}
		}
	}
	return nil
}

func TestRawTxnDecode(t *testing.T) {
	m := sampleTxnResponse()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawTxnReply{}
	if err := r.decode(b); err != nil {
		t.Fatal(err)
	}
	if err := checkDecoded(r, m); err != nil {
		t.Fatal(err)
	}
	if err := (&rawTxnReply{}).decode(nil); err != nil {
		t.Fatalf("empty answer: %v", err)
	}
	for _, cut := range []int{1, 5, len(b) / 2, len(b) - 1} {
		if err := (&rawTxnReply{}).decode(b[:cut]); !errors.Is(err, errMalformed) {
			t.Errorf("answer cut at %d of %d bytes: %v, want errMalformed", cut, len(b), err)
		}
	}
}

// FuzzRawTxnDecode: decode never panics, and whenever both it and proto
// accept bytes, they agree on everything a Get uses.
func FuzzRawTxnDecode(f *testing.F) {
	b, err := proto.Marshal(sampleTxnResponse())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/3])
	f.Add([]byte{0x1a, 0x05, 0x0a, 0x03, 0x12, 0x01, 0x0a})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &rawTxnReply{}
		if err := r.decode(b); err != nil {
			return
		}
		for _, kvs := range r.ranges {
			for i := range kvs {
				_ = r.keyValue(&kvs[i]) // in bounds
			}
		}
		var m pb.TxnResponse
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		if err := checkDecoded(r, &m); err != nil {
			t.Fatal(err)
		}
	})
}

// TestGetThroughWrappedKV: with the client's KV replaced by a namespace (as
// etcd's docs show), a Get goes through it too and sees what the writes
// wrote there, not the keys outside the namespace.
func TestGetThroughWrappedKV(t *testing.T) {
	ctx := testCtx(t)
	plain, c, prefix := newOnV3(t)
	wrapped := newV3(t, v3URL(t))
	wrapped.KV = namespace.NewKV(wrapped.KV, "/ns")
	k := NewKeysAPI(wrapped, prefix)
	for _, kv := range [][2]string{{"/w/a", "in ns"}, {"/w/d/b", "deep"}, {"/w/_h", "hidden"}} {
		if _, err := k.Set(ctx, kv[0], kv[1], nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := plain.Set(ctx, "/w/a", "outside", nil); err != nil {
		t.Fatal(err)
	}
	steps := []rstep{
		rget("/w/a", nil, wantNode("/w/a", false, "in ns")),
		rget("/w/_h", &client.GetOptions{Quorum: true}, wantNode("/w/_h", false, "hidden")),
		rget("/w", recursive, wantTree("/w/a", "/w/d/", "/w/d/b")),
		rget("/", recursive, wantTree("/w/", "/w/a", "/w/d/", "/w/d/b")),
		rget("/w/x", nil, wantErr(client.ErrorCodeKeyNotFound, "/w/x")),
		rget("/w/a/x", nil, wantErr(client.ErrorCodeNotDir, "/w/a")),
		rget("/nope/x", nil, wantErr(client.ErrorCodeKeyNotFound, "/nope")),
	}
	for i, s := range steps {
		if err := s.check(s.do(ctx, k)); err != nil {
			t.Errorf("step %d (%s): %v", i, s.name, err)
		}
	}
	if r, err := c.Get(ctx, "/ns"+Layout{Prefix: prefix}.FileKey("/w/a")); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "in ns" {
		t.Fatalf("the namespaced key: %v %v", r, err)
	}
	if err := wantNode("/w/a", false, "outside")(plain.Get(ctx, "/w/a", nil)); err != nil {
		t.Fatal(err)
	}
}
