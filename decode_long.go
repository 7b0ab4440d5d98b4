package client

// Strings too long for the window. A streamed body's window holds a token
// whole before the lexer reads it, growing when a token fills half of it
// (decoder.more). For a string value that would cost, for a value of n
// bytes, windows of 2n to 4n bytes in all, each copied into the next, and
// then the value's own copy: a 48 MiB value in one key's answer took 2.4
// times upstream's time. A string value that does not fit in the window is
// therefore read past it, into pieces of its own that are never copied
// while they fill, then joined once into the buffer that the value views:
// about n bytes of fresh memory for a value of up to 8 MiB (its pieces are
// reused, piecePool), 2n beyond, whatever the framing of the body.

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// longPiece is the size of the first pieces a long string is read into
// (pooledPieces of them); later ones are a sixteenth of what was read so
// far. Fresh memory is what a long string costs most (a page fault for
// every 4 KiB touched first), more than copying it, so the last piece
// should leave little unused, a huge string should not take thousands of
// pieces, and the first pieces are reused from one long string to the
// next (piecePool): a string of up to 8 MiB then costs one fresh buffer,
// its value, instead of two.
const longPiece = 256 << 10

// pooledPieces is how many pieces of a long string come from piecePool and
// go back to it: at most 8 MiB kept between long strings.
const pooledPieces = 32

// piecePool holds pieces of longPiece bytes, empty, between long strings.
var piecePool = sync.Pool{New: func() any {
	b := make([]byte, 0, longPiece)
	return &b
}}

// pooledPiece returns an empty piece of longPiece bytes from piecePool.
func pooledPiece() []byte { return (*piecePool.Get().(*[]byte))[:0] }

// releasePieces gives the pooled pieces among pieces back to piecePool;
// nothing may use them after.
func releasePieces(pieces [][]byte) {
	for _, p := range pieces {
		if cap(p) == longPiece {
			p = p[:0]
			piecePool.Put(&p)
		}
	}
}

// wholeString makes the string at pos (its opening quote) whole in the
// window and returns the index just past its closing quote, or -1 if the
// body ends first.
func (d *decoder) wholeString() (end int, err error) {
	end, _, _, err = d.stringEnd(d.pos+1, false)
	return end, err
}

// stringEnd is wholeString for a string none of whose bytes before buf[i]
// is a quote. With spill, for a string whose value is wanted (see str and
// nodeString), a string that fills more than half of a streamed body's
// window without ending is read past the window instead (longString): then
// long is set, s is its value and pos is past it. A quote ends the string
// when an even number of backslashes precedes it; the lexer checks the
// rest.
func (d *decoder) stringEnd(i int, spill bool) (end int, s string, long bool, err error) {
	for {
		if k := bytes.IndexByte(d.buf[i:], '"'); k >= 0 {
			q := i + k
			b := q
			for b > d.pos+1 && d.buf[b-1] == '\\' {
				b--
			}
			if (q-b)%2 == 0 {
				return q + 1, "", false, nil
			}
			i = q + 1
			continue
		}
		if spill && d.r != nil && d.rerr == nil && len(d.buf)-d.pos > len(d.win)/2 {
			s, err := d.longString()
			return 0, s, true, err
		}
		i = len(d.buf)
		shift, err := d.more()
		if err != nil {
			return -1, "", false, endOK(err)
		}
		i -= shift
	}
}

// longString reads the string at pos, which the window holds to its end
// without a closing quote, and returns its value, leaving pos past it. The
// bytes read after the string go back into the window. A string longer
// than maxToken bytes (quotes included) fails with ErrResponseTooLarge; a
// malformed one, or one the body ends within, fails as str would fail on
// it whole, at the same body offset.
func (d *decoder) longString() (string, error) {
	at := d.base + int64(d.pos) + 1 // body offset of the first byte of the value
	first := d.buf[d.pos+1:]
	var piece []byte
	if 2*len(first) <= longPiece {
		piece = append(pooledPiece(), first...)
	} else {
		piece = make([]byte, len(first), 2*len(first))
		copy(piece, first)
	}
	var pieces [][]byte // the full ones, in order
	defer func() { releasePieces(append(pieces, piece)) }()
	total := int64(len(first))
	slashes := trailingBackslashes(first) // ending the bytes read so far
	for tries := 0; ; {
		if total+2 > d.maxToken { // with its quotes, longer than allowed
			return "", d.tooLong()
		}
		if len(piece) == cap(piece) {
			pieces = append(pieces, piece)
			if len(pieces) < pooledPieces {
				piece = pooledPiece()
			} else {
				piece = make([]byte, 0, max(longPiece, total/16))
			}
		}
		// Read no more than the window holds, so that what follows the
		// string fits in it.
		from := len(piece)
		n, err := d.r.Read(piece[from:min(cap(piece), from+len(d.win))])
		piece = piece[:from+n]
		total += int64(n)
		if q := closingQuote(piece[from:], &slashes); q >= 0 {
			q += from
			rest := piece[q+1:]
			if total-int64(len(rest))+1 > d.maxToken {
				return "", d.tooLong()
			}
			d.base = at + total - int64(len(rest))
			d.buf = d.win[:copy(d.win, rest)]
			d.pos = 0
			if err != nil {
				d.setReadErr(err)
			}
			return d.joinLongString(append(pieces, piece[:q+1]), true, at)
		}
		if err != nil {
			d.setReadErr(err)
			if d.rerr != io.EOF {
				return "", d.rerr
			}
			// The body ends within the string: report what str would.
			d.base = at + total
			d.buf, d.pos = d.win[:0], 0
			return d.joinLongString(append(pieces, piece), false, at)
		}
		if n > 0 {
			tries = 0
		} else if tries++; tries == 100 {
			d.rerr = &readError{io.ErrNoProgress}
			return "", d.rerr
		}
	}
}

// tooLong fails the decode on a token longer than maxToken.
func (d *decoder) tooLong() error {
	d.rerr = &readError{fmt.Errorf("%w: a JSON value longer than %d bytes", ErrResponseTooLarge, d.maxToken)}
	return d.rerr
}

// setReadErr records err, the failure or end of reading the body, as more
// does.
func (d *decoder) setReadErr(err error) {
	if err == io.EOF {
		d.rerr = io.EOF
	} else {
		d.rerr = &readError{err}
	}
}

// closingQuote returns the index in b of the first quote that ends a
// string, or -1; *slashes is the number of backslashes right before b, and
// is updated to the number right after it when no quote ends the string.
func closingQuote(b []byte, slashes *int) int {
	i := 0
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			if t := trailingBackslashes(b[i:]); t == len(b)-i {
				*slashes += t
			} else {
				*slashes = t
			}
			return -1
		}
		q := i + k
		n := trailingBackslashes(b[i:q])
		if n == q-i {
			n += *slashes
		}
		if n%2 == 0 {
			return q
		}
		*slashes = 0
		i = q + 1
	}
}

// trailingBackslashes returns the number of backslashes that end b.
func trailingBackslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

// joinLongString joins pieces, the contents of a string after its opening
// quote, whose first byte is at body offset at, and with its closing quote
// when closed, into the value of the string: a view of the joined bytes
// when they stand for themselves, as in str, otherwise their unescaped
// copy. Unless closed (the body ended within the string), it fails as str
// fails on such a string, at the same body offset.
func (d *decoder) joinLongString(pieces [][]byte, closed bool, at int64) (string, error) {
	// bytes.Join allocates without zeroing what it copies over.
	raw := bytes.Join(pieces, nil)
	n := len(raw)
	i := 0
	if closed {
		n-- // the closing quote, which ends the scans below
		// Plain ASCII and valid UTF-8 stand for themselves.
		for {
			i = plainRun(raw, i)
			if raw[i] < utf8.RuneSelf {
				break
			}
			m := utf8SeqLen(raw[i:])
			if m == 0 {
				break
			}
			i += m
		}
		if i == n {
			return blockString(raw[:n]), nil
		}
	}
	// The rest, unescaped: in place when raw is valid UTF-8, whose value
	// is never longer than its escaped form at any point (escapes only
	// shrink), so that no byte is written before it is read; otherwise
	// into a buffer of its own, as invalid bytes grow into U+FFFD.
	u := decoder{buf: raw}
	dst := raw[:i]
	if !closed || !utf8.Valid(raw[i:n]) {
		dst = append(make([]byte, 0, n+16), raw[:i]...)
	}
	dst, err := u.appendUnescaped(dst, i)
	if err != nil {
		if de, ok := err.(*decodeError); ok {
			de.off += int(at - d.base)
		}
		return "", err
	}
	return blockString(dst), nil
}
