package onv3

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A Get sends its read-only transaction on the clientv3 client's own gRPC
// connection (with its interceptors: retries, auth tokens) and call options
// (message size limits), but decodes the answer itself: clientv3 builds a
// protobuf message per key-value (about 130 bytes, plus a slice for its key
// and one for its value), which a Get of a large directory turns into v2
// nodes at once and drops. rawTxnReply keeps the answer's bytes, one
// allocation, and a pointer-free record per key-value that points into
// them; v2 nodes point into the same bytes. That halves the client's work
// on a 100,000-key Get (bench/: BenchmarkOnV3RecursiveGet).

const txnMethod = "/etcdserverpb.KV/Txn"

// rawKV is one key-value of a rawTxnReply: offsets into its bytes, and the
// numbers a v2 node needs.
type rawKV struct {
	keyOff, keyLen, valOff, valLen int32
	create, mod, lease             int64
}

// rawTxnReply is the decoded answer to a read-only transaction.
type rawTxnReply struct {
	buf       []byte // the answer; nobody changes it once decoded
	clusterID uint64
	rev       int64
	succeeded bool
	// ranges are the key-values of each response of the branch taken,
	// in order (nil for a response that is no range).
	ranges [][]rawKV
}

func (r *rawTxnReply) key(kv *rawKV) []byte   { return r.buf[kv.keyOff : kv.keyOff+kv.keyLen] }
func (r *rawTxnReply) value(kv *rawKV) []byte { return r.buf[kv.valOff : kv.valOff+kv.valLen] }

// keyValue is kv as etcd's type (for the few key-values a Get looks at
// alone); its key and value share the answer's bytes.
func (r *rawTxnReply) keyValue(kv *rawKV) *mvccpb.KeyValue {
	return &mvccpb.KeyValue{Key: r.key(kv), Value: r.value(kv), CreateRevision: kv.create, ModRevision: kv.mod, Lease: kv.lease}
}

// first is the first key-value of response i, or nil.
func (r *rawTxnReply) first(i int) *mvccpb.KeyValue {
	if i >= len(r.ranges) || len(r.ranges[i]) == 0 {
		return nil
	}
	return r.keyValue(&r.ranges[i][0])
}

// rawTxn sends the read-only transaction req and decodes its answer. A
// client whose KV was replaced (namespace.NewKV, another wrapper) is used
// through its KV, so that a Get sees what the writes wrote: its answer is
// then encoded again and decoded as a raw one.
func (k *keysAPI) rawTxn(ctx context.Context, req *pb.TxnRequest) (*rawTxnReply, error) {
	reply := &rawTxnReply{}
	if reflect.TypeOf(k.c.KV) != clientKVType {
		return reply, k.txnThroughKV(ctx, req, reply)
	}
	if err := k.c.ActiveConnection().Invoke(ctx, txnMethod, req, reply, k.callOpts...); err != nil {
		return nil, readErr(ctx, clientv3.ContextError(ctx, err))
	}
	return reply, nil
}

// clientKVType is the type of clientv3's own KV.
var clientKVType = reflect.TypeOf(clientv3.NewKVFromKVClient(nil, nil))

// txnThroughKV sends req, whose operations are all range reads, through
// the client's KV, and decodes the answer into reply.
func (k *keysAPI) txnThroughKV(ctx context.Context, req *pb.TxnRequest, reply *rawTxnReply) error {
	ops := func(ros []*pb.RequestOp) []clientv3.Op {
		out := make([]clientv3.Op, 0, len(ros))
		for _, ro := range ros {
			rr := ro.GetRequestRange()
			var opts []clientv3.OpOption
			if len(rr.RangeEnd) > 0 {
				opts = append(opts, clientv3.WithRange(string(rr.RangeEnd)))
			}
			if rr.KeysOnly {
				opts = append(opts, clientv3.WithKeysOnly())
			}
			if rr.Serializable {
				opts = append(opts, clientv3.WithSerializable())
			}
			out = append(out, clientv3.OpGet(string(rr.Key), opts...))
		}
		return out
	}
	cmps := make([]clientv3.Cmp, len(req.Compare))
	for i, c := range req.Compare {
		if c.Target != pb.Compare_CREATE || c.Result != pb.Compare_GREATER || len(c.RangeEnd) > 0 {
			return fmt.Errorf("onv3: internal: compare %v is not sent through a KV", c)
		}
		cmps[i] = clientv3.Compare(clientv3.CreateRevision(string(c.Key)), ">", c.GetCreateRevision())
	}
	resp, err := k.c.Txn(ctx).If(cmps...).Then(ops(req.Success)...).Else(ops(req.Failure)...).Commit()
	if err != nil {
		return readErr(ctx, err)
	}
	b, err := proto.Marshal((*pb.TxnResponse)(resp))
	if err != nil {
		return fmt.Errorf("onv3: encoding a transaction's answer: %w", err)
	}
	return reply.decode(b)
}

// rawCallOptions are the call options clientv3 gives its own KV calls
// (waiting for a ready connection, the message size limits of the
// client's Config), learnt through clientv3's exported NewKVFromKVClient
// (no request is sent), and the codec of rawTxn.
func rawCallOptions(c *clientv3.Client) []grpc.CallOption {
	r := &callOptsRecorder{}
	_, _ = clientv3.NewKVFromKVClient(r, c).Txn(context.Background()).Commit()
	return append(r.opts, grpc.ForceCodecV2(rawCodec{}))
}

type callOptsRecorder struct {
	pb.KVClient // nil: only Txn is called
	opts        []grpc.CallOption
}

var errRecorded = errors.New("onv3: call options recorded")

func (r *callOptsRecorder) Txn(_ context.Context, _ *pb.TxnRequest, opts ...grpc.CallOption) (*pb.TxnResponse, error) {
	r.opts = slices.Clone(opts)
	return nil, errRecorded
}

// rawCodec marshals requests as gRPC's proto codec does and decodes
// answers into a rawTxnReply.
type rawCodec struct{}

// Name is the content subtype the server knows (its proto codec's).
func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("onv3: raw codec cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*rawTxnReply)
	if !ok {
		return fmt.Errorf("onv3: raw codec cannot unmarshal into %T", v)
	}
	return r.decode(data.Materialize()) // a copy: data goes back to gRPC's pool
}

// errMalformed: the answer is not a TxnResponse.
var errMalformed = errors.New("onv3: malformed transaction answer")

// Field numbers of etcd's messages (api/etcdserverpb/rpc.proto,
// api/mvccpb/kv.proto).
const (
	txnHeader, txnSucceeded, txnResponses = 1, 2, 3
	opRange, opTxn                        = 1, 4 // the oneof of ResponseOp: range, put, delete, txn
	rangeKVs                              = 2
	hdrClusterID, hdrRevision             = 1, 3
	kvKey, kvCreate, kvMod, kvValue       = 1, 2, 3, 5
	kvLease                               = 6
)

// decode decodes a TxnResponse. A first pass counts the key-values so
// that they take one allocation.
func (r *rawTxnReply) decode(buf []byte) error {
	if len(buf) > math.MaxInt32 {
		return fmt.Errorf("%w: %d bytes", errMalformed, len(buf))
	}
	r.buf = buf
	n, err := r.walk(nil)
	if err != nil {
		return err
	}
	kvs := make([]rawKV, 0, n)
	_, err = r.walk(&kvs)
	return err
}

// walk goes through the TxnResponse in r.buf: it counts the key-values,
// and with kvs also fills r and appends the key-values to *kvs (whose
// capacity holds them all, so that the ranges share its array).
func (r *rawTxnReply) walk(kvs *[]rawKV) (int, error) {
	count := 0
	err := fields(r.buf, 0, len(r.buf), func(num protowire.Number, typ protowire.Type, v uint64, start, end int) error {
		switch {
		case num == txnHeader && typ == protowire.BytesType:
			if kvs == nil {
				return nil
			}
			return fields(r.buf, start, end, func(num protowire.Number, typ protowire.Type, v uint64, _, _ int) error {
				switch {
				case num == hdrClusterID && typ == protowire.VarintType:
					r.clusterID = v
				case num == hdrRevision && typ == protowire.VarintType:
					r.rev = int64(v)
				}
				return nil
			})
		case num == txnSucceeded && typ == protowire.VarintType:
			r.succeeded = v != 0
		case num == txnResponses && typ == protowire.BytesType:
			first := 0
			if kvs != nil {
				first = len(*kvs)
			}
			isRange := false
			err := fields(r.buf, start, end, func(num protowire.Number, typ protowire.Type, _ uint64, start, end int) error {
				if num < opRange || num > opTxn || typ != protowire.BytesType {
					return nil
				}
				// One of the oneof: the last one set wins; a range set
				// again is merged (its key-values appended), as proto
				// decodes it.
				if num != opRange || !isRange {
					if kvs != nil {
						*kvs = (*kvs)[:first]
					}
				}
				isRange = num == opRange
				if !isRange {
					return nil
				}
				return fields(r.buf, start, end, func(num protowire.Number, typ protowire.Type, _ uint64, start, end int) error {
					if num != rangeKVs || typ != protowire.BytesType {
						return nil
					}
					count++
					if kvs == nil {
						return nil
					}
					kv, err := r.keyValueAt(start, end)
					*kvs = append(*kvs, kv)
					return err
				})
			})
			if err != nil || kvs == nil {
				return err
			}
			if isRange {
				r.ranges = append(r.ranges, (*kvs)[first:len(*kvs):len(*kvs)])
			} else {
				r.ranges = append(r.ranges, nil)
			}
		}
		return nil
	})
	return count, err
}

// keyValueAt decodes the KeyValue in r.buf[start:end].
func (r *rawTxnReply) keyValueAt(start, end int) (rawKV, error) {
	var kv rawKV
	err := fields(r.buf, start, end, func(num protowire.Number, typ protowire.Type, v uint64, start, end int) error {
		switch {
		case num == kvKey && typ == protowire.BytesType:
			kv.keyOff, kv.keyLen = int32(start), int32(end-start)
		case num == kvValue && typ == protowire.BytesType:
			kv.valOff, kv.valLen = int32(start), int32(end-start)
		case num == kvCreate && typ == protowire.VarintType:
			kv.create = int64(v)
		case num == kvMod && typ == protowire.VarintType:
			kv.mod = int64(v)
		case num == kvLease && typ == protowire.VarintType:
			kv.lease = int64(v)
		}
		return nil
	})
	return kv, err
}

// fields calls f for every field of the message in buf[start:end]: its
// number and type, and its value (varints) or the bounds of its bytes
// (length-delimited). Other wire types are skipped.
func fields(buf []byte, start, end int, f func(num protowire.Number, typ protowire.Type, v uint64, start, end int) error) error {
	for pos := start; pos < end; {
		num, typ, n := protowire.ConsumeTag(buf[pos:end])
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		pos += n
		var v uint64
		vstart, vend := pos, pos
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(buf[pos:end])
		case protowire.BytesType:
			var l uint64
			l, n = protowire.ConsumeVarint(buf[pos:end])
			if n >= 0 {
				if l > uint64(end-pos-n) {
					return fmt.Errorf("%w: a field runs past its message", errMalformed)
				}
				vstart, vend = pos+n, pos+n+int(l)
				n += int(l)
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, buf[pos:end])
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		pos += n
		if typ == protowire.VarintType || typ == protowire.BytesType {
			if err := f(num, typ, v, vstart, vend); err != nil {
				return err
			}
		}
	}
	return nil
}
