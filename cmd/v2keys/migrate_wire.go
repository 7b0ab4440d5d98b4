package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// The copy's transactions, encoded by hand. Built with clientv3, each key
// of the copy cost an Op (a struct of some 300 bytes), two string to
// []byte copies, the conversion to etcdserverpb messages, their protobuf
// encoding, and the decoding of an answer that repeats a response header
// per put: measured at 100k keys, that was about a third of the migrate
// process's CPU time (0.2 s of 0.7 s), on a machine where etcd and
// migrate share two cores, so every CPU second migrate spends is one etcd
// does not get. A copy transaction is one compare and puts, so it is
// appended straight into the protobuf encoding of
// etcdserverpb.TxnRequest, and of the answer only `succeeded` is read.
//
// The wire format (api/etcdserverpb/rpc.proto): TxnRequest has `repeated
// Compare compare = 1` and `repeated RequestOp success = 2`; Compare has
// `CompareTarget target = 2` (MOD = 2), `bytes key = 3`, `int64
// mod_revision = 6` (in a oneof); RequestOp has `PutRequest request_put =
// 2` (in a oneof); PutRequest has `bytes key = 1`, `bytes value = 2`,
// `int64 lease = 3`; TxnResponse has `bool succeeded = 2`.
// TestWireTxnMatchesProto checks both directions against the generated
// messages.

// wireTxn is the encoded body of one copy transaction: a guard, then its
// puts, as TxnRequest's compare and success fields. The guard makes the
// transaction apply only while the migration state key is at the
// revision of this run's last state write: a Txn of a run that died
// (kill -9, a lost connection) and reaches etcd late, after a new run
// took over, changes nothing; so does one of a second migrate of the same
// target. etcd answers such a Txn with succeeded=false (errStateChanged).
type wireTxn struct {
	buf   []byte
	guard int   // length of the guard at the start of buf
	ends  []int // where each put ends in buf, to halve the transaction
}

// newWireTxn starts a transaction guarded by ModRevision(stateKey) ==
// rev, with room for size bytes.
func newWireTxn(stateKey string, rev int64, size int) *wireTxn {
	// Compare: result EQUAL (0, left out), target MOD (2), key,
	// mod_revision (in a oneof, so present even when 0).
	cmpLen := 2 + bytesFieldLen(len(stateKey)) + 1 + varintLen(uint64(rev))
	t := &wireTxn{buf: make([]byte, 0, max(size, 64)), ends: make([]int, 0, maxTxnOps)}
	t.buf = append(t.buf, 1<<3|2) // TxnRequest.compare
	t.buf = appendVarint(t.buf, uint64(cmpLen))
	t.buf = append(t.buf, 2<<3|0, 2) // Compare.target = MOD
	t.buf = appendBytesField(t.buf, 3, stateKey)
	t.buf = append(t.buf, 6<<3|0) // Compare.mod_revision
	t.buf = appendVarint(t.buf, uint64(rev))
	t.guard = len(t.buf)
	return t
}

// put appends a put of key with value and lease (0: none).
func (t *wireTxn) put(key, value string, lease int64) {
	putLen := bytesFieldLen(len(key)) + bytesFieldLen(len(value))
	if lease != 0 {
		putLen += 1 + varintLen(uint64(lease))
	}
	opLen := 1 + varintLen(uint64(putLen)) + putLen
	t.buf = append(t.buf, 2<<3|2) // TxnRequest.success, length-delimited
	t.buf = appendVarint(t.buf, uint64(opLen))
	t.buf = append(t.buf, 2<<3|2) // RequestOp.request_put
	t.buf = appendVarint(t.buf, uint64(putLen))
	t.buf = appendBytesField(t.buf, 1, key) // PutRequest.key
	t.buf = appendBytesField(t.buf, 2, value)
	if lease != 0 {
		t.buf = append(t.buf, 3<<3|0) // PutRequest.lease, varint
		t.buf = appendVarint(t.buf, uint64(lease))
	}
	t.ends = append(t.ends, len(t.buf))
}

// len is the number of operations.
func (t *wireTxn) len() int { return len(t.ends) }

// full reports whether the transaction has as many operations, or bytes,
// as one Txn should carry.
func (t *wireTxn) full() bool { return len(t.ends) >= maxTxnOps || len(t.buf) >= maxBatchBytes }

// halves splits the transaction into two with half the puts each, both
// with the guard.
func (t *wireTxn) halves() (*wireTxn, *wireTxn) {
	n := len(t.ends) / 2
	cut := t.ends[n-1]
	a := &wireTxn{buf: t.buf[:cut:cut], guard: t.guard, ends: t.ends[:n:n]}
	b := &wireTxn{buf: append(t.buf[:t.guard:t.guard], t.buf[cut:]...), guard: t.guard, ends: make([]int, 0, len(t.ends)-n)}
	for _, e := range t.ends[n:] {
		b.ends = append(b.ends, e-cut+t.guard)
	}
	return a, b
}

func bytesFieldLen(n int) int {
	if n == 0 {
		return 0 // proto3 leaves an empty bytes field out
	}
	return 1 + varintLen(uint64(n)) + n
}

func appendBytesField(b []byte, num int, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, byte(num<<3|2))
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

func varintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// wireCodec sends a *wireTxn as it is encoded and reads only whether the
// answer (a TxnResponse) succeeded. Its name is the protobuf codec's, so
// that etcd reads the request as a TxnRequest (the content type stays
// application/grpc+proto).
type wireCodec struct{}

// wireResult is what the copy needs of a TxnResponse.
type wireResult struct{ succeeded bool }

func (wireCodec) Name() string { return "proto" }

func (wireCodec) Marshal(v any) ([]byte, error) {
	t, ok := v.(*wireTxn)
	if !ok {
		return nil, fmt.Errorf("wire codec: cannot encode %T", v)
	}
	return t.buf, nil
}

// Unmarshal reads TxnResponse.succeeded (field 2, a varint) and skips the
// header and the per-put responses.
func (wireCodec) Unmarshal(data []byte, v any) error {
	r, ok := v.(*wireResult)
	if !ok {
		return fmt.Errorf("wire codec: cannot decode into %T", v)
	}
	r.succeeded = false
	for len(data) > 0 {
		tag, n := binary.Uvarint(data)
		if n <= 0 {
			return errWireAnswer
		}
		data = data[n:]
		switch tag & 7 {
		case 0: // varint
			x, n := binary.Uvarint(data)
			if n <= 0 {
				return errWireAnswer
			}
			data = data[n:]
			if tag>>3 == 2 {
				r.succeeded = x != 0
			}
		case 2: // length-delimited
			l, n := binary.Uvarint(data)
			if n <= 0 || l > uint64(len(data)-n) {
				return errWireAnswer
			}
			data = data[n+int(l):]
		default:
			return errWireAnswer
		}
	}
	return nil
}

var errWireAnswer = errors.New("wire codec: malformed TxnResponse")

// wireCallOpts are clientv3's call options for a Txn (wait for a
// connection, its send limit) with the wire codec. grpc.ForceCodec is
// marked experimental; go.mod pins the grpc version it is tested with.
var wireCallOpts = []grpc.CallOption{
	grpc.WaitForReady(true),
	grpc.MaxCallSendMsgSize(2 * 1024 * 1024),
	grpc.ForceCodec(wireCodec{}),
}

// commitWire writes t in one Txn (errStateChanged if its guard failed) through cli's connection (and so through
// its interceptors and credentials, as cli.Txn does), or, when the
// cluster refuses a Txn that large (a --max-txn-ops or
// --max-request-bytes below the defaults), in two halves, recursively.
// The puts of a copy are independent, so the split changes nothing but
// the number of revisions.
func commitWire(cli *clientv3.Client, t *wireTxn) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	var res wireResult
	err := cli.ActiveConnection().Invoke(ctx, "/etcdserverpb.KV/Txn", t, &res, wireCallOpts...)
	cancel()
	if err == nil {
		if !res.succeeded {
			return errStateChanged
		}
		return nil
	}
	err = rpctypes.Error(err)
	if t.len() > 1 && (errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge)) {
		a, b := t.halves()
		if err := commitWire(cli, a); err != nil {
			return err
		}
		return commitWire(cli, b)
	}
	return fmt.Errorf("v3 write: %w", err)
}
