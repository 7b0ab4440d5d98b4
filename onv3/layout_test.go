package onv3

import (
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	l := Layout{Prefix: "/p"}
	for _, c := range []struct {
		v3   string
		key  string
		kind Kind
	}{
		{"/p/a", "/a", File},
		{"/p/a/b", "/a/b", File},
		{"/p/a/", "/a", Dir},
		{"/p/a\x00", "/a", Record},
		{"/p/a/\x00x", "/a", Record},
		{"/p/", "", Foreign},
		{"/p", "", Foreign},
		{"/pa/b", "", Foreign},
		{"/q/a", "", Foreign},
	} {
		key, kind := l.Parse(c.v3)
		if key != c.key || kind != c.kind {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", c.v3, key, kind, c.key, c.kind)
		}
	}
	if s, e := l.Below("/foo"); s != "/p/foo/" || e != "/p/foo0" || "/p/foobar" >= s && "/p/foobar" < e {
		t.Errorf("Below(/foo) = [%q, %q) holds /foobar", s, e)
	}
	if got := strings.Join(Ancestors("/a/b/c"), ","); got != "/a,/a/b" {
		t.Errorf("Ancestors = %s", got)
	}
	for in, want := range map[string]string{"": "/", "/": "/", "a": "/a", "/a/": "/a", "//a//b/../c": "/a/c"} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLayoutParse: any v3 key parses without panic, and a file or marker
// maps back to itself.
func FuzzLayoutParse(f *testing.F) {
	for _, s := range []string{"/p/a", "/p/a/", "/p/a\x00", "/p/", "", "/p//", "/p/a/b/"} {
		f.Add("/p", s)
	}
	f.Fuzz(func(t *testing.T, prefix, v3key string) {
		l := Layout{Prefix: prefix}
		key, kind := l.Parse(v3key)
		switch kind {
		case File:
			if l.FileKey(key) != v3key {
				t.Fatalf("file %q of %q maps to %q", key, v3key, l.FileKey(key))
			}
		case Dir:
			if l.DirKey(key) != v3key {
				t.Fatalf("dir %q of %q maps to %q", key, v3key, l.DirKey(key))
			}
		}
	})
}
