package client

// The decoder of keys-API answers: one schema walker (decode_schema.go)
// over one lexer (decode_lex.go), reading from a window. A whole body is a
// window that is the body; a body read from an io.Reader passes through a
// window that is refilled as the walker reaches its end. The walker has two
// outputs: a tree (a Response, for KeysAPI.Get), or nodes handed out one by
// one (for Walk, OpenSnapshot and the command's export).
//
// Window. A streamed body passes through one buffer, 64 KiB at first (or
// the first bytes of a keys answer, which readKeysAnswer read to decide
// whether to stream it: 128 KiB). A
// token (string, number, literal) is made whole in the window before the
// lexer reads it; structure (objects, arrays, whitespace) never needs to
// be whole. A string value that fills half the window without ending is
// read past it, into storage of its own (decode_long.go); any other token
// that long makes the window grow, up to the decode's token limit
// (Config.MaxResponseBytes), which bounds string values too.
//
// Aliasing. Every string the decoder stores in a Response or Node is one
// of:
//
//   - for a whole body, a view (unsafe.String) of the body, for strings
//     that contain no escape and only valid UTF-8. decodeResponse's caller
//     owns the body and promises never to modify or reuse it afterwards,
//     and the decoder itself never writes to it;
//   - a view of a string block private to one decode: unescaped strings,
//     and, for a streamed body, every string (the window is reused). A
//     block is only ever appended to: bytes that back a string are never
//     written again, and when a block runs out of room a new one is
//     allocated rather than the old one reused;
//   - for a string read past the window, a view of the buffer it was
//     joined or unescaped into, which holds that string only.
//
// Either way the bytes behind a string are immutable for as long as the
// string can be reached, which is what Go requires of a string. The cost is
// that a single small string kept by the caller keeps the whole body (or one
// block) alive.
//
// Allocation. Nodes are carved out of slabs of Node structs, Expiration
// times out of slabs of time.Time, and Nodes slices out of a shared block
// of pointers, each carved slice capped at its length so that an append by
// the caller reallocates instead of overwriting a sibling. Children are
// first collected on a scratch stack, then copied once into the block. For
// a whole body the sizes follow the number of body bytes still to be read,
// so a response with one key does not pay for a hundred Nodes; for a
// streamed body, whose rest is unknown, slabs start small and double.

import (
	"fmt"
	"io"
	"math"
	"time"
	"unsafe"
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

// Sizes of a streamed body's buffers.
const (
	windowSize     = 64 << 10 // initial window
	streamStrBlock = 32 << 10
	firstNodeSlab  = 8
	firstTimeSlab  = 4
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

// readError is a failure to read the body (not a JSON error).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// stopError carries the error of the emit callback out of the decoder
// unchanged.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

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
	return d.decode(res)
}

// decodeStreamResponse decodes the keys-API body read from r into res,
// exactly as decodeResponse does with the whole body, but without holding
// the body: strings are copied into blocks of their own, and those that
// need unescaping are unescaped on a second core (decode_offload.go). It is
// for answers too large to buffer cheaply (a recursive GET of a large
// keyspace), whose size r itself bounds: no token limit of its own. Its
// errors are those of decodeStream.
func decodeStreamResponse(r io.Reader, res *Response) error {
	return decodeStreamResponseAfter(nil, r, res)
}

// decodeStreamResponseAfter is decodeStreamResponse of the body that
// starts with head, already read, and goes on with r. head becomes the
// window, so the caller never uses it again.
func decodeStreamResponseAfter(head []byte, r io.Reader, res *Response) error {
	d := newStreamDecoder(head, r, math.MaxInt64)
	d.offload = new(stringOffload)
	return d.offload.finish(d.decode(res))
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
// early; a *readError when r fails or a token is longer than 1 GiB (the
// default of Config.MaxResponseBytes); a *stopError when emit fails. Nodes
// emitted before an error are real, but the body was not all read.
func decodeStream(r io.Reader, emit func(*Node) error) error {
	return decodeStreamMax(r, maxResponseBytes, emit)
}

// decodeStreamMax is decodeStream with tokens of up to maxToken bytes.
func decodeStreamMax(r io.Reader, maxToken int64, emit func(*Node) error) error {
	d := newStreamDecoder(nil, r, maxToken)
	d.emit = emit
	return d.decode(nil)
}

// newStreamDecoder returns a decoder of the body that starts with head,
// which becomes its window, and goes on with r; without head, the window
// is a new one.
func newStreamDecoder(head []byte, r io.Reader, maxToken int64) *decoder {
	d := &decoder{r: r, maxToken: maxToken, nslab: firstNodeSlab, tslab: firstTimeSlab}
	if len(head) > 0 {
		d.win, d.buf = head[:cap(head)], head
	} else {
		d.win = make([]byte, windowSize)
		d.buf = d.win[:0]
	}
	return d
}

// decoder is the state of one decode. It is never shared.
type decoder struct {
	// The window: buf holds body bytes, pos is the next one to decode.
	buf   []byte
	pos   int
	depth int       // objects and arrays currently open
	r     io.Reader // nil: buf is the whole body
	win   []byte    // the window's storage when r is set; buf is win[:n]
	base  int64     // body offset of buf[0]
	rerr  error     // io.EOF or *readError once reading ended, sticky
	// maxToken bounds a single token (string, number, literal), which a
	// streamed body holds whole in the window.
	maxToken int64

	// The output, unless a tree is decoded: nodes handed to emit.
	emit    func(*Node) error
	offload *stringOffload // nil: strings are unescaped in place

	nodes []Node      // unused part of the current Node slab
	times []time.Time // unused part of the current time slab
	nslab int         // streamed body: size of the next Node slab
	tslab int         // streamed body: size of the next time slab
	ptrs  []*Node     // current child-pointer block; len is the used part
	strs  []byte      // current string block; len is the used part
	stack []*Node     // children of the open "nodes" arrays, innermost last
	key   []byte      // scratch for object keys that contain escapes
}

// decode decodes the body into res, or, with res nil, emitting its nodes.
// Error offsets count from the body's start.
func (d *decoder) decode(res *Response) error {
	err := d.top(res)
	if de, ok := err.(*decodeError); ok {
		de.off += int(d.base)
	}
	return err
}

// top decodes the top-level value: a keys response object, or null.
func (d *decoder) top(res *Response) error {
	if err := d.space(); err != nil {
		return err
	}
	if d.pos >= len(d.buf) {
		return d.errEOF()
	}
	switch c := d.buf[d.pos]; c {
	case '{':
		if err := d.response(res); err != nil {
			return err
		}
	case 'n':
		if err := d.lit("null"); err != nil {
			return err
		}
	default:
		start := d.base + int64(d.pos)
		if err := d.skipValue(); err != nil {
			return err
		}
		return &decodeError{int(start - d.base), "cannot decode " + jsonKind(c) + " into a Response"}
	}
	if err := d.space(); err != nil {
		return err
	}
	if d.pos != len(d.buf) {
		return d.errSyntax("after top-level value")
	}
	return nil
}

// The window.

// more reads more of the body into the window, keeping buf[pos:]. Indexes
// into buf move down by the returned shift. It returns io.EOF at the end of
// the body (at once for a whole body) and a *readError when reading fails
// or a token is too large.
func (d *decoder) more() (shift int, err error) {
	if d.rerr != nil {
		return 0, d.rerr
	}
	if d.r == nil {
		d.rerr = io.EOF
		return 0, io.EOF
	}
	keep := len(d.buf) - d.pos
	shift = d.pos
	if keep > len(d.win)/2 {
		// A token fills half the window: grow, so that reads stay large.
		if int64(keep) >= d.maxToken {
			return 0, d.tooLong()
		}
		size := 2 * int64(len(d.win))
		if d.maxToken < size-windowSize {
			size = d.maxToken + windowSize
		}
		w := make([]byte, size)
		copy(w, d.buf[d.pos:])
		d.win = w
	} else if shift > 0 {
		copy(d.win, d.buf[d.pos:])
	}
	d.base += int64(shift)
	d.pos = 0
	for tries := 0; ; tries++ {
		n, err := d.r.Read(d.win[keep:])
		d.buf = d.win[:keep+n]
		if err != nil {
			d.setReadErr(err)
			if n > 0 {
				return shift, nil
			}
			return shift, d.rerr
		}
		if n > 0 {
			return shift, nil
		}
		if tries == 100 {
			d.rerr = &readError{io.ErrNoProgress}
			return shift, d.rerr
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
func (d *decoder) fill(n int) error {
	for len(d.buf)-d.pos < n {
		if _, err := d.more(); err != nil {
			return endOK(err)
		}
	}
	return nil
}

// space skips whitespace; at the end of the body pos == len(buf).
func (d *decoder) space() error {
	for {
		d.skipSpace()
		if d.pos < len(d.buf) {
			return nil
		}
		if _, err := d.more(); err != nil {
			return endOK(err)
		}
	}
}

// atSpace reports whether pos is not at a byte that starts a token, so
// that space must run: the walkers test this first because compact JSON,
// as etcd sends it, has no whitespace at all. (space itself is too large
// to be inlined; skipping the call made a 100k-key tree decode 7% faster.)
func (d *decoder) atSpace() bool {
	return d.pos >= len(d.buf) || d.buf[d.pos] <= ' '
}

// lit consumes the literal lit at pos.
func (d *decoder) lit(lit string) error {
	if err := d.fill(len(lit)); err != nil {
		return err
	}
	return d.literal(lit)
}

// wholeNumber makes the number at pos whole in the window, with the byte
// after it, unless the body ends first.
func (d *decoder) wholeNumber() error {
	i := d.pos
	for {
		for i < len(d.buf) {
			switch c := d.buf[i]; {
			case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				i++
			default:
				return nil
			}
		}
		shift, err := d.more()
		if err != nil {
			return endOK(err)
		}
		i -= shift
	}
}

// Allocation.

// blockLen returns the length of the next block of items of about per
// body bytes each: for a whole body, what the bytes left can hold, up to
// most; for a streamed body, *next, which then doubles up to most.
func (d *decoder) blockLen(next *int, per, most int) int {
	if d.r == nil {
		return min((len(d.buf)-d.pos)/per+1, most)
	}
	n := *next
	*next = min(2*n, most)
	return n
}

// newNode returns a zero Node from the current slab.
func (d *decoder) newNode() *Node {
	if len(d.nodes) == 0 {
		d.nodes = make([]Node, d.blockLen(&d.nslab, bytesPerNodeGuess, maxNodeSlab))
	}
	n := &d.nodes[0]
	d.nodes = d.nodes[1:]
	return n
}

// newTime returns a zero time.Time from the current slab.
func (d *decoder) newTime() *time.Time {
	if len(d.times) == 0 {
		d.times = make([]time.Time, d.blockLen(&d.tslab, bytesPerTimeGuess, maxTimeSlab))
	}
	t := &d.times[0]
	d.times = d.times[1:]
	return t
}

// newNodes returns a copy of children in the pointer block, with capacity
// equal to its length.
func (d *decoder) newNodes(children []*Node) Nodes {
	k := len(children)
	if cap(d.ptrs)-len(d.ptrs) < k {
		more := maxPtrBlock
		if d.r == nil {
			more = min((len(d.buf)-d.pos)/bytesPerNodeGuess, maxPtrBlock)
		}
		d.ptrs = make([]*Node, 0, k+more)
	}
	start := len(d.ptrs)
	d.ptrs = append(d.ptrs, children...)
	return Nodes(d.ptrs[start:len(d.ptrs):len(d.ptrs)])
}

// reserve makes room for n more bytes in the string block. A new block
// replaces a full one; bytes of a block are never written twice.
func (d *decoder) reserve(n int) {
	if cap(d.strs)-len(d.strs) >= n {
		return
	}
	size := max(n, streamStrBlock)
	if d.r == nil {
		size = n + min(len(d.buf)-d.pos, maxStringBlock)
	}
	d.strs = make([]byte, 0, size)
}

// keep returns raw, the bytes of a string that stands for itself, as a
// string: a view of a whole body, or a copy in the string block (a window
// is reused).
func (d *decoder) keep(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if d.r == nil {
		return unsafe.String(&raw[0], len(raw))
	}
	d.reserve(len(raw))
	from := len(d.strs)
	d.strs = append(d.strs, raw...)
	return unsafe.String(&d.strs[from], len(raw))
}

// blockString returns the string held by v, a part of a string block that
// is never written again.
func blockString(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(&v[0], len(v))
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

// errType reports that the value at pos cannot be stored as want.
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
