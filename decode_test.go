package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// The reference decoder: encoding/json, driven field by field so that names
// match case-sensitively and a repeated key replaces the earlier value. It
// is the oracle for decodeResponse in the table tests and the fuzz test.

var (
	responseFieldNames = []string{"action", "node", "prevNode"}
	nodeFieldNames     = []string{"key", "dir", "value", "nodes", "createdIndex", "modifiedIndex", "expiration", "ttl"}
)

// refReport records what makes plain encoding/json.Unmarshal legitimately
// differ from the reference decoder on a body.
type refReport struct {
	// foldVariant: a key of a decoded object equals one of its field
	// names under case folding but not exactly (plain encoding/json
	// matches it, we ignore it).
	foldVariant bool
	// duplicate: a field name occurs twice in one decoded object (plain
	// encoding/json merges the second node or nodes into the first).
	duplicate bool
}

func (r *refReport) check(ms []refMember, names []string) {
	seen := map[string]bool{}
	for _, m := range ms {
		for _, name := range names {
			switch {
			case m.name == name:
				if seen[name] {
					r.duplicate = true
				}
				seen[name] = true
			case strings.EqualFold(m.name, name):
				r.foldVariant = true
			}
		}
	}
}

type refMember struct {
	name  string
	value json.RawMessage
}

var errRefNotObject = errors.New("reference: not a JSON object")

// refMembers returns the members of the JSON object raw in order.
func refMembers(raw []byte) ([]refMember, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errRefNotObject
	}
	var ms []refMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		ms = append(ms, refMember{tok.(string), v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return ms, nil
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// refDecode decodes body with the reference decoder.
func refDecode(body []byte) (Response, refReport, error) {
	var res Response
	var rep refReport
	if !json.Valid(body) {
		return res, rep, errors.New("reference: invalid JSON")
	}
	if isNull(body) {
		return res, rep, nil
	}
	ms, err := refMembers(body)
	if err != nil {
		return res, rep, err
	}
	rep.check(ms, responseFieldNames)
	for _, m := range ms {
		switch m.name {
		case "action":
			err = json.Unmarshal(m.value, &res.Action)
		case "node":
			res.Node, err = refNode(m.value, &rep)
		case "prevNode":
			res.PrevNode, err = refNode(m.value, &rep)
		}
		if err != nil {
			return res, rep, err
		}
	}
	return res, rep, nil
}

func refNode(raw []byte, rep *refReport) (*Node, error) {
	if isNull(raw) {
		return nil, nil
	}
	ms, err := refMembers(raw)
	if err != nil {
		return nil, err
	}
	rep.check(ms, nodeFieldNames)
	n := new(Node)
	for _, m := range ms {
		switch m.name {
		case "key":
			err = json.Unmarshal(m.value, &n.Key)
		case "dir":
			err = json.Unmarshal(m.value, &n.Dir)
		case "value":
			err = json.Unmarshal(m.value, &n.Value)
		case "createdIndex":
			err = json.Unmarshal(m.value, &n.CreatedIndex)
		case "modifiedIndex":
			err = json.Unmarshal(m.value, &n.ModifiedIndex)
		case "ttl":
			err = json.Unmarshal(m.value, &n.TTL)
		case "expiration":
			var t *time.Time
			err = json.Unmarshal(m.value, &t)
			n.Expiration = t
		case "nodes":
			n.Nodes, err = refNodes(m.value, rep)
		}
		if err != nil {
			return nil, err
		}
	}
	return n, nil
}

func refNodes(raw []byte, rep *refReport) (Nodes, error) {
	if isNull(raw) {
		return nil, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	ns := make(Nodes, 0, len(elems))
	for _, e := range elems {
		n, err := refNode(e, rep)
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// checkDecode decodes body with decodeResponse and checks it against the
// reference decoder and, where they must agree, plain encoding/json.
func checkDecode(t *testing.T, body []byte) (Response, error) {
	t.Helper()
	var got Response
	err := decodeResponse(body, &got)
	want, rep, werr := refDecode(body)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decodeResponse(%q): error %v, reference error %v", body, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeResponse(%q):\n got %s\nwant %s", body, dump(got), dump(want))
	}
	if rep.foldVariant || rep.duplicate {
		return got, err
	}
	var plain Response
	perr := json.Unmarshal(body, &plain)
	if (err == nil) != (perr == nil) {
		t.Fatalf("decodeResponse(%q): error %v, encoding/json error %v", body, err, perr)
	}
	if err == nil && !reflect.DeepEqual(got, plain) {
		t.Fatalf("decodeResponse(%q):\n          got %s\nencoding/json %s", body, dump(got), dump(plain))
	}
	return got, err
}

// dump renders a Response, nodes and nil/empty distinctions included.
func dump(r Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Action:%q Node:", r.Action)
	dumpNode(&b, r.Node)
	b.WriteString(" PrevNode:")
	dumpNode(&b, r.PrevNode)
	b.WriteString("}")
	return b.String()
}

func dumpNode(b *strings.Builder, n *Node) {
	if n == nil {
		b.WriteString("nil")
		return
	}
	exp := "nil"
	if n.Expiration != nil {
		exp = n.Expiration.Format(time.RFC3339Nano) + "(" + n.Expiration.Location().String() + ")"
	}
	fmt.Fprintf(b, "{Key:%q Value:%q Dir:%v Created:%d Modified:%d TTL:%d Expiration:%s Nodes:",
		n.Key, n.Value, n.Dir, n.CreatedIndex, n.ModifiedIndex, n.TTL, exp)
	if n.Nodes == nil {
		b.WriteString("nil}")
		return
	}
	b.WriteString("[")
	for i, c := range n.Nodes {
		if i > 0 {
			b.WriteString(",")
		}
		dumpNode(b, c)
	}
	b.WriteString("]}")
}

const realRecursiveGet = `{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/a","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/d/t","value":"x","expiration":"2026-11-21T10:00:00.123456789Z","ttl":30,"modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}}`

func mustTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// TestDecodeResponseReal checks bodies in the format etcd 3.4 sends against
// hand-written expectations, as well as against the reference decoder.
func TestDecodeResponseReal(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Response
	}{
		{
			name: "get key",
			body: `{"action":"get","node":{"key":"/foo","value":"bar","modifiedIndex":7,"createdIndex":7}}`,
			want: Response{Action: "get", Node: &Node{Key: "/foo", Value: "bar", ModifiedIndex: 7, CreatedIndex: 7}},
		},
		{
			name: "recursive get",
			body: realRecursiveGet,
			want: Response{Action: "get", Node: &Node{Key: "/d", Dir: true, ModifiedIndex: 4, CreatedIndex: 4, Nodes: Nodes{
				{Key: "/d/a", Value: "1", ModifiedIndex: 5, CreatedIndex: 5},
				{Key: "/d/t", Value: "x", Expiration: mustTime("2026-11-21T10:00:00.123456789Z"), TTL: 30, ModifiedIndex: 6, CreatedIndex: 6},
			}}},
		},
		{
			name: "nested dirs",
			body: `{"action":"get","node":{"key":"/a","dir":true,"nodes":[{"key":"/a/b","dir":true,"nodes":[{"key":"/a/b/c","value":"{\"x\":1}","modifiedIndex":9,"createdIndex":9}],"modifiedIndex":8,"createdIndex":8},{"key":"/a/e","dir":true,"modifiedIndex":10,"createdIndex":10}],"modifiedIndex":3,"createdIndex":3}}`,
			want: Response{Action: "get", Node: &Node{Key: "/a", Dir: true, ModifiedIndex: 3, CreatedIndex: 3, Nodes: Nodes{
				{Key: "/a/b", Dir: true, ModifiedIndex: 8, CreatedIndex: 8, Nodes: Nodes{
					{Key: "/a/b/c", Value: `{"x":1}`, ModifiedIndex: 9, CreatedIndex: 9},
				}},
				{Key: "/a/e", Dir: true, ModifiedIndex: 10, CreatedIndex: 10},
			}}},
		},
		{
			name: "set with prevNode",
			body: `{"action":"set","node":{"key":"/foo","value":"new","modifiedIndex":12,"createdIndex":12},"prevNode":{"key":"/foo","value":"old","modifiedIndex":7,"createdIndex":7}}`,
			want: Response{Action: "set",
				Node:     &Node{Key: "/foo", Value: "new", ModifiedIndex: 12, CreatedIndex: 12},
				PrevNode: &Node{Key: "/foo", Value: "old", ModifiedIndex: 7, CreatedIndex: 7}},
		},
		{
			name: "delete",
			body: `{"action":"delete","node":{"key":"/foo","modifiedIndex":13,"createdIndex":12},"prevNode":{"key":"/foo","value":"new","modifiedIndex":12,"createdIndex":12}}`,
			want: Response{Action: "delete",
				Node:     &Node{Key: "/foo", ModifiedIndex: 13, CreatedIndex: 12},
				PrevNode: &Node{Key: "/foo", Value: "new", ModifiedIndex: 12, CreatedIndex: 12}},
		},
		{
			name: "set with ttl",
			body: `{"action":"set","node":{"key":"/tmp","value":"v","expiration":"2026-11-21T10:00:30.5+01:00","ttl":30,"modifiedIndex":14,"createdIndex":14}}`,
			want: Response{Action: "set", Node: &Node{Key: "/tmp", Value: "v", Expiration: mustTime("2026-11-21T10:00:30.5+01:00"), TTL: 30, ModifiedIndex: 14, CreatedIndex: 14}},
		},
		{
			name: "noValueOnSuccess",
			body: `{"action":"set"}`,
			want: Response{Action: "set"},
		},
		{
			name: "empty dir",
			body: `{"action":"get","node":{"key":"/empty","dir":true,"modifiedIndex":15,"createdIndex":15}}`,
			want: Response{Action: "get", Node: &Node{Key: "/empty", Dir: true, ModifiedIndex: 15, CreatedIndex: 15}},
		},
		{
			name: "expire event",
			body: `{"action":"expire","node":{"key":"/tmp","modifiedIndex":16,"createdIndex":14},"prevNode":{"key":"/tmp","value":"v","expiration":"2026-11-21T10:00:30Z","modifiedIndex":14,"createdIndex":14}}`,
			want: Response{Action: "expire",
				Node:     &Node{Key: "/tmp", ModifiedIndex: 16, CreatedIndex: 14},
				PrevNode: &Node{Key: "/tmp", Value: "v", Expiration: mustTime("2026-11-21T10:00:30Z"), ModifiedIndex: 14, CreatedIndex: 14}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkDecode(t, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

// TestDecodeResponseAgrees runs bodies that exercise the corners of JSON
// through decodeResponse and the reference decoder, which must agree.
func TestDecodeResponseAgrees(t *testing.T) {
	bodies := []string{
		// Escapes, Unicode, surrogates, invalid UTF-8.
		`{"node":{"key":"/a\"b\\c\/d\b\f\n\r\t","value":"\u0041\u00e9\u4e2d\u0000\u001f"}}`,
		`{"node":{"value":"caf\u00E9 ☃ 中文 😀"}}`,
		`{"node":{"value":"\ud83d\ude00 pair, \ud83d lone high, \ude00 lone low, \ud83d\u0041 high then BMP"}}`,
		`{"node":{"value":"\ud83d\ud83d\ude00 two highs then low"}}`,
		`{"node":{"value":"\uDBFF\uDFFF max, \uD800\uDC00 min, end high \uD800"}}`,
		"{\"node\":{\"value\":\"bad \xff byte, \xc3 cut, \xed\xa0\x80 utf8 surrogate, \xf4\x90\x80\x80 too big, \xe2\x82 cut3, ok \xef\xbf\xbd\"}}",
		"{\"node\":{\"value\":\"\xff\xfe\xfd\\n\xff\"}}",
		"{\"node\":{\"key\":\"\x7f del is fine\"}}",
		`{"node":{"value":"<a href=\"x\">&amp;</a> \u003c\u003e\u0026 \u2028\u2029"}}`,
		// Keys spelled with escapes still match.
		`{"\u0061ction":"get","n\u006fde":{"k\u0065y":"/k","\u0076alue":"v"}}`,
		"{\"node\":{\"key\":\"/k\",\"k\xffey\":1}}",
		// Unknown fields, with values of every kind.
		`{"action":"get","x":{"a":[1,2,{"b":null}],"c":"d"},"node":{"errorCode":100,"q":[[],{},[{}],"s",-0.5e-3,1E+2,true,false,null],"key":"/k"},"y":[]}`,
		`{"node":{"key":"/k","nodesX":{"key":"no"},"dirs":true,"ttlx":"s","valuE":1}}`,
		// Nulls.
		`null`,
		` null `,
		`{"action":null,"node":null,"prevNode":null}`,
		`{"node":{"key":null,"dir":null,"value":null,"nodes":null,"createdIndex":null,"modifiedIndex":null,"expiration":null,"ttl":null}}`,
		`{"node":{"nodes":[null,{"key":"/a"},null]}}`,
		`{"node":{"nodes":[]}}`,
		`{"node":{}}`,
		`{}`,
		// Duplicates: the last one wins; null keeps an earlier string.
		`{"action":"a","action":"b"}`,
		`{"node":{"key":"a","key":null}}`,
		`{"node":{"key":"/a","value":"1"},"node":{"key":"/b"}}`,
		`{"node":{"nodes":[{"key":"/a","value":"v"}],"nodes":[{"key":"/b"}]}}`,
		`{"node":{"nodes":[{"key":"/a"}],"nodes":null}}`,
		`{"node":{"expiration":"2026-01-01T00:00:00Z","expiration":null}}`,
		`{"node":{"dir":true,"dir":false,"ttl":5,"ttl":-5}}`,
		// Case variants: ignored by us, matched by plain encoding/json.
		`{"Action":"x","NODE":{"key":"/k"},"node":{"Key":"/K","KEY":"/K","Value":"V","Dir":true,"Nodes":[],"CreatedIndex":1,"TTL":2,"Expiration":"2026-01-01T00:00:00Z"}}`,
		"{\"node\":{\"\u212aey\":\"kelvin\",\"key\":\"/k\"}}",
		`{"prevnode":{"key":"/p"}}`,
		// Whitespace everywhere.
		" \t\r\n{ \t\r\n\"action\" \t\r\n: \t\r\n\"get\" \t\r\n, \"node\" : { \"key\" : \"/k\" , \"nodes\" : [ { } , null ] , \"ttl\" : -1 , \"dir\" : true } } \t\r\n",
		// Numbers at their limits.
		`{"node":{"createdIndex":18446744073709551615,"modifiedIndex":0,"ttl":9223372036854775807}}`,
		`{"node":{"ttl":-9223372036854775808}}`,
		`{"node":{"ttl":-0}}`,
		// Expiration forms accepted or refused by time.Time.UnmarshalJSON.
		`{"node":{"expiration":"2026-11-21T10:00:00Z"}}`,
		`{"node":{"expiration":"2026-11-21T10:00:00.000000001-07:30"}}`,
		`{"node":{"expiration":"2026-11-21t10:00:00z"}}`,
		`{"node":{"expiration":"2026-11-21T10:00:00"}}`,
		`{"node":{"expiration":"2026-11-21T10:00:00\u005a"}}`,
		`{"node":{"expiration":"2026-11-21T10:00:00+24:00"}}`,
		`{"node":{"expiration":"2026-11-21T10:00:00.Z"}}`,
		`{"node":{"expiration":""}}`,
	}
	for _, body := range bodies {
		checkDecode(t, []byte(body))
	}
}

// TestDecodeResponseCaseSensitive shows the one deliberate difference from
// plain encoding/json on well-formed, duplicate-free bodies.
func TestDecodeResponseCaseSensitive(t *testing.T) {
	body := []byte(`{"Action":"get","node":{"Key":"/k","value":"v","TTL":3}}`)
	var got Response
	if err := decodeResponse(body, &got); err != nil {
		t.Fatal(err)
	}
	want := Response{Node: &Node{Value: "v"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s, want %s", dump(got), dump(want))
	}
	var plain Response
	if err := json.Unmarshal(body, &plain); err != nil || plain.Node.Key != "/k" {
		t.Fatalf("encoding/json no longer matches names case-insensitively: %v %s", err, dump(plain))
	}
}

// TestDecodeResponseErrors lists malformed bodies and type mismatches, each
// of which must fail.
func TestDecodeResponseErrors(t *testing.T) {
	bodies := []string{
		``, ` `, `{`, `}`, `{"action"}`, `{"action":}`, `{"action":"get",}`, `{,}`,
		`{"action":"get"}x`, `{"action":"get"}{}`, `{"action":"get"} null`, `nul`, `nulll`, `null x`,
		`{"node":nul}`, `{"node":{"dir":tru}}`, `{"node":{"dir":fals}}`, `{"node":{"dir":True}}`,
		`{"x":tru}`, `{"x":nul}`, `{"x":fal}`, `{"x":-}`, `{"x":01}`, `{"x":1.}`, `{"x":.5}`, `{"x":1e}`,
		`{"x":1e+}`, `{"x":+1}`, `{"x":0x10}`, `{"x":[1,]}`, `{"x":[,1]}`, `{"x":[1 2]}`, `{"x":{"a" 1}}`,
		`{"x":{"a":1,}}`, `{"x":{1:1}}`, `{"x":'a'}`, `{"x":"\x"}`, `{"x":"\u12"}`, `{"x":"\u12g4"}`,
		"{\"x\":\"a\tb\"}", "{\"node\":{\"key\":\"a\nb\"}}", "{\"node\":{\"key\":\"\x00\"}}",
		"{\"k\x01\":1}", `{"node":{"key":"\q"}}`, `{"node":{"key":"\u00"}}`, `{"node":{"key":"\ud800\u00"}}`,
		`{"node":{"key":"abc`, `{"node":{"key":"abc\`, `{"node":{"key":"abc\u`,
		"\xef\xbb\xbf{}", `{"action":"get"}` + "\x00", "{\"action\":\"get\"}\v",
		// Top level not an object.
		`"str"`, `1`, `[]`, `[{"action":"get"}]`, `true`, `false`,
		// Wrong types.
		`{"action":1}`, `{"action":true}`, `{"action":{}}`, `{"action":[]}`,
		`{"node":"x"}`, `{"node":[]}`, `{"node":1}`, `{"node":true}`, `{"prevNode":"x"}`,
		`{"node":{"key":1}}`, `{"node":{"value":false}}`, `{"node":{"dir":"x"}}`, `{"node":{"dir":1}}`,
		`{"node":{"nodes":{}}}`, `{"node":{"nodes":"x"}}`, `{"node":{"nodes":[1]}}`, `{"node":{"nodes":["x"]}}`,
		`{"node":{"nodes":[[]]}}`, `{"node":{"nodes":[true]}}`, `{"node":{"nodes":[{"key":1}]}}`,
		`{"node":{"createdIndex":-1}}`, `{"node":{"createdIndex":-0}}`, `{"node":{"createdIndex":1.0}}`,
		`{"node":{"createdIndex":1e3}}`, `{"node":{"modifiedIndex":18446744073709551616}}`,
		`{"node":{"modifiedIndex":99999999999999999999}}`, `{"node":{"createdIndex":"1"}}`,
		`{"node":{"ttl":9223372036854775808}}`, `{"node":{"ttl":-9223372036854775809}}`,
		`{"node":{"ttl":1.5}}`, `{"node":{"ttl":1E2}}`, `{"node":{"ttl":"30"}}`, `{"node":{"ttl":true}}`,
		`{"node":{"expiration":1}}`, `{"node":{"expiration":{}}}`, `{"node":{"expiration":[]}}`,
		`{"node":{"expiration":true}}`, `{"node":{"expiration":"yesterday"}}`,
		// Found by fuzzing: a type error at the very end of the body.
		`{"node":{"createdIndex":-0`, `{"node":{"ttl":-99999999999999999999`, `{"node":{"ttl":99999999999999999999`,
	}
	for _, body := range bodies {
		if _, err := checkDecode(t, []byte(body)); err == nil {
			t.Errorf("decodeResponse(%q) succeeded", body)
		}
	}
}

// TestDecodeResponseTruncated cuts valid bodies at every byte offset; no
// proper prefix of a JSON object is valid.
func TestDecodeResponseTruncated(t *testing.T) {
	bodies := []string{
		realRecursiveGet,
		`{"action":"set","node":{"key":"/a\u00e9\ud83d\ude00","value":"x\"y","nodes":[null,{}],"ttl":-3,"expiration":"2026-11-21T10:00:00Z"},"x":[1.5e3,true,false,null,{"a":"b"}]}`,
	}
	for _, body := range bodies {
		for i := range len(body) {
			if _, err := checkDecode(t, []byte(body[:i])); err == nil {
				t.Errorf("decodeResponse(%q) succeeded", body[:i])
			}
		}
	}
}

// TestDecodeResponseDepth checks the nesting limit: as deep as encoding/json
// accepts, no deeper, and no stack exhaustion on hostile input.
func TestDecodeResponseDepth(t *testing.T) {
	nodes := func(levels int) []byte { // each level opens an object and an array
		var b bytes.Buffer
		b.WriteString(`{"node":{"nodes":`)
		for range levels {
			b.WriteString(`[{"nodes":`)
		}
		b.WriteString(`[]`)
		for range levels {
			b.WriteString(`}]`)
		}
		b.WriteString(`}}`)
		return b.Bytes()
	}
	unknown := func(levels int) []byte {
		return []byte(`{"x":` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `}`)
	}
	tests := []struct {
		name string
		body []byte
		ok   bool
	}{
		{"nodes at limit", nodes(4998), true},    // 2 + 2*4998 + 1 = 9999 levels
		{"nodes past limit", nodes(4999), false}, // 10001 levels
		{"nodes hostile", nodes(100000), false},
		{"unknown at limit", unknown(9999), true}, // with the top object, 10000
		{"unknown past limit", unknown(10000), false},
		{"unknown hostile", unknown(100000), false},
		{"unknown objects hostile", []byte(`{"x":` + strings.Repeat(`{"a":`, 100000)), false},
		{"arrays only", []byte(strings.Repeat("[", 100000)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkDecode(t, tt.body)
			if (err == nil) != tt.ok {
				t.Fatalf("error %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestDecodeResponseAliasing checks the zero-copy contract: plain strings
// view the body, unescaped ones do not.
func TestDecodeResponseAliasing(t *testing.T) {
	body := []byte(`{"action":"get","node":{"key":"/plain","value":"esc\naped"}}`)
	var res Response
	if err := decodeResponse(body, &res); err != nil {
		t.Fatal(err)
	}
	within := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		b := uintptr(unsafe.Pointer(&body[0]))
		return b <= p && p < b+uintptr(len(body))
	}
	if !within(res.Action) || !within(res.Node.Key) {
		t.Errorf("plain strings were copied")
	}
	if within(res.Node.Value) || res.Node.Value != "esc\naped" {
		t.Errorf("escaped string %q aliases the body", res.Node.Value)
	}
}

// TestDecodeResponseNodesCapacity checks that appending to one decoded Nodes
// slice cannot overwrite another's elements.
func TestDecodeResponseNodesCapacity(t *testing.T) {
	var res Response
	body := `{"node":{"nodes":[{"key":"/a","nodes":[{"key":"/a/1"}]},{"key":"/b","nodes":[{"key":"/b/1"}]}]}}`
	if err := decodeResponse([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	a, b := res.Node.Nodes[0], res.Node.Nodes[1]
	_ = append(a.Nodes, &Node{Key: "intruder"})
	_ = append(res.Node.Nodes, &Node{Key: "intruder"})
	if b.Nodes[0].Key != "/b/1" || len(res.Node.Nodes) != 2 {
		t.Fatalf("append overwrote a sibling: %s", dump(res))
	}
}

// TestDecodeResponseLeavesOtherFields checks that Index and ClusterID, and
// everything for a null body, are left alone.
func TestDecodeResponseLeavesOtherFields(t *testing.T) {
	for _, body := range []string{`null`, `{"action":"get","Index":5,"index":6,"ClusterID":"x","-":1}`} {
		res := Response{Index: 42, ClusterID: "c"}
		if err := decodeResponse([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		if res.Index != 42 || res.ClusterID != "c" {
			t.Errorf("%s: Index/ClusterID changed: %+v", body, res)
		}
	}
}

// TestDecodeResponseAllocs checks the allocation budget on a recursive tree:
// well under one allocation per node.
func TestDecodeResponseAllocs(t *testing.T) {
	const keys = 2000
	body := benchBody(keys)
	allocs := testing.AllocsPerRun(10, func() {
		var res Response
		if err := decodeResponse(body, &res); err != nil {
			t.Fatal(err)
		}
	})
	if perKey := allocs / float64(keys); perKey > 0.1 {
		t.Errorf("%.0f allocations for %d keys (%.3f per key), want at most 0.1 per key", allocs, keys, perKey)
	}

	// A get of one key, with a TTL: one Node slab and one time slab.
	body = []byte(`{"action":"get","node":{"key":"/t","value":"x","expiration":"2026-11-21T10:00:00Z","ttl":30,"modifiedIndex":6,"createdIndex":6}}`)
	allocs = testing.AllocsPerRun(10, func() {
		var res Response
		if err := decodeResponse(body, &res); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("%.0f allocations for one key, want at most 2", allocs)
	}
}
