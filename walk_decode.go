package client

// This file decodes a keys-API body as it is read from an io.Reader, handing
// out every node as soon as its JSON object ends, without building the tree
// and without holding the body. It accepts and rejects exactly the bodies
// decodeResponse does (FuzzWalkDecode checks this), and reuses its lexical
// layer (decode_lex.go): a token (string, number, literal) is first made
// whole in the window, then lexed by the same code.
//
// Window. The body passes through one buffer, 64 KiB at first, that grows
// only when a single token does not fit in half of it, up to
// maxWalkToken. Structure (objects, arrays, whitespace) never needs to be
// whole in the window.
//
// Aliasing. Unlike decodeResponse, no string aliases the body: the window is
// reused. Every string is copied (or unescaped) into a string block, which
// is only ever appended to and never reused, so the bytes behind a string
// are immutable. Nodes and expiration times come from slabs. Blocks and
// slabs are handed out and forgotten: a node kept by the caller keeps its
// slab and string block alive, nothing else does.

import (
	"bytes"
	"fmt"
	"io"
	"time"
	"unsafe"
)

// Sizes of the stream decoder's buffers.
const (
	walkWindow      = 64 << 10 // initial window
	maxWalkToken    = 64 << 20 // largest single token (a 1.5 MiB value escaped as \u00XX is 9 MiB)
	walkStringBlock = 32 << 10
	maxWalkNodeSlab = 128
	maxWalkTimeSlab = 32
)

// readError is a failure to read the body (not a JSON error).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// stopError carries the error of the emit callback out of the decoder
// unchanged.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// streamDecoder is the state of one decodeStream call. The embedded decoder
// lexes tokens in the window: its buf is the part of the window that holds
// body bytes, its pos the next byte to decode.
type streamDecoder struct {
	decoder
	r    io.Reader
	win  []byte // the window's storage; buf is win[:n]
	base int64  // body offset of buf[0]
	rerr error  // io.EOF or *readError once reading ended, sticky

	emit    func(*Node) error
	res     *Response      // tree mode (decodeStreamResponse): decode into res instead of emitting
	sblock  []byte         // current string block; len is the used part
	scratch []byte         // reused: a string being unescaped
	offload *stringOffload // tree mode: unescapes Key and Value on a second core
	nslab   int            // size of the next Node slab
	tslab   int            // size of the next time slab
}

// decodeStream decodes the keys-API body read from r and calls emit with
// every node of its "node" member, each directory after all of its
// children (depth-first post-order), with Nodes nil. The nodes are those
// decodeResponse would put in Response.Node's tree; prevNode members are
// checked but not emitted. Nodes and their strings are never reused, so
// emit may keep them.
//
// It returns nil once the whole body, up to EOF, was valid; a *decodeError
// (with body offsets) for malformed input, including a body that ends
// early; a *readError when r fails; a *stopError when emit fails. Nodes
// emitted before an error are real, but the body was not all read.
func decodeStream(r io.Reader, emit func(*Node) error) error {
	return newStreamDecoder(r, emit, nil).decode()
}

// decodeStreamResponse decodes the keys-API body read from r into res,
// exactly as decodeResponse does with the whole body, but without holding
// the body: strings are copied into blocks of their own. It is for answers
// too large to buffer cheaply (a recursive GET of a large keyspace). Its
// errors are those of decodeStream.
func decodeStreamResponse(r io.Reader, res *Response) error {
	s := newStreamDecoder(r, nil, res)
	s.offload = new(stringOffload)
	return s.offload.finish(s.decode())
}

func newStreamDecoder(r io.Reader, emit func(*Node) error, res *Response) *streamDecoder {
	s := &streamDecoder{r: r, emit: emit, res: res, win: make([]byte, walkWindow), nslab: 8, tslab: 4}
	s.buf = s.win[:0]
	return s
}

func (s *streamDecoder) decode() error {
	err := s.run()
	if de, ok := err.(*decodeError); ok {
		de.off += int(s.base)
	}
	return err
}

func (s *streamDecoder) run() error {
	if err := s.space(); err != nil {
		return err
	}
	if s.pos >= len(s.buf) {
		return s.errEOF()
	}
	switch c := s.buf[s.pos]; c {
	case '{':
		if err := s.response(); err != nil {
			return err
		}
	case 'n':
		if err := s.lit("null"); err != nil {
			return err
		}
	default:
		start := s.base + int64(s.pos)
		if err := s.skipValue(); err != nil {
			return err
		}
		return &decodeError{int(start - s.base), "cannot decode " + jsonKind(c) + " into a Response"}
	}
	if err := s.space(); err != nil {
		return err
	}
	if s.pos != len(s.buf) {
		return s.errSyntax("after top-level value")
	}
	return nil
}

// Reading.

// more reads more of the body into the window, keeping buf[pos:]. Indexes
// into buf move down by the returned shift. It returns io.EOF at the end of
// the body and a *readError when reading fails or a token is too large.
func (s *streamDecoder) more() (shift int, err error) {
	if s.rerr != nil {
		return 0, s.rerr
	}
	keep := len(s.buf) - s.pos
	shift = s.pos
	if keep > len(s.win)/2 {
		// A token fills half the window: grow, so that reads stay large.
		if keep >= maxWalkToken {
			s.rerr = &readError{fmt.Errorf("%w: a JSON value longer than %d bytes", ErrResponseTooLarge, maxWalkToken)}
			return 0, s.rerr
		}
		w := make([]byte, min(2*len(s.win), maxWalkToken+walkWindow))
		copy(w, s.buf[s.pos:])
		s.win = w
	} else if shift > 0 {
		copy(s.win, s.buf[s.pos:])
	}
	s.base += int64(shift)
	s.pos = 0
	for tries := 0; ; tries++ {
		n, err := s.r.Read(s.win[keep:])
		s.buf = s.win[:keep+n]
		if err != nil {
			if err == io.EOF {
				s.rerr = io.EOF
			} else {
				s.rerr = &readError{err}
			}
			if n > 0 {
				return shift, nil
			}
			return shift, s.rerr
		}
		if n > 0 {
			return shift, nil
		}
		if tries == 100 {
			s.rerr = &readError{io.ErrNoProgress}
			return shift, s.rerr
		}
	}
}

// endOK turns the io.EOF of more into success: the lexer, finding the
// window exhausted, reports the end of input itself, at the right offset.
func endOK(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// fill makes n bytes available at pos, unless the body ends first.
func (s *streamDecoder) fill(n int) error {
	for len(s.buf)-s.pos < n {
		if _, err := s.more(); err != nil {
			return endOK(err)
		}
	}
	return nil
}

// space skips whitespace; at the end of the body pos == len(buf).
func (s *streamDecoder) space() error {
	for {
		s.skipSpace()
		if s.pos < len(s.buf) {
			return nil
		}
		if _, err := s.more(); err != nil {
			return endOK(err)
		}
	}
}

// atSpace reports whether pos is not at a byte that starts a token, so
// that space must run: the walkers test this first because compact JSON,
// as etcd sends it, has no whitespace at all. (space itself is too large
// to be inlined; skipping the call made a 100k-key tree decode 7% faster.)
func (s *streamDecoder) atSpace() bool {
	return s.pos >= len(s.buf) || s.buf[s.pos] <= ' '
}

// lit consumes the literal lit at pos.
func (s *streamDecoder) lit(lit string) error {
	if err := s.fill(len(lit)); err != nil {
		return err
	}
	return s.literal(lit)
}

// wholeString makes the string at pos (its opening quote) whole in the
// window and returns the index just past its closing quote, or -1 if the
// body ends first. A quote ends the string when an even number of
// backslashes precedes it; the lexer checks the rest.
func (s *streamDecoder) wholeString() (end int, err error) {
	return s.wholeStringFrom(s.pos + 1)
}

// wholeStringFrom is wholeString for a string none of whose bytes before
// buf[i] is a quote.
func (s *streamDecoder) wholeStringFrom(i int) (end int, err error) {
	for {
		if k := bytes.IndexByte(s.buf[i:], '"'); k >= 0 {
			q := i + k
			b := q
			for b > s.pos+1 && s.buf[b-1] == '\\' {
				b--
			}
			if (q-b)%2 == 0 {
				return q + 1, nil
			}
			i = q + 1
			continue
		}
		i = len(s.buf)
		shift, err := s.more()
		if err != nil {
			return -1, endOK(err)
		}
		i -= shift
	}
}

// wholeNumber makes the number at pos whole in the window, with the byte
// after it, unless the body ends first.
func (s *streamDecoder) wholeNumber() error {
	i := s.pos
	for {
		for i < len(s.buf) {
			switch c := s.buf[i]; {
			case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				i++
			default:
				return nil
			}
		}
		shift, err := s.more()
		if err != nil {
			return endOK(err)
		}
		i -= shift
	}
}

// Allocation.

func (s *streamDecoder) newNode() *Node {
	if len(s.nodes) == 0 {
		s.nodes = make([]Node, s.nslab)
		s.nslab = min(2*s.nslab, maxWalkNodeSlab)
	}
	n := &s.nodes[0]
	s.nodes = s.nodes[1:]
	return n
}

func (s *streamDecoder) newTime() *time.Time {
	if len(s.times) == 0 {
		s.times = make([]time.Time, s.tslab)
		s.tslab = min(2*s.tslab, maxWalkTimeSlab)
	}
	t := &s.times[0]
	s.times = s.times[1:]
	return t
}

// reserve makes room for n more bytes in the string block. A new block
// replaces a full one; bytes of a block are never written twice.
func (s *streamDecoder) reserve(n int) {
	if cap(s.sblock)-len(s.sblock) < n {
		s.sblock = make([]byte, 0, max(n, walkStringBlock))
	}
}

// Values.

// str consumes the string at pos and returns a copy of its value in the
// string block.
func (s *streamDecoder) str() (string, error) {
	start := s.pos + 1
	j := plainRun(s.buf, start)
	if j < len(s.buf) && s.buf[j] == '"' {
		// The common case, in one pass: plain ASCII, whole in the window.
		s.pos = j + 1
		return s.copyString(s.buf[start:j]), nil
	}
	plain := j - start // the string starts with this many plain bytes
	// Escapes or UTF-8, most likely whole in the window: unescape in one
	// pass into the scratch buffer, then copy the value once.
	var err error
	s.scratch, err = s.appendUnescaped(append(s.scratch[:0], s.buf[start:j]...), j)
	if err == nil {
		return s.copyString(s.scratch), nil
	}
	if !s.windowEnded(err) {
		return "", err
	}
	// The string (or an escape in it) goes on past the window: make it
	// whole, and lex it again.
	s.pos = start - 1
	end, err := s.wholeString()
	if err != nil {
		return "", err
	}
	start = s.pos + 1
	if end >= 0 {
		raw := s.buf[start : end-1]
		if plain = plainRun(raw, min(plain, len(raw))); plain == len(raw) {
			s.pos = end
			return s.copyString(raw), nil
		}
		// The value is at most as long as its escaped form, except for
		// invalid UTF-8 (1 byte becomes 3); then append moves to a new
		// array, leaving the block's earlier strings untouched.
		s.reserve(len(raw) + 16)
	}
	// Escapes or UTF-8: copy the plain prefix, unescape the rest.
	from := len(s.sblock)
	s.sblock = append(s.sblock, s.buf[start:start+plain]...)
	s.sblock, err = s.appendUnescaped(s.sblock, start+plain)
	if err != nil {
		return "", err
	}
	if len(s.sblock) == from {
		return "", nil
	}
	v := s.sblock[from:]
	return unsafe.String(&v[0], len(v)), nil
}

// deferredStringField is stringField for tree mode: a string that is not
// plain ASCII is handed to the offload worker, which stores its value in *p
// before decodeStreamResponse returns.
func (s *streamDecoder) deferredStringField(p *string) error {
	if s.buf[s.pos] != '"' {
		return s.stringField(p)
	}
	start := s.pos + 1
	j := plainRun(s.buf, start)
	if j < len(s.buf) && s.buf[j] == '"' {
		s.pos = j + 1
		*p = s.copyString(s.buf[start:j])
		return nil
	}
	end, err := s.wholeStringFrom(j)
	if err != nil {
		return err
	}
	if end < 0 { // the body ends within the string: let str report it
		return s.stringField(p)
	}
	start = s.pos + 1
	s.offload.add(p, s.buf[start:end], s.base+int64(start))
	s.pos = end
	return nil
}

// windowEnded reports whether err may come from the lexer running out of
// the window (an unfinished string or escape) before the body's end: then
// the token must be made whole, which also reports a failed read, and
// lexed again, where a genuine error recurs.
func (s *streamDecoder) windowEnded(err error) bool {
	de, ok := err.(*decodeError)
	return ok && s.rerr != io.EOF && de.off >= len(s.buf)-12
}

func (s *streamDecoder) copyString(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	s.reserve(len(raw))
	from := len(s.sblock)
	s.sblock = append(s.sblock, raw...)
	return unsafe.String(&s.sblock[from], len(raw))
}

// fieldName consumes the object key at pos and returns its field.
func (s *streamDecoder) fieldName() (int, error) {
	start := s.pos + 1
	if f, n := knownFieldName(s.buf[start:]); n > 0 {
		s.pos = start + n
		return f, nil
	}
	if j := plainRun(s.buf, start); j < len(s.buf) && s.buf[j] == '"' {
		s.pos = j + 1
		return fieldOf(s.buf[start:j]), nil
	}
	if _, err := s.wholeString(); err != nil {
		return 0, err
	}
	return s.decoder.fieldName()
}

func (s *streamDecoder) stringField(p *string) error {
	switch s.buf[s.pos] {
	case '"':
		v, err := s.str()
		if err != nil {
			return err
		}
		*p = v
		return nil
	case 'n':
		return s.lit("null")
	}
	return s.errType("string")
}

func (s *streamDecoder) boolField(p *bool) error {
	switch s.buf[s.pos] {
	case 't':
		*p = true
		return s.lit("true")
	case 'f':
		*p = false
		return s.lit("false")
	case 'n':
		return s.lit("null")
	}
	return s.errType("bool")
}

// integerWindow is how many bytes the lexer needs to decide an integer
// field: 20 digits at most before it fails on overflow, a sign, and the
// byte after the digits (a '.' or an exponent makes it fail too). With as
// many in the window the token need not be made whole first.
const integerWindow = 24

func (s *streamDecoder) uintField(p *uint64) error {
	if s.buf[s.pos] == 'n' {
		return s.lit("null")
	}
	if len(s.buf)-s.pos < integerWindow {
		if err := s.wholeNumber(); err != nil {
			return err
		}
	}
	return s.decoder.uintField(p)
}

func (s *streamDecoder) intField(p *int64) error {
	if s.buf[s.pos] == 'n' {
		return s.lit("null")
	}
	if len(s.buf)-s.pos < integerWindow {
		if err := s.wholeNumber(); err != nil {
			return err
		}
	}
	return s.decoder.intField(p)
}

func (s *streamDecoder) timeField(p **time.Time) error {
	switch s.buf[s.pos] {
	case '"':
		if _, err := s.wholeString(); err != nil {
			return err
		}
		start := s.pos
		if err := s.skipString(); err != nil {
			return err
		}
		t := s.newTime()
		if err := t.UnmarshalJSON(s.buf[start:s.pos]); err != nil {
			return &decodeError{start, err.Error()}
		}
		*p = t
		return nil
	case 'n':
		*p = nil
		return s.lit("null")
	}
	return s.errType("time.Time")
}

// Structure.

// response decodes the top-level object at pos.
func (s *streamDecoder) response() error {
	if s.res != nil {
		return s.object(func(f int) error {
			switch f {
			case fieldAction:
				return s.stringField(&s.res.Action)
			case fieldNode:
				return s.treeNodeField(&s.res.Node)
			case fieldPrevNode:
				return s.treeNodeField(&s.res.PrevNode)
			}
			return s.skipValue()
		})
	}
	var action string
	return s.object(func(f int) error {
		switch f {
		case fieldAction:
			return s.stringField(&action)
		case fieldNode:
			return s.nodeField(true)
		case fieldPrevNode:
			return s.nodeField(false)
		}
		return s.skipValue()
	})
}

// nodeField decodes a node object or null at pos, emitting the node and
// its descendants if emit is set.
func (s *streamDecoder) nodeField(emit bool) error {
	switch s.buf[s.pos] {
	case '{':
		return s.node(emit)
	case 'n':
		return s.lit("null")
	}
	return s.errType("a Node")
}

// node decodes the node object at pos into a new Node and emits it after
// its children, if emit is set.
func (s *streamDecoder) node(emit bool) error {
	n := s.newNode()
	err := s.object(func(f int) error {
		switch f {
		case fieldKey:
			return s.stringField(&n.Key)
		case fieldValue:
			return s.stringField(&n.Value)
		case fieldDir:
			return s.boolField(&n.Dir)
		case fieldNodes:
			return s.nodesField(emit)
		case fieldCreatedIndex:
			return s.uintField(&n.CreatedIndex)
		case fieldModifiedIndex:
			return s.uintField(&n.ModifiedIndex)
		case fieldExpiration:
			return s.timeField(&n.Expiration)
		case fieldTTL:
			return s.intField(&n.TTL)
		}
		return s.skipValue()
	})
	if err != nil || !emit {
		return err
	}
	if err := s.emit(n); err != nil {
		return &stopError{err}
	}
	return nil
}

// Tree mode: the same schema decoded into a Response, with the semantics
// of decodeResponse (a repeated member replaces the earlier one, null
// clears a node or a list, null elements stay in a list, [] is an empty
// non-nil list).

func (s *streamDecoder) treeNodeField(p **Node) error {
	switch s.buf[s.pos] {
	case '{':
		n := s.newNode()
		if err := s.treeNode(n); err != nil {
			return err
		}
		*p = n
		return nil
	case 'n':
		*p = nil
		return s.lit("null")
	}
	return s.errType("a Node")
}

func (s *streamDecoder) treeNode(n *Node) error {
	var seen uint8 // fieldKey and fieldValue members met so far
	return s.object(func(f int) error {
		switch f {
		case fieldKey, fieldValue:
			p := &n.Key
			if f == fieldValue {
				p = &n.Value
			}
			if s.offload == nil {
				return s.stringField(p)
			}
			if bit := uint8(1) << (f & 7); seen&bit == 0 {
				seen |= bit
			} else {
				s.offload.wait() // a repeat: the value handed over earlier must not land after this one
			}
			return s.deferredStringField(p)
		case fieldDir:
			return s.boolField(&n.Dir)
		case fieldNodes:
			return s.treeNodesField(&n.Nodes)
		case fieldCreatedIndex:
			return s.uintField(&n.CreatedIndex)
		case fieldModifiedIndex:
			return s.uintField(&n.ModifiedIndex)
		case fieldExpiration:
			return s.timeField(&n.Expiration)
		case fieldTTL:
			return s.intField(&n.TTL)
		}
		return s.skipValue()
	})
}

func (s *streamDecoder) treeNodesField(p *Nodes) error {
	switch s.buf[s.pos] {
	case 'n':
		*p = nil
		return s.lit("null")
	case '[':
	default:
		return s.errType("Nodes")
	}
	base := len(s.stack)
	err := s.array(func() error {
		var n *Node
		switch s.buf[s.pos] {
		case '{':
			n = s.newNode()
			if err := s.treeNode(n); err != nil {
				return err
			}
		case 'n':
			if err := s.lit("null"); err != nil {
				return err
			}
		default:
			return s.errType("a Node")
		}
		s.stack = append(s.stack, n)
		return nil
	})
	if err != nil {
		return err
	}
	if len(s.stack) == base {
		*p = Nodes{}
		return nil
	}
	*p = s.newNodes(s.stack[base:])
	clear(s.stack[base:])
	s.stack = s.stack[:base]
	return nil
}

// nodesField decodes an array of node objects (or nulls), or null, at pos.
func (s *streamDecoder) nodesField(emit bool) error {
	switch s.buf[s.pos] {
	case 'n':
		return s.lit("null")
	case '[':
	default:
		return s.errType("Nodes")
	}
	return s.array(func() error {
		switch s.buf[s.pos] {
		case '{':
			return s.node(emit)
		case 'n':
			return s.lit("null")
		}
		return s.errType("a Node")
	})
}

// object walks the object at pos like decoder.object, reading on as
// needed.
func (s *streamDecoder) object(member func(field int) error) error {
	if err := s.open(); err != nil {
		return err
	}
	if err := s.space(); err != nil {
		return err
	}
	if s.pos < len(s.buf) && s.buf[s.pos] == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.pos >= len(s.buf) {
			return s.errEOF()
		}
		if s.buf[s.pos] != '"' {
			return s.errSyntax("looking for beginning of object key string")
		}
		f, err := s.fieldName()
		if err != nil {
			return err
		}
		if s.atSpace() {
			if err := s.space(); err != nil {
				return err
			}
		}
		if s.pos >= len(s.buf) {
			return s.errEOF()
		}
		if s.buf[s.pos] != ':' {
			return s.errSyntax("after object key")
		}
		s.pos++
		if s.atSpace() {
			if err := s.space(); err != nil {
				return err
			}
		}
		if s.pos >= len(s.buf) {
			return s.errEOF()
		}
		if err := member(f); err != nil {
			return err
		}
		if s.atSpace() {
			if err := s.space(); err != nil {
				return err
			}
		}
		if s.pos >= len(s.buf) {
			return s.errEOF()
		}
		switch s.buf[s.pos] {
		case ',':
			s.pos++
			if s.atSpace() {
				if err := s.space(); err != nil {
					return err
				}
			}
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.errSyntax("after object key:value pair")
		}
	}
}

// array walks the array at pos, calling elem with pos at each element.
func (s *streamDecoder) array(elem func() error) error {
	if err := s.open(); err != nil {
		return err
	}
	if err := s.space(); err != nil {
		return err
	}
	if s.pos < len(s.buf) && s.buf[s.pos] == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.pos >= len(s.buf) {
			return s.errEOF()
		}
		if err := elem(); err != nil {
			return err
		}
		if s.atSpace() {
			if err := s.space(); err != nil {
				return err
			}
		}
		if s.pos >= len(s.buf) {
			return s.errEOF()
		}
		switch s.buf[s.pos] {
		case ',':
			s.pos++
			if s.atSpace() {
				if err := s.space(); err != nil {
					return err
				}
			}
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.errSyntax("after array element")
		}
	}
}

// skipValue consumes any JSON value at pos, checking its syntax and depth.
func (s *streamDecoder) skipValue() error {
	switch c := s.buf[s.pos]; {
	case c == '{':
		return s.object(func(int) error { return s.skipValue() })
	case c == '[':
		return s.array(s.skipValue)
	case c == '"':
		if _, err := s.wholeString(); err != nil {
			return err
		}
		return s.skipString()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		if err := s.wholeNumber(); err != nil {
			return err
		}
		return s.skipNumber()
	}
	return s.errSyntax("looking for beginning of value")
}
