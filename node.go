package client

import (
	"fmt"
	"time"
)

// Response is the decoded answer of the keys API to one request or, for a
// Watcher, one event.
type Response struct {
	// Action is the name of the operation that occurred. Possible values
	// include get, set, delete, update, create, compareAndSwap,
	// compareAndDelete and expire.
	Action string `json:"action"`

	// Node represents the state of the relevant etcd Node. It is nil when
	// the request asked for NoValueOnSuccess.
	Node *Node `json:"node"`

	// PrevNode represents the previous state of the Node. PrevNode is non-nil
	// only if the Node existed before the action occurred and the action
	// caused a change to the Node.
	PrevNode *Node `json:"prevNode"`

	// Index holds the cluster-level index at the time the Response was
	// generated (the X-Etcd-Index header). This index is not tied to the
	// Node(s) contained in this Response; for a watch event it is the index
	// at which the watch started. Feed it, plus one, to a Watcher's
	// AfterIndex to follow changes made after a Get.
	Index uint64 `json:"-"`

	// ClusterID holds the cluster-level ID reported by the server (the
	// X-Etcd-Cluster-Id header). It differs between etcd clusters.
	ClusterID string `json:"-"`
}

// Node is one key or directory of the v2 keyspace.
type Node struct {
	// Key represents the unique location of this Node (e.g. "/foo/bar").
	Key string `json:"key"`

	// Dir reports whether node describes a directory.
	Dir bool `json:"dir,omitempty"`

	// Value is the current data stored on this Node. If this Node
	// is a directory, Value will be empty.
	Value string `json:"value"`

	// Nodes holds the children of this Node, only if this Node is a directory.
	// This slice will be arbitrarily deep (children, grandchildren, great-
	// grandchildren, etc.) if a recursive Get or Watch request were made.
	Nodes Nodes `json:"nodes"`

	// CreatedIndex is the etcd index at which this Node was created.
	CreatedIndex uint64 `json:"createdIndex"`

	// ModifiedIndex is the etcd index at which this Node was last modified.
	// It can be fed back as SetOptions.PrevIndex for a compare-and-swap.
	ModifiedIndex uint64 `json:"modifiedIndex"`

	// Expiration is the server side expiration time of the key; nil for a
	// key without a TTL.
	Expiration *time.Time `json:"expiration,omitempty"`

	// TTL is the time to live of the key in seconds, as the server computed
	// it when it answered; zero for a key without a TTL.
	TTL int64 `json:"ttl,omitempty"`
}

// String returns a short description of the Node, in the same form as the
// upstream client: {Key: k, CreatedIndex: c, ModifiedIndex: m, TTL: t}.
func (n *Node) String() string {
	return fmt.Sprintf("{Key: %s, CreatedIndex: %d, ModifiedIndex: %d, TTL: %d}", n.Key, n.CreatedIndex, n.ModifiedIndex, n.TTL)
}

// TTLDuration returns the Node's TTL as a time.Duration.
func (n *Node) TTLDuration() time.Duration {
	return time.Duration(n.TTL) * time.Second
}

// Nodes is a list of Nodes. It implements sort.Interface, ordering by Key.
type Nodes []*Node

// Len returns the number of Nodes; part of sort.Interface.
func (ns Nodes) Len() int { return len(ns) }

// Less reports whether the Node at i sorts before the one at j by Key; part
// of sort.Interface.
func (ns Nodes) Less(i, j int) bool { return ns[i].Key < ns[j].Key }

// Swap exchanges the Nodes at i and j; part of sort.Interface.
func (ns Nodes) Swap(i, j int) { ns[i], ns[j] = ns[j], ns[i] }
