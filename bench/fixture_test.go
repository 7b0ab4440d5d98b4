package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/bench/fixture"
	"github.com/v2keys/client/internal/etcdtest"
)

// wireNode decodes a node of a real etcd response, keeping which optional
// fields were present.
type wireNode struct {
	Key           string      `json:"key"`
	Value         *string     `json:"value"`
	Dir           bool        `json:"dir"`
	Nodes         []*wireNode `json:"nodes"`
	Expiration    *time.Time  `json:"expiration"`
	TTL           int64       `json:"ttl"`
	ModifiedIndex uint64      `json:"modifiedIndex"`
	CreatedIndex  uint64      `json:"createdIndex"`
}

type wireResponse struct {
	Action   string    `json:"action"`
	Node     *wireNode `json:"node"`
	PrevNode *wireNode `json:"prevNode"`
}

// etcdHTTP is a minimal v2 keys client for the fixture test, independent
// of every client under comparison.
type etcdHTTP struct {
	t    *testing.T
	base string
}

func (e etcdHTTP) do(method, key, query string, form url.Values) (*http.Response, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := e.base + "/v2/keys" + escapePath(key)
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("%s %s: %s: %s", method, key, resp.Status, b)
	}
	return resp, b
}

func escapePath(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// TestFixtureMatchesEtcd writes a generated tree into a real etcd through
// PUTs, reads it back with a sorted recursive GET and checks that the
// generator renders that tree to exactly etcd's bytes. Values, keys, the
// directory structure and the creation-order indexes must match what the
// generator predicted; expirations and TTLs, which depend on the server's
// clock, are taken from etcd's answer after checking they are plausible.
func TestFixtureMatchesEtcd(t *testing.T) {
	api := etcdHTTP{t: t, base: etcdtest.Start(t, 1).ClientURLs()[0]}

	// The first write gets the index after the one etcd reports now.
	resp, _ := api.do(http.MethodGet, "/", "", nil)
	start, err := strconv.ParseUint(resp.Header.Get("X-Etcd-Index"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tree := fixture.Generate(400, fixture.Options{Seed: 7, Now: now, TTLPercent: 10, FirstIndex: start + 1})

	written := 0
	tree.Walk(func(n *fixture.Node) {
		switch {
		case n.Dir && len(n.Nodes) == 0:
			api.do(http.MethodPut, n.Key, "dir=true", nil)
		case !n.Dir:
			form := url.Values{"value": {n.Value}}
			if n.TTL != 0 {
				form.Set("ttl", strconv.FormatInt(int64(n.Expiration.Sub(now)/time.Second), 10))
			}
			api.do(http.MethodPut, n.Key, "", form)
		default:
			return
		}
		written++
	})
	wrote := time.Now()

	resp, got := api.do(http.MethodGet, "/", "recursive=true&sorted=true", nil)
	var wr wireResponse
	if err := json.Unmarshal(got, &wr); err != nil {
		t.Fatalf("etcd body does not decode: %v", err)
	}
	if wr.Action != "get" || wr.Node == nil {
		t.Fatalf("unexpected etcd response: %.200s", got)
	}
	ttls := 0
	var align func(want *fixture.Node, have *wireNode)
	align = func(want *fixture.Node, have *wireNode) {
		if want.Key != have.Key || want.Dir != have.Dir {
			t.Fatalf("node %q (dir %v): etcd has %q (dir %v)", want.Key, want.Dir, have.Key, have.Dir)
		}
		if !want.Dir && (have.Value == nil || *have.Value != want.Value) {
			t.Fatalf("node %q: value %q, etcd has %v", want.Key, want.Value, have.Value)
		}
		if want.Key != "" && (want.CreatedIndex != have.CreatedIndex || want.ModifiedIndex != have.ModifiedIndex) {
			t.Errorf("node %q: generator predicted indexes %d/%d, etcd has %d/%d",
				want.Key, want.ModifiedIndex, want.CreatedIndex, have.ModifiedIndex, have.CreatedIndex)
		}
		if (want.TTL != 0) != (have.Expiration != nil) {
			t.Fatalf("node %q: generator TTL %d, etcd expiration %v", want.Key, want.TTL, have.Expiration)
		}
		if have.Expiration != nil {
			ttls++
			// etcd's expiration is its clock at the PUT plus the whole
			// seconds sent; the generator's adds a fraction of a second.
			lo := want.Expiration.Add(-time.Second)
			hi := want.Expiration.Add(wrote.Sub(now) + time.Second)
			if have.Expiration.Before(lo) || have.Expiration.After(hi) {
				t.Errorf("node %q: expiration %v outside [%v, %v]", want.Key, have.Expiration, lo, hi)
			}
			want.Expiration, want.TTL = *have.Expiration, have.TTL
		}
		want.CreatedIndex, want.ModifiedIndex = have.CreatedIndex, have.ModifiedIndex
		if len(want.Nodes) != len(have.Nodes) {
			t.Fatalf("node %q: %d children, etcd has %d", want.Key, len(want.Nodes), len(have.Nodes))
		}
		for i := range want.Nodes {
			align(want.Nodes[i], have.Nodes[i])
		}
	}
	align(tree.Root, wr.Node)
	if ttls == 0 {
		t.Fatal("tree has no TTL keys; the test would not cover expiration")
	}

	if idx := resp.Header.Get("X-Etcd-Index"); idx != strconv.FormatUint(tree.Index, 10) {
		t.Errorf("X-Etcd-Index %s, generator predicted %d", idx, tree.Index)
	}
	if want := tree.RenderGet(); !bytes.Equal(want, got) {
		t.Fatalf("rendered tree differs from etcd's body:\n%s", firstDiff(want, got))
	}
	t.Logf("%d keys, %d dirs, %d with TTL, %d writes, %d bytes identical", tree.Keys, tree.Dirs, ttls, written, len(got))

	checkHeaders(t, resp.Header)

	// The fake server must frame the body as etcd does (chunked when large).
	srv := httptest.NewServer(fixture.NewHandler(got, nil, nil, tree.Index))
	t.Cleanup(srv.Close)
	fake := etcdHTTP{t: t, base: srv.URL}
	fresp, fgot := fake.do(http.MethodGet, "/", "recursive=true&sorted=true", nil)
	if !bytes.Equal(fgot, got) {
		t.Error("fake server altered the body")
	}
	if fmt.Sprint(fresp.TransferEncoding) != fmt.Sprint(resp.TransferEncoding) {
		t.Errorf("transfer encoding: etcd %v, fake server %v", resp.TransferEncoding, fresp.TransferEncoding)
	}
}

// TestKeyBodiesMatchEtcd checks the one-key GET and overwriting-PUT bodies
// the fake server sends against etcd's.
func TestKeyBodiesMatchEtcd(t *testing.T) {
	api := etcdHTTP{t: t, base: etcdtest.Start(t, 1).ClientURLs()[0]}
	const key, value = "/bench/key", `{"url":"https://example.com/?a=1&b=<2>","name":"Grüße"}`
	api.do(http.MethodPut, key, "", url.Values{"value": {value}})
	_, gotGet := api.do(http.MethodGet, key, "", nil)
	resp, gotSet := api.do(http.MethodPut, key, "", url.Values{"value": {value}})
	var wr wireResponse
	if err := json.Unmarshal(gotSet, &wr); err != nil {
		t.Fatal(err)
	}
	wantGet, wantSet := fixture.KeyBodies(key, value, wr.Node.ModifiedIndex)
	if !bytes.Equal(wantGet, gotGet) {
		t.Errorf("GET body differs:\n%s", firstDiff(wantGet, gotGet))
	}
	if !bytes.Equal(wantSet, gotSet) {
		t.Errorf("PUT body differs:\n%s", firstDiff(wantSet, gotSet))
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("overwriting PUT: status %d, the fake server sends 200", resp.StatusCode)
	}
	checkHeaders(t, resp.Header)
}

// checkHeaders compares etcd's headers with the fake server's: the same
// names, and the same values except for the cluster-specific ones.
func checkHeaders(t *testing.T, etcd http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	fixture.NewHandler(nil, []byte("{}\n"), nil, 1).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/keys/x", nil))
	fake := rec.Result().Header
	for name := range etcd {
		switch name {
		case "Date", "Content-Length", "Transfer-Encoding":
			continue
		}
		if _, ok := fake[name]; !ok {
			t.Errorf("etcd sends header %s, the fake server does not", name)
			continue
		}
		switch name {
		case "X-Etcd-Index", "X-Raft-Index", "X-Raft-Term", "X-Etcd-Cluster-Id":
		default:
			if fake.Get(name) != etcd.Get(name) {
				t.Errorf("header %s: etcd %q, fake server %q", name, etcd.Get(name), fake.Get(name))
			}
		}
	}
}

// firstDiff describes where two bodies first differ.
func firstDiff(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(0, i-80)
	return fmt.Sprintf("first difference at byte %d (lengths %d and %d)\nrendered: %q\netcd:     %q",
		i, len(want), len(got), want[lo:min(len(want), i+80)], got[lo:min(len(got), i+80)])
}
