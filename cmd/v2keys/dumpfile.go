package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// The export file is JSON Lines: one header, one line per node, and one
// trailer, which lets import tell a complete file from a truncated one.
// Version 2 (written now) lists nodes in post-order, as client.Walk hands
// them out (a directory after its children, siblings in increasing key
// order), so that export never holds more than one node; version 1
// (still read) listed them in pre-order (a directory before its children).
//
//	{"format":"v2keys-export","version":2,"prefix":"/app","index":42,"clusterID":"cdf818194e3a8c32","time":"2024-05-01T10:00:00Z"}
//	{"key":"/app/a","value":"1"}
//	{"key":"/app/s","value":"x","ttl":30,"expiration":"2024-05-01T10:00:30Z"}
//	{"key":"/app","dir":true}
//	{"end":true,"nodes":3}
const (
	dumpFormat  = "v2keys-export"
	dumpVersion = 2 // written: post-order

	dumpVersionPreOrder = 1 // read too
)

// dumpHeader is the first line of an export file.
type dumpHeader struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Prefix    string    `json:"prefix"`    // the exported subtree's key
	Index     uint64    `json:"index"`     // X-Etcd-Index of the snapshot
	ClusterID string    `json:"clusterID"` // X-Etcd-Cluster-Id of the source
	Time      time.Time `json:"time"`      // when the snapshot was read
}

// dumpNode is one key or directory. Value is present for every key (an
// empty value too) and absent for directories; TTL (seconds left at export
// time) and Expiration are present only for nodes that expire.
type dumpNode struct {
	Key        string     `json:"key"`
	Dir        bool       `json:"dir,omitempty"`
	Value      *string    `json:"value,omitempty"`
	TTL        int64      `json:"ttl,omitempty"`
	Expiration *time.Time `json:"expiration,omitempty"`
}

// dumpTrailer is the last line: the number of node lines.
type dumpTrailer struct {
	End   bool  `json:"end"`
	Nodes int64 `json:"nodes"`
}

// dumpLine decodes any line; which fields matter depends on its position.
type dumpLine struct {
	dumpHeader
	Key        *string    `json:"key"`
	Dir        bool       `json:"dir"`
	Value      *string    `json:"value"`
	TTL        int64      `json:"ttl"`
	Expiration *time.Time `json:"expiration"`
	End        bool       `json:"end"`
	Nodes      *int64     `json:"nodes"`
}

// lineError is a malformed line of an export file.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// dumpChecker validates an export file line by line, keeping only the chain
// of open directories (memory proportional to the tree's depth).
type dumpChecker struct {
	line    int
	header  *dumpHeader
	base    string    // header prefix without trailing slash ("" for "/")
	stack   []openDir // directories whose subtree the next node may be in
	nodes   int64     // node lines so far
	trailer bool      // the trailer was seen
	rootVal bool      // the subtree root is a key: no other node may follow
	post    bool      // version 2: post-order
	closed  bool      // post-order: the subtree root's line was seen

	// expDirs holds the directories with an expiration, so that import
	// can skip the nodes of one that has expired whatever the order
	// (memory proportional to the number of such directories).
	expDirs map[string]dirExpiry
}

// dirExpiry is when a directory of an export file expires, and the line
// that says so (import reports failures by line).
type dirExpiry struct {
	at   time.Time
	line int
}

type openDir struct {
	key       string
	lastChild string // the previous child's key, for the order check
}

// check validates the next line (without its newline) and returns the node
// it holds, or nil for the header and trailer.
func (c *dumpChecker) check(b []byte) (*dumpNode, error) {
	c.line++
	fail := func(format string, args ...any) (*dumpNode, error) {
		return nil, &lineError{c.line, fmt.Errorf(format, args...)}
	}
	if c.trailer {
		if len(strings.TrimSpace(string(b))) == 0 {
			return nil, nil
		}
		return fail("data after the end line")
	}
	var l dumpLine
	if err := json.Unmarshal(b, &l); err != nil {
		return fail("not a JSON object: %v", err)
	}
	if c.header == nil {
		h := l.dumpHeader
		if h.Format != dumpFormat {
			return fail("not a v2keys export file (format %q, want %q)", h.Format, dumpFormat)
		}
		if h.Version != dumpVersion && h.Version != dumpVersionPreOrder {
			return fail("export format version %d not supported (want %d or %d)", h.Version, dumpVersionPreOrder, dumpVersion)
		}
		c.post = h.Version == dumpVersion
		if !validKey(h.Prefix) {
			return fail("bad prefix %q", h.Prefix)
		}
		c.header = &h
		c.base = strings.TrimSuffix(h.Prefix, "/")
		if c.base == "" {
			c.stack = []openDir{{key: ""}}
		}
		return nil, nil
	}
	if l.End {
		if l.Nodes == nil || *l.Nodes != c.nodes {
			return fail("end line counts %v nodes, the file has %d", deref(l.Nodes), c.nodes)
		}
		if c.post && len(c.stack) > 0 && c.stack[len(c.stack)-1].key != "" {
			return fail("end line before the line of directory %s", c.stack[len(c.stack)-1].key)
		}
		c.trailer = true
		return nil, nil
	}
	if l.Key == nil {
		return fail(`node line without "key"`)
	}
	n := &dumpNode{Key: *l.Key, Dir: l.Dir, Value: l.Value, TTL: l.TTL, Expiration: l.Expiration}
	if !validKey(n.Key) || n.Key == "/" {
		return fail("bad key %q", n.Key)
	}
	if n.Dir && n.Value != nil {
		return fail("directory %s has a value", n.Key)
	}
	if !n.Dir && n.Value == nil {
		return fail(`key %s has no "value"`, n.Key)
	}
	if n.TTL < 0 {
		return fail("negative ttl for %s", n.Key)
	}
	if n.TTL > 0 && n.Expiration == nil {
		return fail("key %s has a ttl but no expiration", n.Key)
	}
	if n.Dir && n.Expiration != nil {
		if c.expDirs == nil {
			c.expDirs = map[string]dirExpiry{}
		}
		c.expDirs[n.Key] = dirExpiry{at: *n.Expiration, line: c.line}
	}
	if c.post {
		if err := c.placePostOrder(n); err != nil {
			return fail("%v", err)
		}
		c.nodes++
		return n, nil
	}
	if c.rootVal {
		return fail("%s follows the exported key %s, which is not a directory", n.Key, c.header.Prefix)
	}
	if c.nodes == 0 && c.base != "" {
		// The first node is the exported subtree's root.
		if n.Key != c.base {
			return fail("first node %s is not the exported key %s", n.Key, c.base)
		}
		c.push(n)
		return n, nil
	}
	parent := path.Dir(n.Key)
	if parent == "/" {
		parent = ""
	}
	for len(c.stack) > 0 && c.stack[len(c.stack)-1].key != parent {
		c.stack = c.stack[:len(c.stack)-1]
	}
	if len(c.stack) == 0 {
		if c.base == "" || strings.HasPrefix(n.Key, c.base+"/") {
			return fail("%s is not inside the directory before it (nodes out of order, or its directory is missing)", n.Key)
		}
		return fail("%s is outside the exported prefix %s", n.Key, c.header.Prefix)
	}
	top := &c.stack[len(c.stack)-1]
	if top.lastChild != "" && n.Key <= top.lastChild {
		return fail("%s does not sort after its sibling %s (duplicate or out of order)", n.Key, top.lastChild)
	}
	top.lastChild = n.Key
	c.push(n)
	return n, nil
}

// placePostOrder checks that n comes where post-order puts it. The stack
// holds the directories opened by a deeper node whose own line has not
// come yet; for the keyspace root it starts with the root, never closed.
func (c *dumpChecker) placePostOrder(n *dumpNode) error {
	if c.closed {
		return fmt.Errorf("%s follows the line of the exported key %s, which must be the last", n.Key, c.header.Prefix)
	}
	if k := len(c.stack); k > 0 && c.stack[k-1].key == n.Key {
		if !n.Dir {
			return fmt.Errorf("%s has nodes under it but is not a directory", n.Key)
		}
		c.stack = c.stack[:k-1]
		c.closed = len(c.stack) == 0
		return nil
	}
	if len(c.stack) == 0 {
		if n.Key == c.base { // the exported key is a key or an empty directory
			c.closed = true
			return nil
		}
		if !strings.HasPrefix(n.Key, c.base+"/") {
			return fmt.Errorf("%s is outside the exported prefix %s", n.Key, c.header.Prefix)
		}
		c.stack = append(c.stack, openDir{key: c.base})
	}
	top := c.stack[len(c.stack)-1].key
	if !strings.HasPrefix(n.Key, top+"/") {
		if c.base != "" && !strings.HasPrefix(n.Key, c.base+"/") {
			return fmt.Errorf("%s is outside the exported prefix %s", n.Key, c.header.Prefix)
		}
		return fmt.Errorf("%s comes after nodes of directory %s but before its line (out of order, or that line is missing)", n.Key, top)
	}
	parts := strings.Split(n.Key[len(top)+1:], "/")
	cur := top
	for i, part := range parts {
		child := cur + "/" + part
		t := &c.stack[len(c.stack)-1]
		if t.lastChild != "" && child <= t.lastChild {
			return fmt.Errorf("%s does not sort after its sibling %s (duplicate or out of order)", child, t.lastChild)
		}
		t.lastChild = child
		if i < len(parts)-1 {
			c.stack = append(c.stack, openDir{key: child})
			cur = child
		}
	}
	return nil
}

// expiredAt reports whether key or one of its directories has expired at
// now.
func (c *dumpChecker) expiredAt(n *dumpNode, now time.Time) bool {
	if n.Expiration != nil && !n.Expiration.After(now) {
		return true
	}
	if len(c.expDirs) == 0 {
		return false
	}
	for k := path.Dir(n.Key); k != "/" && k != "."; k = path.Dir(k) {
		if exp, ok := c.expDirs[k]; ok && !exp.at.After(now) {
			return true
		}
	}
	return false
}

func (c *dumpChecker) push(n *dumpNode) {
	c.nodes++
	if n.Dir {
		c.stack = append(c.stack, openDir{key: n.Key})
	} else if c.nodes == 1 && c.base != "" {
		c.rootVal = true
	}
}

// finish reports what a file that ended here lacks.
func (c *dumpChecker) finish() error {
	switch {
	case c.header == nil:
		return errors.New("empty file: no header line")
	case !c.trailer:
		return &lineError{c.line, errors.New("file ends without its end line (truncated?)")}
	}
	return nil
}

// validKey reports whether k is a clean absolute key path.
func validKey(k string) bool {
	return strings.HasPrefix(k, "/") && path.Clean(k) == k
}

func deref(p *int64) any {
	if p == nil {
		return "no"
	}
	return *p
}
