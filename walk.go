package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
)

// errSnapshotUsed is yielded by a second iteration of a Snapshot.
var errSnapshotUsed = errors.New("client: a Snapshot's nodes can be read only once")

// WalkOptions are the options of Walk and OpenSnapshot. A nil *WalkOptions
// means all zero.
type WalkOptions struct {
	// Sort asks etcd to list the children of every directory in key order
	// (sorted=true). Nodes then arrive in the order of a depth-first walk
	// over sorted siblings. Otherwise the order of siblings is unspecified.
	Sort bool

	// Quorum asks for a linearizable read (quorum=true), as GetOptions.Quorum.
	Quorum bool

	// Prefix is the URL path of the keys API, as given to
	// NewKeysAPIWithPrefix. Empty means "/v2/keys".
	Prefix string
}

// WalkResult describes the snapshot a successful Walk read.
type WalkResult struct {
	// Index is the etcd index of the snapshot (the X-Etcd-Index header):
	// the nodes are the keyspace as of this index. Watch from it, with
	// WatcherOptions{AfterIndex: Index}, to follow every later change.
	Index uint64

	// ClusterID is the cluster's ID (the X-Etcd-Cluster-Id header).
	ClusterID string
}

// Snapshot is a recursive read of one key or directory, decoded as the
// answer arrives: the nodes are handed out one by one by All, and neither
// the answer nor the tree is ever held in memory. The decoder's own buffers
// take about 100 KiB, plus room for the largest single value; the rest is
// what the caller keeps. Measured with garbage included, a walk of a
// million keys peaks at about 5 MiB of heap, one of 100,000 keys at 3 to
// 4 MiB.
//
// A Snapshot holds an open HTTP response until All has run to its end or
// Close is called; always Close it. It is not safe for concurrent use.
type Snapshot struct {
	// Index is the etcd index of the snapshot (the X-Etcd-Index header),
	// known as soon as OpenSnapshot returns: the nodes are the keyspace as
	// of this index. Watch with WatcherOptions{AfterIndex: Index} to follow
	// every change made after it.
	Index uint64

	// ClusterID is the cluster's ID (the X-Etcd-Cluster-Id header).
	ClusterID string

	ctx      context.Context
	resp     *http.Response
	maxToken int64 // Config.MaxResponseBytes
	used     bool
	closed   bool
}

// OpenSnapshot starts a recursive read of key (a directory or a single key)
// and returns once the answer's headers have arrived. Like KeysAPI.Get it
// tries the cluster's endpoints in turn until one answers; a v2 error
// answer (such as a missing key) is returned as the value Error, a context
// error as itself. The nodes are read by the Snapshot's All.
//
// ctx bounds the whole read, including the iteration: cancelling it ends
// All with ctx.Err(). Between two pieces of the answer, the read waits at
// most Config.HeaderTimeoutPerRequest (then ErrResponseStalled); the time
// the caller takes, before All or between two nodes, does not count. Unlike
// Get, a read is not moved to another endpoint once its answer has begun:
// some nodes have already been handed out, so it fails and the caller
// starts again. The answer is not held in memory, only each single value
// in it (a key or a value string) is, whole: Config.MaxResponseBytes
// bounds that value, and a longer one fails with ErrResponseTooLarge.
//
// c must be a Client made by New; otherwise OpenSnapshot returns
// ErrWalkUnsupported.
func OpenSnapshot(ctx context.Context, c Client, key string, opts *WalkOptions) (*Snapshot, error) {
	return openSnapshot(ctx, c, key, opts, true)
}

// openSnapshot is OpenSnapshot, also for a non-recursive read (a
// directory's direct children only, for FollowOptions.Shallow).
func openSnapshot(ctx context.Context, c Client, key string, opts *WalkOptions, recursive bool) (*Snapshot, error) {
	hc, ok := c.(*httpClusterClient)
	if !ok {
		return nil, ErrWalkUnsupported
	}
	act := &getAction{Prefix: defaultV2KeysPrefix, Key: key, GetOptions: GetOptions{Recursive: recursive}}
	if opts != nil {
		act.Sort, act.Quorum = opts.Sort, opts.Quorum
		if opts.Prefix != "" {
			act.Prefix = opts.Prefix
		}
	}
	resp, err := hc.open(ctx, act)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		defer resp.Body.Close()
		body, err := resp.Body.(*guardedBody).readAll(1 << 20)
		if err != nil {
			return nil, err
		}
		return nil, decodeKeysError(body)
	}
	s := &Snapshot{ctx: ctx, resp: resp, maxToken: hc.endpoint.maxBody, ClusterID: headerValue(resp.Header, "X-Etcd-Cluster-Id")}
	if idx := headerValue(resp.Header, "X-Etcd-Index"); idx != "" {
		if s.Index, err = strconv.ParseUint(idx, 10, 64); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	return s, nil
}

// All returns an iterator over the snapshot's nodes, decoded as they
// arrive:
//
//	for n, err := range snap.All() {
//		if err != nil {
//			return err
//		}
//		fmt.Println(n.Key, n.Value)
//	}
//
// Order: depth-first, each directory after all of its children (post-order),
// the node of the key read last. etcd sends a directory's CreatedIndex and
// ModifiedIndex after its children, so handing out directories first would
// mean either holding their whole subtree or leaving out those fields;
// instead every node is complete when it is handed out. With
// WalkOptions.Sort, siblings come in key order. Hidden keys (names starting
// with "_") are not listed, as by Get.
//
// Nodes: each *Node is new and is never changed or reused afterwards; the
// caller may keep it, pass it to other goroutines, and change it. A
// directory's node has Dir set and Nodes nil: its children come as nodes
// of their own. Nodes and their strings are allocated in blocks of a few
// KiB, so keeping a handful of nodes out of millions keeps their blocks
// alive; copy those (with strings.Clone for Key and Value) to release them.
//
// Errors end the iteration with one pair (nil, err): a v2 error answer as
// the value Error is reported by OpenSnapshot, not here; a malformed answer
// is an error wrapping ErrInvalidJSON with the byte offset, an empty one
// ErrEmptyBody; a context error is returned as itself; an answer cut short
// is an error too (never a silently partial snapshot: the iteration
// succeeds only once the whole answer was read and checked). Nodes yielded
// before an error are real, but the snapshot is incomplete.
//
// The response is closed when the iteration ends, by completion, error or
// break. All can be iterated once; a second iteration yields an error.
func (s *Snapshot) All() iter.Seq2[*Node, error] {
	return func(yield func(*Node, error) bool) {
		errStop := errors.New("stop")
		err := s.walk(func(n *Node) error {
			if !yield(n, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			yield(nil, err)
		}
	}
}

// Close releases the snapshot's HTTP response without reading the rest of
// it. It is safe to call more than once and after All has ended.
func (s *Snapshot) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.resp.Body.Close()
}

// walk decodes the answer, calling fn with every node; an error of fn is
// returned as itself.
func (s *Snapshot) walk(fn func(*Node) error) error {
	if s.used || s.closed {
		return errSnapshotUsed
	}
	s.used = true
	defer s.Close()
	body := &countingReader{r: s.resp.Body}
	err := decodeStreamMax(body, s.maxToken, fn)
	var de *decodeError
	var re *readError
	var se *stopError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se.err
	case errors.As(err, &re):
		return s.resp.Body.(*guardedBody).fail(re.err)
	case errors.As(err, &de):
		if body.n == 0 {
			return ErrEmptyBody
		}
		return fmt.Errorf("%w: %v", ErrInvalidJSON, de)
	}
	return err
}

// Walk reads key (a directory or a single key) recursively and calls fn
// with every node as it arrives, without building the tree or holding the
// answer in memory. It returns the snapshot's index once the whole answer
// was read. It is OpenSnapshot and Snapshot.All in one call; see them for
// the order of the nodes (each directory after its children), what fn may
// do with a node (keep it: nodes are never reused), the errors, and the
// limits on time.
//
// If fn returns an error, Walk stops reading, closes the answer, and
// returns that error as itself.
func Walk(ctx context.Context, c Client, key string, opts *WalkOptions, fn func(*Node) error) (*WalkResult, error) {
	s, err := OpenSnapshot(ctx, c, key, opts)
	if err != nil {
		return nil, err
	}
	if err := s.walk(fn); err != nil {
		return nil, err
	}
	return &WalkResult{Index: s.Index, ClusterID: s.ClusterID}, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
