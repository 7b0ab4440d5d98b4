package client

// The schema walker of the keys decoder (see decode.go): the Response and
// Node objects, field by field, read from the window and refilling it as
// it goes. One walk serves both outputs: the tree (every node kept in its
// parent) and the nodes one by one (each emitted once complete).

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

// fieldNames are the names of the fields, as etcd writes them.
var fieldNames = [...]string{
	fieldAction:        "action",
	fieldNode:          "node",
	fieldPrevNode:      "prevNode",
	fieldKey:           "key",
	fieldDir:           "dir",
	fieldValue:         "value",
	fieldNodes:         "nodes",
	fieldCreatedIndex:  "createdIndex",
	fieldModifiedIndex: "modifiedIndex",
	fieldExpiration:    "expiration",
	fieldTTL:           "ttl",
}

// fieldByFirst[c] is the field whose name starts with c, or fieldUnknown:
// the names start with different letters, but for node and nodes (node,
// which its callers tell apart from nodes).
var fieldByFirst = func() (t [256]uint8) {
	for f, name := range fieldNames {
		if name != "" && t[name[0]] == fieldUnknown {
			t[name[0]] = uint8(f)
		}
	}
	return t
}()

// fieldOf returns the identifier of an exactly matching field name, or
// fieldUnknown. The names of both levels share one table: a key is only
// acted on when it belongs to the object being decoded.
func fieldOf(name []byte) int {
	if len(name) == 0 {
		return fieldUnknown
	}
	f := int(fieldByFirst[name[0]])
	if f == fieldNode && len(name) == len("nodes") {
		f = fieldNodes
	}
	if string(name) != fieldNames[f] {
		return fieldUnknown
	}
	return f
}

// knownFieldName recognizes, at the start of b (just past an opening
// quote), one of the field names with its closing quote, as etcd writes
// them, and returns the field and the bytes taken; 0 bytes for anything
// else, which the general path (fieldOf) then decides. It spares a scan of
// the name for the common case.
func knownFieldName(b []byte) (field, n int) {
	if len(b) < len(`modifiedIndex"`) {
		return fieldUnknown, 0
	}
	f := int(fieldByFirst[b[0]])
	if f == fieldNode && b[4] != '"' {
		f = fieldNodes
	}
	name := fieldNames[f]
	if f == fieldUnknown || string(b[:len(name)]) != name || b[len(name)] != '"' {
		return fieldUnknown, 0
	}
	return f, len(name) + 1
}

// nodeOutput says what becomes of a decoded node.
type nodeOutput int

const (
	keepNode    nodeOutput = iota // in the tree: stored in its parent
	emitNode                      // handed to emit once complete, children first
	discardNode                   // checked only (a prevNode while emitting)
)

// response decodes the top-level object at pos: into res, or, with res
// nil, emitting the nodes of its "node" member.
func (d *decoder) response(res *Response) error {
	node, prev := keepNode, keepNode
	if res == nil {
		res, node, prev = new(Response), emitNode, discardNode
	}
	return d.object(func(f int) error {
		switch f {
		case fieldAction:
			return d.stringField(&res.Action)
		case fieldNode:
			return d.nodeField(&res.Node, node)
		case fieldPrevNode:
			return d.nodeField(&res.PrevNode, prev)
		}
		return d.skipValue()
	})
}

// nodeField decodes a node object or null at pos into *p. A node object
// always gets a fresh Node, even when *p already held one.
func (d *decoder) nodeField(p **Node, out nodeOutput) error {
	switch d.buf[d.pos] {
	case '{':
		n := d.newNode()
		if err := d.node(n, out); err != nil {
			return err
		}
		*p = n
		return nil
	case 'n':
		*p = nil
		return d.lit("null")
	}
	return d.errType("a Node")
}

// node decodes the node object at pos into n, and emits it after its
// children when out is emitNode.
func (d *decoder) node(n *Node, out nodeOutput) error {
	var seen uint8 // fieldKey and fieldValue members met so far
	err := d.object(func(f int) error {
		switch f {
		case fieldKey:
			return d.nodeString(&n.Key, f, &seen)
		case fieldValue:
			return d.nodeString(&n.Value, f, &seen)
		case fieldDir:
			return d.boolField(&n.Dir)
		case fieldNodes:
			return d.nodesField(&n.Nodes, out)
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
	if err != nil || out != emitNode {
		return err
	}
	if err := d.emit(n); err != nil {
		return &stopError{err}
	}
	return nil
}

// nodesField decodes an array of node objects (or nulls), or null, at pos.
// Kept nodes are stored in *p ([] as an empty, non-nil list, as
// encoding/json does); emitted or discarded ones leave *p nil.
func (d *decoder) nodesField(p *Nodes, out nodeOutput) error {
	switch d.buf[d.pos] {
	case 'n':
		*p = nil
		return d.lit("null")
	case '[':
	default:
		return d.errType("Nodes")
	}
	base := len(d.stack)
	err := d.array(func() error {
		var n *Node
		switch d.buf[d.pos] {
		case '{':
			n = d.newNode()
			if err := d.node(n, out); err != nil {
				return err
			}
		case 'n':
			if err := d.lit("null"); err != nil {
				return err
			}
		default:
			return d.errType("a Node")
		}
		if out == keepNode {
			d.stack = append(d.stack, n)
		}
		return nil
	})
	if err != nil || out != keepNode {
		return err
	}
	if len(d.stack) == base {
		*p = Nodes{} // no allocation
		return nil
	}
	*p = d.newNodes(d.stack[base:])
	clear(d.stack[base:]) // drop references for the GC
	d.stack = d.stack[:base]
	return nil
}

// object walks the object at pos, calling member with the field of each
// key once pos is at the member's value. member must consume exactly that
// value.
func (d *decoder) object(member func(field int) error) error {
	return d.container('}', "after object key:value pair", func() error {
		if d.buf[d.pos] != '"' {
			return d.errSyntax("looking for beginning of object key string")
		}
		f, err := d.fieldName()
		if err != nil {
			return err
		}
		if err := d.spaceBefore(':', "after object key"); err != nil {
			return err
		}
		d.pos++
		if d.atSpace() {
			if err := d.space(); err != nil {
				return err
			}
		}
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		return member(f)
	})
}

// array walks the array at pos, calling elem with pos at each element.
func (d *decoder) array(elem func() error) error {
	return d.container(']', "after array element", elem)
}

// container walks the object or array at pos, which ends with close,
// calling elem with pos at each member or element. elem must consume
// exactly that member or element.
func (d *decoder) container(close byte, after string, elem func() error) error {
	if err := d.open(); err != nil {
		return err
	}
	if err := d.space(); err != nil {
		return err
	}
	if d.pos < len(d.buf) && d.buf[d.pos] == close {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		if err := elem(); err != nil {
			return err
		}
		end, err := d.next(close, after)
		if end || err != nil {
			return err
		}
	}
}

// open consumes the '{' or '[' at pos and enforces the depth limit.
func (d *decoder) open() error {
	d.depth++
	if d.depth > maxDecodeDepth {
		return &decodeError{d.pos, "exceeded max depth"}
	}
	d.pos++
	return nil
}

// spaceBefore skips whitespace up to c, which must come next.
func (d *decoder) spaceBefore(c byte, where string) error {
	if d.atSpace() {
		if err := d.space(); err != nil {
			return err
		}
	}
	if d.pos >= len(d.buf) {
		return d.errEOF()
	}
	if d.buf[d.pos] != c {
		return d.errSyntax(where)
	}
	return nil
}

// next consumes what follows a member or element: a ',' before the next
// one, or close, which ends the object or array (end is then true).
func (d *decoder) next(close byte, where string) (end bool, err error) {
	if d.atSpace() {
		if err := d.space(); err != nil {
			return false, err
		}
	}
	if d.pos >= len(d.buf) {
		return false, d.errEOF()
	}
	switch d.buf[d.pos] {
	case ',':
		d.pos++
		if d.atSpace() {
			if err := d.space(); err != nil {
				return false, err
			}
		}
		return false, nil
	case close:
		d.pos++
		d.depth--
		return true, nil
	}
	return false, d.errSyntax(where)
}

// skipValue consumes any JSON value at pos, checking its syntax and depth.
func (d *decoder) skipValue() error {
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.object(func(int) error { return d.skipValue() })
	case c == '[':
		return d.array(d.skipValue)
	case c == '"':
		if _, err := d.wholeString(); err != nil {
			return err
		}
		return d.skipString()
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == 'n':
		return d.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		if err := d.wholeNumber(); err != nil {
			return err
		}
		return d.skipNumber()
	}
	return d.errSyntax("looking for beginning of value")
}

// fieldName consumes the object key at pos and returns its field.
func (d *decoder) fieldName() (int, error) {
	start := d.pos + 1
	if f, n := knownFieldName(d.buf[start:]); n > 0 {
		d.pos = start + n
		return f, nil
	}
	if j := plainRun(d.buf, start); j < len(d.buf) && d.buf[j] == '"' {
		d.pos = j + 1
		return fieldOf(d.buf[start:j]), nil
	}
	// Escapes, control characters or non-ASCII: unescape like any string
	// ("k\u0065y" is the key "key"), then match.
	if d.r != nil {
		if _, err := d.wholeString(); err != nil {
			return 0, err
		}
		start = d.pos + 1
	}
	var err error
	d.key, err = d.appendUnescaped(d.key[:0], start)
	if err != nil {
		return 0, err
	}
	return fieldOf(d.key), nil
}
