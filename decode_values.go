package client

// The values of the keys schema (see decode_schema.go): strings, booleans,
// integers and times, each made whole in the window, then lexed.

import (
	"time"
	"unicode/utf8"
)

// nodeString decodes a node's Key or Value (field f) into *p. With the
// offload, a string that needs unescaping is handed to the worker, which
// stores its value in *p before the decode returns; a member repeated in
// one node (seen) first waits for the worker, so that the value handed
// over earlier does not land after this one.
func (d *decoder) nodeString(p *string, f int, seen *uint8) error {
	if d.offload == nil || d.buf[d.pos] != '"' {
		return d.stringField(p)
	}
	if bit := uint8(1) << (f & 7); *seen&bit == 0 {
		*seen |= bit
	} else {
		d.offload.wait()
	}
	start := d.pos + 1
	j := plainRun(d.buf, start)
	if j < len(d.buf) && d.buf[j] == '"' {
		d.pos = j + 1
		*p = d.keep(d.buf[start:j])
		return nil
	}
	end, s, long, err := d.stringEnd(j, true)
	switch {
	case err != nil:
		return err
	case long: // decoded past the window: nothing left to unescape
		*p = s
		return nil
	case end < 0: // the body ends within the string: let str report it
		return d.stringField(p)
	}
	start = d.pos + 1
	d.offload.add(p, d.buf[start:end], d.base+int64(start))
	d.pos = end
	return nil
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
		return d.lit("null")
	}
	return d.errType("string")
}

// str consumes the string at pos (its opening quote) and returns its
// value. A string without escapes, control characters or invalid UTF-8
// stands for itself (see keep); any other is unescaped into the string
// block.
func (d *decoder) str() (string, error) {
	start := d.pos + 1
	i := plainRun(d.buf, start)
	if i < len(d.buf) && d.buf[i] == '"' {
		// The common case, in one pass: plain ASCII, whole in the window.
		d.pos = i + 1
		return d.keep(d.buf[start:i]), nil
	}
	need := 0
	if d.r != nil {
		plain := i - start
		end, s, long, err := d.stringEnd(i, true)
		if err != nil || long {
			return s, err
		}
		start = d.pos + 1
		i = start + plain
		if end >= 0 {
			need = end - start
		}
	}
	// Valid UTF-8 without escapes stands for itself too.
	for i < len(d.buf) {
		c := d.buf[i]
		if c == '"' {
			d.pos = i + 1
			return d.keep(d.buf[start:i]), nil
		}
		if c < utf8.RuneSelf {
			break // escape or control character
		}
		n := utf8SeqLen(d.buf[i:])
		if n == 0 {
			break // invalid UTF-8, to be replaced
		}
		i = plainRun(d.buf, i+n)
	}
	// Reserve room for the common case, in which the value is no longer
	// than its escaped form; rarer growth (invalid UTF-8 becomes 3 bytes)
	// lets append move to a new array, leaving earlier strings untouched.
	d.reserve(max(need, i-start) + 16)
	from := len(d.strs)
	d.strs = append(d.strs, d.buf[start:i]...)
	var err error
	d.strs, err = d.appendUnescaped(d.strs, i)
	if err != nil {
		return "", err
	}
	return blockString(d.strs[from:]), nil
}

// boolField decodes true, false, or null (no change) into *p.
func (d *decoder) boolField(p *bool) error {
	switch d.buf[d.pos] {
	case 't':
		*p = true
		return d.lit("true")
	case 'f':
		*p = false
		return d.lit("false")
	case 'n':
		return d.lit("null")
	}
	return d.errType("bool")
}

// integerWindow is how many bytes the lexer needs to decide an integer
// field: 20 digits at most before it fails on overflow, a sign, and the
// byte after the digits (a '.' or an exponent makes it fail too). With as
// many in the window the token need not be made whole first.
const integerWindow = 24

// uintField decodes a non-negative integer that fits uint64, or null (no
// change), into *p.
func (d *decoder) uintField(p *uint64) error {
	start, null, neg, mag, err := d.integerField()
	switch {
	case null || err != nil:
		return err
	case neg: // even -0, which strconv.ParseUint and so encoding/json reject
		d.pos = start
		return d.errType("uint64")
	}
	*p = mag
	return nil
}

// intField decodes an integer that fits int64, or null (no change), into *p.
func (d *decoder) intField(p *int64) error {
	start, null, neg, mag, err := d.integerField()
	switch {
	case null || err != nil:
		return err
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

// integerField consumes null, or an integer (see decoder.integer) made
// whole in the window first when it might not be; start is where the
// integer begins in the window.
func (d *decoder) integerField() (start int, null, neg bool, mag uint64, err error) {
	if d.buf[d.pos] == 'n' {
		return d.pos, true, false, 0, d.lit("null")
	}
	if d.r != nil && len(d.buf)-d.pos < integerWindow {
		if err := d.wholeNumber(); err != nil {
			return d.pos, false, false, 0, err
		}
	}
	start = d.pos
	neg, mag, err = d.integer()
	return start, false, neg, mag, err
}

// timeField decodes an RFC 3339 string, or null (which sets nil), into *p.
// Like encoding/json, it hands the raw quoted bytes, escapes and all, to
// time.Time.UnmarshalJSON, so exactly the same strings are accepted.
func (d *decoder) timeField(p **time.Time) error {
	switch d.buf[d.pos] {
	case '"':
		if _, err := d.wholeString(); err != nil {
			return err
		}
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
		return d.lit("null")
	}
	return d.errType("time.Time")
}
