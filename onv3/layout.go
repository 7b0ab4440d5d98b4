package onv3

import (
	"errors"
	"path"
	"strings"
)

// Layout maps the v2 keyspace onto v3 keys under one prefix. It is the one
// description of the mapping, shared by the KeysAPI of this package and by
// `v2keys migrate` (and its --verify):
//
//   - a file K (a cleaned v2 path such as "/a/b") is the v3 key Prefix+K,
//     its value byte for byte;
//   - a directory D (other than the root, which always exists and has no
//     key) is the marker key Prefix+D+"/" with an empty value; v2 keys never
//     end in "/", so a marker cannot collide with a file;
//   - a directory exists only while its marker does: keys below a missing
//     marker are orphans (what a directory's expiry leaves behind) and are
//     invisible;
//   - the action record of a write to K is Prefix+K+"\x00", a short-lived
//     key holding the v2 action name; v2 keys cannot contain NUL, so records
//     never collide with files or markers and are left out of listings.
//
// A subtree K is the key Prefix+K plus the range starting with
// Prefix+K+"/": the prefix always ends at a path boundary, so /foo never
// touches /foobar.
type Layout struct {
	// Prefix is prepended to every v2 key; it may be empty. It is used as
	// given (a trailing "/" is part of it).
	Prefix string
}

// errNUL refuses keys that the layout cannot represent.
var errNUL = errors.New("onv3: a key must not contain NUL (the layout uses it for action records)")

// Canonical returns the v2 key as the v2 server stores it: rooted, cleaned,
// with no trailing slash ("" and "/" are the root).
func Canonical(key string) string {
	return path.Clean("/" + key)
}

// FileKey is the v3 key of the v2 file key (canonical).
func (l Layout) FileKey(key string) string { return l.Prefix + key }

// DirKey is the v3 marker key of the v2 directory key (canonical, not the
// root).
func (l Layout) DirKey(key string) string { return l.Prefix + key + "/" }

// RecordKey is the v3 key of the action record of a write to key.
func (l Layout) RecordKey(key string) string { return l.Prefix + key + "\x00" }

// Below returns the v3 range [start, end) holding everything below the v2
// directory key (its marker, descendants, and their records). For the root
// it is every key of the layout.
func (l Layout) Below(key string) (start, end string) {
	if key == "/" {
		return l.Prefix + "/", l.Prefix + "0"
	}
	return l.Prefix + key + "/", l.Prefix + key + "0" // "0" is the byte after "/"
}

// Kind tells what a v3 key of the layout stands for.
type Kind int

// Kinds of v3 keys in the layout.
const (
	// Foreign is a key outside the layout (not under Prefix+"/").
	Foreign Kind = iota
	// File is a v2 file.
	File
	// Dir is a v2 directory marker.
	Dir
	// Record is an action record or another internal key.
	Record
)

// Parse tells what the v3 key is and returns the v2 key it belongs to.
func (l Layout) Parse(v3key string) (v2key string, kind Kind) {
	if len(v3key) <= len(l.Prefix) || v3key[len(l.Prefix)] != '/' || !strings.HasPrefix(v3key, l.Prefix) {
		return "", Foreign
	}
	k := v3key[len(l.Prefix):]
	if i := strings.IndexByte(k, 0); i >= 0 {
		return strings.TrimSuffix(k[:i], "/"), Record
	}
	if strings.HasSuffix(k, "/") {
		if k == "/" {
			return "", Foreign // the root has no marker
		}
		return k[:len(k)-1], Dir
	}
	return k, File
}

// Ancestors lists the directories above the canonical key, outermost first,
// without the root: "/a/b/c" gives "/a", "/a/b".
func Ancestors(key string) []string {
	var out []string
	for i := 1; i < len(key); i++ {
		if key[i] == '/' {
			out = append(out, key[:i])
		}
	}
	return out
}

// Hidden reports whether the key's last element starts with "_": v2 leaves
// such nodes out of listings but returns them when asked for directly.
func Hidden(key string) bool {
	return strings.HasPrefix(path.Base(key), "_")
}
