package client

// The lexer of the keys decoder (see decode.go): whitespace, literals,
// numbers and strings, each read from a token that is whole in the window.
// It accepts exactly the JSON that encoding/json accepts, and unescapes
// strings exactly as it does, including the replacement of invalid UTF-8
// and lone surrogates by U+FFFD.

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// plainByte[c] reports whether byte c can appear in a JSON string as itself
// and stand for itself: printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the index of the first byte of b at or after i that is
// not plain (see plainByte), or len(b). It tests eight bytes at a time (see
// plainMask).
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := plainMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	return i
}

// plainMask flags the bytes of the little-endian word w that are not plain:
// the high bit of each such byte is set. A word holds only plain bytes when
// none has its high bit set, none is below 0x20, and none equals '"' or
// '\\' (the classic "has a zero byte" tests). The lowest flagged byte is
// exact: a subtraction borrows only from a flagged byte, into the bytes
// above it.
func plainMask(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := w ^ (ones * '"')
	bs := w ^ (ones * '\\')
	return (w | (w-ones*0x20)&^w | (q-ones)&^q | (bs-ones)&^bs) & highs
}

// skipSpace advances past JSON whitespace.
func (d *decoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// literal consumes lit (true, false or null), which must start at d.pos.
func (d *decoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.buf) {
			return d.errEOF()
		}
		if d.buf[d.pos] != lit[i] {
			return d.errSyntax("in literal " + lit)
		}
		d.pos++
	}
	return nil
}

// integer consumes a JSON number that must be an integer (no fraction, no
// exponent) and returns its sign and magnitude. It fails on any other value
// and on magnitudes beyond uint64.
func (d *decoder) integer() (neg bool, mag uint64, err error) {
	start := d.pos
	if d.buf[d.pos] == '-' {
		neg = true
		d.pos++
		if d.pos >= len(d.buf) {
			return false, 0, d.errEOF()
		}
	}
	c := d.buf[d.pos]
	if c < '0' || c > '9' {
		if neg {
			return false, 0, d.errSyntax("in numeric literal")
		}
		return false, 0, d.errType("an integer")
	}
	d.pos++
	mag = uint64(c - '0')
	if c != '0' { // a leading zero is the whole integer part
		for d.pos < len(d.buf) {
			c = d.buf[d.pos]
			if c < '0' || c > '9' {
				break
			}
			v := uint64(c - '0')
			if mag > (1<<64-1-v)/10 {
				d.pos = start
				return false, 0, d.errType("an integer of 64 bits")
			}
			mag = mag*10 + v
			d.pos++
		}
	}
	if d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case '.', 'e', 'E':
			d.pos = start
			return false, 0, d.errType("an integer")
		}
	}
	return neg, mag, nil
}

// skipNumber consumes a JSON number of any form.
func (d *decoder) skipNumber() error {
	if d.buf[d.pos] == '-' {
		d.pos++
	}
	if d.pos >= len(d.buf) {
		return d.errEOF()
	}
	switch c := d.buf[d.pos]; {
	case c == '0':
		d.pos++
	case '1' <= c && c <= '9':
		d.skipDigits()
	default:
		return d.errSyntax("in numeric literal")
	}
	if d.pos < len(d.buf) && d.buf[d.pos] == '.' {
		d.pos++
		if err := d.someDigits(); err != nil {
			return err
		}
	}
	if d.pos < len(d.buf) && (d.buf[d.pos] == 'e' || d.buf[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.buf) && (d.buf[d.pos] == '+' || d.buf[d.pos] == '-') {
			d.pos++
		}
		if err := d.someDigits(); err != nil {
			return err
		}
	}
	return nil
}

// someDigits consumes one or more decimal digits.
func (d *decoder) someDigits() error {
	if d.pos >= len(d.buf) {
		return d.errEOF()
	}
	if c := d.buf[d.pos]; c < '0' || c > '9' {
		return d.errSyntax("in numeric literal")
	}
	d.skipDigits()
	return nil
}

func (d *decoder) skipDigits() {
	for d.pos < len(d.buf) && '0' <= d.buf[d.pos] && d.buf[d.pos] <= '9' {
		d.pos++
	}
}

// skipString consumes the string at d.pos (its opening quote), checking its
// syntax but not unescaping it. Invalid UTF-8 is not a syntax error.
func (d *decoder) skipString() error {
	i := d.pos + 1
	for i < len(d.buf) {
		c := d.buf[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return nil
		case c == '\\':
			if i+1 >= len(d.buf) {
				d.pos = len(d.buf)
				return d.errEOF()
			}
			switch d.buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(d.buf[i+2:]) < 0 {
					d.pos = i + 2
					return d.errBadHex()
				}
				i += 6
			default:
				d.pos = i + 1
				return d.errSyntax("in string escape code")
			}
		case c < 0x20:
			d.pos = i
			return d.errSyntax("in string literal")
		default:
			i++
		}
	}
	d.pos = len(d.buf)
	return d.errEOF()
}

// appendUnescaped appends to dst the value of the string whose contents
// start at d.buf[i] (just past the opening quote), and moves d.pos past the
// closing quote. It replaces invalid UTF-8 and unpaired surrogates with
// U+FFFD, exactly as encoding/json does.
//
// Bytes that stand for themselves (plain ASCII and valid UTF-8) are
// gathered into runs that are appended at once, at an escape, at invalid
// UTF-8 or at the closing quote.
func (d *decoder) appendUnescaped(dst []byte, i int) ([]byte, error) {
	b := d.buf
	run := i // start of the pending run of bytes that stand for themselves
	for {
		i = plainRun(b, i)
		if i >= len(b) {
			break
		}
		c := b[i]
		if c >= utf8.RuneSelf {
			if n := utf8SeqLen(b[i:]); n > 0 {
				i += n
				continue
			}
			dst = append(dst, b[run:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			run = i
			continue
		}
		dst = append(dst, b[run:i]...)
		if c == '"' {
			d.pos = i + 1
			return dst, nil
		}
		if c != '\\' {
			d.pos = i
			return dst, d.errSyntax("in string literal")
		}
		if i+1 >= len(b) {
			break
		}
		e := b[i+1]
		if v := escapedByte[e]; v != 0 {
			dst = append(dst, v)
			i += 2
			run = i
			continue
		}
		if e != 'u' {
			d.pos = i + 1
			return dst, d.errSyntax("in string escape code")
		}
		r := hex4(b[i+2:])
		if r < 0 {
			d.pos = i + 2
			return dst, d.errBadHex()
		}
		i += 6
		switch {
		case r < utf8.RuneSelf:
			dst = append(dst, byte(r)) // \u003c and the like
		case utf16.IsSurrogate(r):
			// A pair only if a second \u escape follows and completes
			// it; otherwise the first is replaced and what follows is
			// read on its own.
			r2 := rune(-1)
			if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
				r2 = hex4(b[i+2:])
			}
			if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
				r = p
				i += 6
			} else {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = utf8.AppendRune(dst, r)
		}
		run = i
	}
	d.pos = len(b)
	return dst, d.errEOF()
}

// escapedByte[e] is the byte that the two-byte escape \e stands for, or 0
// when e does not make one (\u escapes are longer).
var escapedByte = [256]byte{
	'"': '"', '\\': '\\', '/': '/',
	'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// hexDigit[c] is the value of hexadecimal digit c, or -1.
var hexDigit = func() (t [256]int32) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = int32(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = int32(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = int32(c - 'A' + 10)
		default:
			t[c] = -1
		}
	}
	return t
}()

// hex4 returns the value of the four hexadecimal digits that start b, or -1
// if b does not start with four of them.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	h0, h1, h2, h3 := hexDigit[b[0]], hexDigit[b[1]], hexDigit[b[2]], hexDigit[b[3]]
	if h0|h1|h2|h3 < 0 {
		return -1
	}
	return h0<<12 | h1<<8 | h2<<4 | h3
}

// utf8SeqLen returns the length of the valid UTF-8 encoding of one rune at
// the start of b, whose first byte is not ASCII, or 0 if it does not start
// with one (utf8.DecodeRune's RuneError of size 1). It is DecodeRune's
// validation without building the rune.
func utf8SeqLen(b []byte) int {
	c := b[0]
	switch {
	case c < 0xC2:
		return 0 // a continuation byte, or an overlong two-byte form
	case c < 0xE0:
		if len(b) >= 2 && b[1]&0xC0 == 0x80 {
			return 2
		}
	case c < 0xF0:
		if len(b) >= 3 && b[2]&0xC0 == 0x80 {
			lo, hi := byte(0x80), byte(0xBF)
			if c == 0xE0 {
				lo = 0xA0 // overlong
			} else if c == 0xED {
				hi = 0x9F // surrogates
			}
			if lo <= b[1] && b[1] <= hi {
				return 3
			}
		}
	case c < 0xF5:
		if len(b) >= 4 && b[2]&0xC0 == 0x80 && b[3]&0xC0 == 0x80 {
			lo, hi := byte(0x80), byte(0xBF)
			if c == 0xF0 {
				lo = 0x90 // overlong
			} else if c == 0xF4 {
				hi = 0x8F // beyond U+10FFFF
			}
			if lo <= b[1] && b[1] <= hi {
				return 4
			}
		}
	}
	return 0
}

func (d *decoder) errBadHex() error {
	return &decodeError{d.pos, "invalid \\u escape in string literal"}
}
