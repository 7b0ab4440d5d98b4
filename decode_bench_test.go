package client

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// etcdNode mirrors the node encoding of etcd 3.4's v2 store (NodeExtern):
// same fields, same order, same omitempty rules.
type etcdNode struct {
	Key           string      `json:"key,omitempty"`
	Value         *string     `json:"value,omitempty"`
	Dir           bool        `json:"dir,omitempty"`
	Expiration    *time.Time  `json:"expiration,omitempty"`
	TTL           int64       `json:"ttl,omitempty"`
	Nodes         []*etcdNode `json:"nodes,omitempty"`
	ModifiedIndex uint64      `json:"modifiedIndex,omitempty"`
	CreatedIndex  uint64      `json:"createdIndex,omitempty"`
}

type etcdResponse struct {
	Action string    `json:"action"`
	Node   *etcdNode `json:"node,omitempty"`
}

// benchBody returns the body etcd 3.4 would send for a recursive get of a
// tree of keys keys (plus the directories holding them), deterministic for
// a given size: directories nest up to four deep with 2 to 40 entries each;
// values are 20 to 200 bytes of plain text, JSON documents, URLs and
// UTF-8 text with characters the encoder escapes; one key in ten has a TTL.
func benchBody(keys int) []byte {
	g := benchGen{rng: rand.New(rand.NewPCG(uint64(keys), 1)), left: keys, index: 1000}
	root := &etcdNode{Key: "/bench", Dir: true, ModifiedIndex: 999, CreatedIndex: 999}
	for g.left > 0 {
		root.Nodes = append(root.Nodes, g.dir(root.Key, 1))
	}
	body, err := json.Marshal(etcdResponse{Action: "get", Node: root})
	if err != nil {
		panic(err)
	}
	return body
}

type benchGen struct {
	rng   *rand.Rand
	left  int    // keys still to generate
	index uint64 // next etcd index
}

func (g *benchGen) nextIndex() uint64 {
	g.index += 1 + g.rng.Uint64N(3)
	return g.index
}

func (g *benchGen) dir(parent string, depth int) *etcdNode {
	d := &etcdNode{Key: fmt.Sprintf("%s/dir%d", parent, g.rng.IntN(1e6)), Dir: true, CreatedIndex: g.nextIndex()}
	d.ModifiedIndex = d.CreatedIndex
	entries := 2 + g.rng.IntN(39)
	for i := 0; i < entries && g.left > 0; i++ {
		if depth < 4 && g.rng.IntN(8) == 0 {
			d.Nodes = append(d.Nodes, g.dir(d.Key, depth+1))
			continue
		}
		d.Nodes = append(d.Nodes, g.key(d.Key, i))
	}
	return d
}

var benchWords = []string{"alpha", "bravo", "config", "service", "leader", "région", "données", "キー", "值", "ключ", "😀"}

func (g *benchGen) key(parent string, i int) *etcdNode {
	g.left--
	n := &etcdNode{Key: fmt.Sprintf("%s/key-%04d-%s", parent, i, benchWords[g.rng.IntN(5)]), CreatedIndex: g.nextIndex()}
	n.ModifiedIndex = n.CreatedIndex + g.rng.Uint64N(50)
	v := g.value(20 + g.rng.IntN(181))
	n.Value = &v
	if g.rng.IntN(10) == 0 {
		exp := time.Date(2026, 11, 21, 10, 0, 0, g.rng.IntN(1e9), time.UTC).Add(time.Duration(g.rng.IntN(3600)) * time.Second)
		n.Expiration = &exp
		n.TTL = 1 + g.rng.Int64N(3600)
	}
	return n
}

// value returns a value of about size bytes.
func (g *benchGen) value(size int) string {
	var b strings.Builder
	switch g.rng.IntN(4) {
	case 0: // JSON document: quotes to escape
		b.WriteString(`{"name":"`)
		for b.Len() < size-20 {
			b.WriteString(benchWords[g.rng.IntN(len(benchWords))] + " ")
		}
		fmt.Fprintf(&b, `","port":%d,"tls":true}`, 1024+g.rng.IntN(60000))
	case 1: // URL list: & < > escaped as \u0026 by the encoder
		for b.Len() < size {
			fmt.Fprintf(&b, "https://10.0.%d.%d:2379/v2/keys?recursive=true&sorted=false,", g.rng.IntN(256), g.rng.IntN(256))
		}
	case 2: // UTF-8 text, sometimes with newlines and tabs
		for b.Len() < size {
			b.WriteString(benchWords[5+g.rng.IntN(len(benchWords)-5)])
			if g.rng.IntN(6) == 0 {
				b.WriteString("\n\t")
			} else {
				b.WriteByte(' ')
			}
		}
	default: // plain ASCII token
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
		for b.Len() < size {
			b.WriteByte(alphabet[g.rng.IntN(len(alphabet))])
		}
	}
	return b.String()
}

func BenchmarkDecodeResponse(b *testing.B) {
	for _, keys := range []int{1000, 10000, 100000} {
		body := benchBody(keys)
		decoders := []struct {
			name   string
			decode func([]byte, *Response) error
		}{
			{"v2keys", decodeResponse},
			{"encoding_json", func(body []byte, res *Response) error { return json.Unmarshal(body, res) }},
		}
		for _, dec := range decoders {
			b.Run(fmt.Sprintf("keys=%d/%s", keys, dec.name), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.ResetTimer()
				for range b.N {
					var res Response
					if err := dec.decode(body, &res); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(keys), "allocs/key")
			})
		}
	}
}
