package client

// This file decodes keys-API response bodies into Response and Node without
// reflection. The lexical layer (strings, numbers, literals, skipping unknown
// values) is in decode_lex.go.
//
// Aliasing invariant. Every string the decoder stores in a Response or Node
// is one of:
//
//   - a view (unsafe.String) of the body passed to decodeResponse, for strings
//     that contain no escape and only valid UTF-8. decodeResponse's caller
//     owns the body and promises never to modify or reuse it afterwards, and
//     the decoder itself never writes to it;
//   - a view of a byte arena private to one decodeResponse call, for strings
//     that had to be unescaped. The arena is only ever appended to: bytes
//     that back a string are never written again, and when the arena runs
//     out of room a new one is allocated rather than the old one reused.
//
// Either way the bytes behind a string are immutable for as long as the
// string can be reached, which is what Go requires of a string. The cost is
// that a single small string kept by the caller keeps the whole body (or one
// arena block) alive.
//
// Allocation. Nodes are carved out of slabs of Node structs, Expiration
// times out of slabs of time.Time, and Nodes slices out of a shared arena of
// pointers, each carved slice capped at its length so that an append by the
// caller reallocates instead of overwriting a sibling. Children are first
// collected on a scratch stack, then copied once into the arena. The slab
// sizes follow the number of body bytes still to be read, so a response
// with one key does not pay for a hundred Nodes.

import (
	"fmt"
	"time"
)

// maxDecodeDepth is the deepest nesting of objects and arrays accepted, the
// same limit encoding/json applies, so hostile input cannot exhaust the
// stack.
const maxDecodeDepth = 10000

// Sizing of the allocation blocks. A real etcd node takes at least about 60
// bytes of JSON, so one Node or one child pointer per 64 remaining body bytes
// rarely over-allocates by more than the size of the body itself.
const (
	bytesPerNodeGuess = 64
	maxNodeSlab       = 256
	bytesPerTimeGuess = 512
	maxTimeSlab       = 64
	maxPtrBlock       = 1024
	maxStringBlock    = 8192
)

// A decodeError reports malformed input or a JSON value of the wrong type
// for its field, at a byte offset of the body.
type decodeError struct {
	off int
	msg string
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("client: decoding response: offset %d: %s", e.off, e.msg)
}

// decodeResponse parses a successful keys-API body (a JSON object) into res.
// body is owned by the caller and is never modified or reused afterwards, so
// decoded strings may alias it (zero-copy) when they contain no escapes.
//
// The result is what encoding/json.Unmarshal would store in a zero Response,
// except that field names match case-sensitively and a repeated object key
// replaces the earlier value instead of merging into it. Fields absent from
// the body are left as they were; Index and ClusterID are never touched. A
// body that is JSON null leaves res unchanged. On error res may hold part of
// the body.
func decodeResponse(body []byte, res *Response) error {
	d := decoder{buf: body}
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return d.errEOF()
	}
	switch d.buf[d.pos] {
	case '{':
		if err := d.response(res); err != nil {
			return err
		}
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
	default:
		start := d.pos
		if err := d.skipValue(); err != nil {
			return err
		}
		return &decodeError{start, "cannot decode " + jsonKind(d.buf[start]) + " into a Response"}
	}
	d.skipSpace()
	if d.pos != len(d.buf) {
		return d.errSyntax("after top-level value")
	}
	return nil
}

// decoder is the state of one decodeResponse call. It is never shared.
type decoder struct {
	buf   []byte // the body; read only
	pos   int    // next byte of buf to read
	depth int    // objects and arrays currently open

	nodes []Node      // unused part of the current Node slab
	times []time.Time // unused part of the current time slab
	ptrs  []*Node     // current child-pointer block; len is the used part
	strs  []byte      // current unescaped-string block; len is the used part
	stack []*Node     // children of the open "nodes" arrays, innermost last
	key   []byte      // scratch for object keys that contain escapes
}

// Field identifiers of the Response and Node schema.
const (
	fieldUnknown = iota
	fieldAction
	fieldNode
	fieldPrevNode
	fieldKey
	fieldDir
	fieldValue
	fieldNodes
	fieldCreatedIndex
	fieldModifiedIndex
	fieldExpiration
	fieldTTL
)

// fieldOf returns the identifier of an exactly matching field name, or
// fieldUnknown. The names of both levels share one table: a key is only
// acted on when it belongs to the object being decoded.
func fieldOf(name []byte) int {
	switch string(name) { // no allocation: the compiler compares in place
	case "key":
		return fieldKey
	case "dir":
		return fieldDir
	case "value":
		return fieldValue
	case "nodes":
		return fieldNodes
	case "createdIndex":
		return fieldCreatedIndex
	case "modifiedIndex":
		return fieldModifiedIndex
	case "expiration":
		return fieldExpiration
	case "ttl":
		return fieldTTL
	case "action":
		return fieldAction
	case "node":
		return fieldNode
	case "prevNode":
		return fieldPrevNode
	}
	return fieldUnknown
}

// knownFieldName recognizes, at the start of b (just past an opening
// quote), one of the field names with its closing quote, as etcd writes
// them, and returns the field and the bytes taken; 0 bytes for anything
// else, which the general path (fieldOf) then decides. It spares the
// stream decoder a scan of the name for the common case.
func knownFieldName(b []byte) (field, n int) {
	if len(b) < len(`modifiedIndex"`) {
		return fieldUnknown, 0
	}
	var name string
	switch b[0] {
	case 'k':
		field, name = fieldKey, `key"`
	case 'v':
		field, name = fieldValue, `value"`
	case 'm':
		field, name = fieldModifiedIndex, `modifiedIndex"`
	case 'c':
		field, name = fieldCreatedIndex, `createdIndex"`
	case 'd':
		field, name = fieldDir, `dir"`
	case 'n':
		field, name = fieldNodes, `nodes"`
		if b[4] == '"' {
			field, name = fieldNode, `node"`
		}
	case 'e':
		field, name = fieldExpiration, `expiration"`
	case 't':
		field, name = fieldTTL, `ttl"`
	case 'a':
		field, name = fieldAction, `action"`
	case 'p':
		field, name = fieldPrevNode, `prevNode"`
	default:
		return fieldUnknown, 0
	}
	if string(b[:len(name)]) != name {
		return fieldUnknown, 0
	}
	return field, len(name)
}

// response decodes the top-level object; d.pos is at its '{'.
func (d *decoder) response(res *Response) error {
	return d.object(func(f int) error {
		switch f {
		case fieldAction:
			return d.stringField(&res.Action)
		case fieldNode:
			return d.nodeField(&res.Node)
		case fieldPrevNode:
			return d.nodeField(&res.PrevNode)
		}
		return d.skipValue()
	})
}

// node decodes one node object into n; d.pos is at its '{'.
func (d *decoder) node(n *Node) error {
	return d.object(func(f int) error {
		switch f {
		case fieldKey:
			return d.stringField(&n.Key)
		case fieldValue:
			return d.stringField(&n.Value)
		case fieldDir:
			return d.boolField(&n.Dir)
		case fieldNodes:
			return d.nodesField(&n.Nodes)
		case fieldCreatedIndex:
			return d.uintField(&n.CreatedIndex)
		case fieldModifiedIndex:
			return d.uintField(&n.ModifiedIndex)
		case fieldExpiration:
			return d.timeField(&n.Expiration)
		case fieldTTL:
			return d.intField(&n.TTL)
		}
		return d.skipValue()
	})
}

// object walks the members of the object at d.pos, calling member with the
// field of each key once d.pos is at the member's value. member must consume
// exactly that value.
func (d *decoder) object(member func(field int) error) error {
	if err := d.open(); err != nil {
		return err
	}
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		if d.buf[d.pos] != '"' {
			return d.errSyntax("looking for beginning of object key string")
		}
		f, err := d.fieldName()
		if err != nil {
			return err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		if d.buf[d.pos] != ':' {
			return d.errSyntax("after object key")
		}
		d.pos++
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		if err := member(f); err != nil {
			return err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case '}':
			d.pos++
			d.depth--
			return nil
		default:
			return d.errSyntax("after object key:value pair")
		}
	}
}

// open consumes the '{' or '[' at d.pos and enforces the depth limit.
func (d *decoder) open() error {
	d.depth++
	if d.depth > maxDecodeDepth {
		return &decodeError{d.pos, "exceeded max depth"}
	}
	d.pos++
	return nil
}

// fieldName consumes the object key at d.pos (its opening quote) and
// returns its field identifier.
func (d *decoder) fieldName() (int, error) {
	start := d.pos + 1
	for i := start; i < len(d.buf); i++ {
		c := d.buf[i]
		if c == '"' {
			d.pos = i + 1
			return fieldOf(d.buf[start:i]), nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	// Escapes, control characters or non-ASCII: unescape like any string
	// ("k\u0065y" is the key "key"), then match.
	var err error
	d.key, err = d.appendUnescaped(d.key[:0], start)
	if err != nil {
		return 0, err
	}
	return fieldOf(d.key), nil
}

// nodeField decodes a node object or null into *p. A node object always
// gets a fresh Node, even when *p already held one.
func (d *decoder) nodeField(p **Node) error {
	switch d.buf[d.pos] {
	case '{':
		n := d.newNode()
		if err := d.node(n); err != nil {
			return err
		}
		*p = n
		return nil
	case 'n':
		*p = nil
		return d.literal("null")
	}
	return d.errType("a Node")
}

// nodesField decodes an array of node objects (or nulls), or null, into *p.
func (d *decoder) nodesField(p *Nodes) error {
	switch d.buf[d.pos] {
	case 'n':
		*p = nil
		return d.literal("null")
	case '[':
	default:
		return d.errType("Nodes")
	}
	if err := d.open(); err != nil {
		return err
	}
	base := len(d.stack)
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		d.depth--
		*p = Nodes{} // empty, not nil, as encoding/json does; no allocation
		return nil
	}
	for {
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		var n *Node
		switch d.buf[d.pos] {
		case '{':
			n = d.newNode()
			if err := d.node(n); err != nil {
				return err
			}
		case 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
		default:
			return d.errType("a Node")
		}
		d.stack = append(d.stack, n)
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case ']':
			d.pos++
			d.depth--
			*p = d.newNodes(d.stack[base:])
			clear(d.stack[base:]) // drop references for the GC
			d.stack = d.stack[:base]
			return nil
		default:
			return d.errSyntax("after array element")
		}
	}
}

// stringField decodes a string, or null (which leaves *p unchanged), into *p.
func (d *decoder) stringField(p *string) error {
	switch d.buf[d.pos] {
	case '"':
		s, err := d.str()
		if err != nil {
			return err
		}
		*p = s
		return nil
	case 'n':
		return d.literal("null")
	}
	return d.errType("string")
}

// boolField decodes true, false, or null (no change) into *p.
func (d *decoder) boolField(p *bool) error {
	switch d.buf[d.pos] {
	case 't':
		*p = true
		return d.literal("true")
	case 'f':
		*p = false
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.errType("bool")
}

// uintField decodes a non-negative integer that fits uint64, or null (no
// change), into *p.
func (d *decoder) uintField(p *uint64) error {
	if d.buf[d.pos] == 'n' {
		return d.literal("null")
	}
	start := d.pos
	neg, mag, err := d.integer()
	if err != nil {
		return err
	}
	if neg { // even -0, which strconv.ParseUint and so encoding/json reject
		d.pos = start
		return d.errType("uint64")
	}
	*p = mag
	return nil
}

// intField decodes an integer that fits int64, or null (no change), into *p.
func (d *decoder) intField(p *int64) error {
	if d.buf[d.pos] == 'n' {
		return d.literal("null")
	}
	start := d.pos
	neg, mag, err := d.integer()
	if err != nil {
		return err
	}
	switch {
	case !neg && mag <= 1<<63-1:
		*p = int64(mag)
	case neg && mag <= 1<<63:
		*p = int64(-mag) // wraps to math.MinInt64 for 1<<63, as intended
	default:
		d.pos = start
		return d.errType("int64")
	}
	return nil
}

// timeField decodes an RFC 3339 string, or null (which sets nil), into *p.
// Like encoding/json, it hands the raw quoted bytes, escapes and all, to
// time.Time.UnmarshalJSON, so exactly the same strings are accepted.
func (d *decoder) timeField(p **time.Time) error {
	switch d.buf[d.pos] {
	case '"':
		start := d.pos
		if err := d.skipString(); err != nil {
			return err
		}
		t := d.newTime()
		if err := t.UnmarshalJSON(d.buf[start:d.pos]); err != nil {
			return &decodeError{start, err.Error()}
		}
		*p = t
		return nil
	case 'n':
		*p = nil
		return d.literal("null")
	}
	return d.errType("time.Time")
}

// remaining returns the number of body bytes not yet read.
func (d *decoder) remaining() int { return len(d.buf) - d.pos }

// newNode returns a zero Node from the current slab.
func (d *decoder) newNode() *Node {
	if len(d.nodes) == 0 {
		d.nodes = make([]Node, min(d.remaining()/bytesPerNodeGuess+1, maxNodeSlab))
	}
	n := &d.nodes[0]
	d.nodes = d.nodes[1:]
	return n
}

// newTime returns a zero time.Time from the current slab.
func (d *decoder) newTime() *time.Time {
	if len(d.times) == 0 {
		d.times = make([]time.Time, min(d.remaining()/bytesPerTimeGuess+1, maxTimeSlab))
	}
	t := &d.times[0]
	d.times = d.times[1:]
	return t
}

// newNodes returns a copy of children in the pointer arena, with capacity
// equal to its length.
func (d *decoder) newNodes(children []*Node) Nodes {
	k := len(children)
	if cap(d.ptrs)-len(d.ptrs) < k {
		d.ptrs = make([]*Node, 0, k+min(d.remaining()/bytesPerNodeGuess, maxPtrBlock))
	}
	start := len(d.ptrs)
	d.ptrs = append(d.ptrs, children...)
	return Nodes(d.ptrs[start:len(d.ptrs):len(d.ptrs)])
}

// Errors.

func (d *decoder) errEOF() error {
	return &decodeError{d.pos, "unexpected end of JSON input"}
}

func (d *decoder) errSyntax(where string) error {
	if d.pos >= len(d.buf) {
		return d.errEOF()
	}
	return &decodeError{d.pos, fmt.Sprintf("invalid character %q %s", d.buf[d.pos], where)}
}

// errType reports that the value at d.pos cannot be stored as want.
func (d *decoder) errType(want string) error {
	if d.pos >= len(d.buf) {
		return d.errEOF()
	}
	return &decodeError{d.pos, "cannot decode " + jsonKind(d.buf[d.pos]) + " into " + want}
}

// jsonKind names the kind of JSON value starting with c.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	if c == '-' || '0' <= c && c <= '9' {
		return "number"
	}
	return fmt.Sprintf("invalid character %q", c)
}
