package bodygen

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestWriteIsEtcdJSON: the body is valid JSON of the expected shape, with
// the requested number of keys, and every string is encoded as
// encoding/json encodes it.
func TestWriteIsEtcdJSON(t *testing.T) {
	type node struct {
		Key   string  `json:"key"`
		Value *string `json:"value,omitempty"`
		Dir   bool    `json:"dir,omitempty"`
		Nodes []*node `json:"nodes,omitempty"`
	}
	var buf bytes.Buffer
	if err := Write(&buf, 3000); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Action string `json:"action"`
		Node   *node  `json:"node"`
	}
	if err := json.Unmarshal(buf.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	keys := 0
	var walk func(n *node)
	walk = func(n *node) {
		if !n.Dir {
			keys++
			if keys > 300 { // checking the first ones is enough
				return
			}
			for _, s := range []string{n.Key, *n.Value} {
				enc, _ := json.Marshal(s)
				if !bytes.Contains(buf.Bytes(), enc) {
					t.Fatalf("%q is not encoded as encoding/json encodes it (%s)", s, enc)
				}
			}
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(res.Node)
	if keys != 3000 || res.Action != "get" {
		t.Fatalf("%d keys, action %q", keys, res.Action)
	}
	if per := buf.Len() / 3000; per < 180 || per > 300 {
		t.Errorf("%d bytes per key, want about 260", per)
	}
}
