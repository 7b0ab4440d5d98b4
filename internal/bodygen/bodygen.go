// Package bodygen writes, as a stream, the body etcd 3.4 sends for a
// recursive GET of a large v2 keyspace, for the memory and throughput
// checks of the client's streaming read (Walk). It allocates almost nothing
// while it writes, so that a server using it in the same process does not
// disturb heap measurements of the client.
//
// The tree is deterministic for a given number of keys: directories nest up
// to four deep with 2 to 40 entries each; values are 20 to 200 bytes of
// plain text, JSON documents, URLs and UTF-8 text with characters the
// encoder escapes; one key in ten has a TTL. Fields come in etcd's order
// (key, value, dir, expiration, ttl, nodes, modifiedIndex, createdIndex), so
// a directory's indexes follow its children. About 260 bytes per key.
package bodygen

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"
)

// Write writes the JSON body of a recursive GET of "/bench" holding keys
// keys (plus the directories that hold them), followed by a newline as etcd
// sends it.
func Write(w io.Writer, keys int) error {
	g := &gen{
		w:     bufio.NewWriterSize(w, 32<<10),
		rng:   rand.New(rand.NewPCG(uint64(keys), 1)),
		left:  keys,
		index: 1000,
	}
	g.raw(`{"action":"get","node":{"key":"/bench","dir":true`)
	if keys > 0 {
		g.raw(`,"nodes":[`)
		for first := true; g.left > 0; first = false {
			if !first {
				g.raw(",")
			}
			g.dir("/bench", 1)
		}
		g.raw("]")
	}
	g.raw(`,"modifiedIndex":999,"createdIndex":999}}` + "\n")
	if g.err != nil {
		return g.err
	}
	return g.w.Flush()
}

type gen struct {
	w     *bufio.Writer
	err   error
	rng   *rand.Rand
	left  int    // keys still to write
	index uint64 // last etcd index used
	path  []byte // scratch: the key being written
	val   []byte // scratch: the value being written
	out   []byte // scratch: encoded output
}

func (g *gen) raw(s string) {
	if g.err == nil {
		_, g.err = g.w.WriteString(s)
	}
}

func (g *gen) bytes(b []byte) {
	if g.err == nil {
		_, g.err = g.w.Write(b)
	}
}

func (g *gen) nextIndex() uint64 {
	g.index += 1 + g.rng.Uint64N(3)
	return g.index
}

// dir writes a directory under parent holding at least one key.
func (g *gen) dir(parent string, depth int) {
	key := parent + "/dir" + strconv.Itoa(g.rng.IntN(1e6))
	created := g.nextIndex()
	g.path = append(g.path[:0], key...)
	g.out = appendString(append(g.out[:0], `{"key":`...), g.path)
	g.out = append(g.out, `,"dir":true,"nodes":[`...)
	g.bytes(g.out)
	entries := 2 + g.rng.IntN(39)
	for i := 0; i < entries && g.left > 0; i++ {
		if i > 0 {
			g.raw(",")
		}
		if depth < 4 && g.rng.IntN(8) == 0 {
			g.dir(key, depth+1)
			continue
		}
		g.key(key, i)
	}
	g.out = append(g.out[:0], `],"modifiedIndex":`...)
	g.out = strconv.AppendUint(g.out, created, 10)
	g.out = append(g.out, `,"createdIndex":`...)
	g.out = strconv.AppendUint(g.out, created, 10)
	g.out = append(g.out, '}')
	g.bytes(g.out)
}

var words = []string{"alpha", "bravo", "config", "service", "leader", "région", "données", "キー", "值", "ключ", "😀"}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

func (g *gen) key(parent string, i int) {
	g.left--
	g.path = append(g.path[:0], parent...)
	g.path = append(g.path, "/key-"...)
	if i < 1000 {
		g.path = append(g.path, '0')
	}
	if i < 100 {
		g.path = append(g.path, '0')
	}
	if i < 10 {
		g.path = append(g.path, '0')
	}
	g.path = strconv.AppendInt(g.path, int64(i), 10)
	g.path = append(g.path, '-')
	g.path = append(g.path, words[g.rng.IntN(5)]...)
	created := g.nextIndex()
	modified := created + g.rng.Uint64N(50)
	g.value(20 + g.rng.IntN(181))

	o := append(g.out[:0], `{"key":`...)
	o = appendString(o, g.path)
	o = append(o, `,"value":`...)
	o = appendString(o, g.val)
	if g.rng.IntN(10) == 0 {
		exp := time.Date(2026, 11, 21, 10, 0, 0, g.rng.IntN(1e9), time.UTC).Add(time.Duration(g.rng.IntN(3600)) * time.Second)
		o = append(o, `,"expiration":"`...)
		o = exp.AppendFormat(o, time.RFC3339Nano)
		o = append(o, `","ttl":`...)
		o = strconv.AppendInt(o, 1+g.rng.Int64N(3600), 10)
	}
	o = append(o, `,"modifiedIndex":`...)
	o = strconv.AppendUint(o, modified, 10)
	o = append(o, `,"createdIndex":`...)
	o = strconv.AppendUint(o, created, 10)
	o = append(o, '}')
	g.out = o
	g.bytes(o)
}

// value fills g.val with a value of about size bytes.
func (g *gen) value(size int) {
	v := g.val[:0]
	switch g.rng.IntN(4) {
	case 0: // JSON document: quotes to escape
		v = append(v, `{"name":"`...)
		for len(v) < size-20 {
			v = append(v, words[g.rng.IntN(len(words))]...)
			v = append(v, ' ')
		}
		v = append(v, `","port":`...)
		v = strconv.AppendInt(v, int64(1024+g.rng.IntN(60000)), 10)
		v = append(v, `,"tls":true}`...)
	case 1: // URL list: & < > escaped as \u0026 by the encoder
		for len(v) < size {
			v = append(v, "https://10.0."...)
			v = strconv.AppendInt(v, int64(g.rng.IntN(256)), 10)
			v = append(v, '.')
			v = strconv.AppendInt(v, int64(g.rng.IntN(256)), 10)
			v = append(v, ":2379/v2/keys?recursive=true&sorted=false,"...)
		}
	case 2: // UTF-8 text, sometimes with newlines and tabs
		for len(v) < size {
			v = append(v, words[5+g.rng.IntN(len(words)-5)]...)
			if g.rng.IntN(6) == 0 {
				v = append(v, "\n\t"...)
			} else {
				v = append(v, ' ')
			}
		}
	default: // plain ASCII token
		for len(v) < size {
			v = append(v, alphabet[g.rng.IntN(len(alphabet))])
		}
	}
	g.val = v
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json encodes it
// (HTML characters, control characters, U+2028 and U+2029 escaped).
func appendString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
