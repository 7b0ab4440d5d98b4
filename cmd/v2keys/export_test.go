package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// fill writes n keys under p: 100 directories of keys, every 10th key
// with a TTL, every 50th directory with a TTL, and a few empty dirs.
func fill(t *testing.T, k client.KeysAPI, p string, n int) {
	t.Helper()
	ctx := context.Background()
	for d := 0; d < 100; d++ {
		opts := &client.SetOptions{Dir: true}
		if d%50 == 0 {
			opts.TTL = 300 * time.Second
		}
		if _, err := k.Set(ctx, fmt.Sprintf("%s/d%02d", p, d), "", opts); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []string{"/empty", "/d01/empty"} {
		if _, err := k.Set(ctx, p+e, "", &client.SetOptions{Dir: true}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				opts := &client.SetOptions{}
				if i%10 == 0 {
					opts.TTL = 600 * time.Second
				}
				val := fmt.Sprintf("value %d \"quoted\" ünï\n", i)
				if i%97 == 0 {
					val = ""
				}
				if _, err := k.Set(ctx, fmt.Sprintf("%s/d%02d/k%05d", p, i%100, i), val, opts); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// flatNode is a node of a tree relative to its root, for comparison.
type flatNode struct {
	dir   bool
	value string
	exp   int64 // expiration, unix seconds; 0 for none
}

func flatten(t *testing.T, k client.KeysAPI, root string) map[string]flatNode {
	t.Helper()
	resp, err := k.Get(context.Background(), root, &client.GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]flatNode{}
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		var exp int64
		if n.Expiration != nil {
			exp = n.Expiration.Unix()
		}
		out[strings.TrimPrefix(n.Key, root)] = flatNode{n.Dir, n.Value, exp}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	return out
}

// sameTree compares two flattened trees; expiration times may differ by
// tolerance seconds.
func sameTree(t *testing.T, want, got map[string]flatNode, tolerance int64) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("tree has %d nodes, want %d", len(got), len(want))
	}
	bad := 0
	for key, w := range want {
		g, ok := got[key]
		d := g.exp - w.exp
		if !ok || g.dir != w.dir || g.value != w.value || d > tolerance || d < -tolerance || (w.exp == 0) != (g.exp == 0) {
			if bad++; bad <= 5 {
				t.Errorf("node %q: got %+v (present %v), want %+v", key, g, ok, w)
			}
		}
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	cl, err := client.New(client.Config{Endpoints: []string{etcdtest.Shared(t).ClientURL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.(interface{ Close() error }).Close()
	k := client.NewKeysAPI(cl)
	ep := etcdtest.Shared(t).ClientURL()
	p := etcdtest.UniquePrefix(t)
	src, dst := p+"/src", p+"/dst"
	fill(t, k, src, 10000)
	want := flatten(t, k, src)

	file := filepath.Join(t.TempDir(), "dump.jsonl")
	start := time.Now()
	r := v2keys(t, ep, 0, "export", src, file)
	t.Logf("export of %d nodes: %v", len(want), time.Since(start))
	if !strings.Contains(r.stderr, fmt.Sprintf("exported %d nodes of %s", len(want), src)) {
		t.Errorf("export printed %q", r.stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	// Post-order (version 2): the exported directory's line comes last.
	if len(lines) != len(want)+2 || !strings.HasPrefix(lines[0], `{"format":"v2keys-export","version":2,"prefix":"`+src+`","index":`) ||
		lines[len(lines)-2] != `{"key":"`+src+`","dir":true}` || lines[len(lines)-1] != fmt.Sprintf(`{"end":true,"nodes":%d}`, len(want)) {
		t.Fatalf("export file: %d lines, starting %q, ending %q, %q", len(lines), lines[0], lines[len(lines)-2], lines[len(lines)-1])
	}

	start = time.Now()
	r = v2keys(t, ep, 0, "import", file, dst)
	t.Logf("import: %v", time.Since(start))
	dirs := 100 + 2 + 1
	summary := fmt.Sprintf("imported %d keys and %d dirs into %s; skipped 0 expired; 0 errors\n", 10000, dirs, dst)
	if r.stdout != summary {
		t.Errorf("import printed %q, want %q", r.stdout, summary)
	}
	sameTree(t, want, flatten(t, k, dst), 3)

	// A second run converges to the same state: changed, removed and
	// re-TTLed nodes are restored; extra nodes are left alone.
	ctx := context.Background()
	k.Set(ctx, dst+"/d03/k00003", "changed", nil)
	k.Delete(ctx, dst+"/d04/k00004", nil)
	k.Set(ctx, dst+"/d05/k00005", "x", &client.SetOptions{TTL: time.Hour})
	if version := etcdtest.Shared(t).Version(); strings.HasPrefix(version, "3.5.") {
		// etcd 3.5 fails every update of a directory with a 500 "Raft
		// Internal Error" (etcd-io/etcd#13589; README, Compatibility), so
		// the TTL of a directory that exists (d00 and d50 here) cannot be
		// set again: import reports those two and restores the rest.
		r := v2keys(t, ep, ExitServerError, "import", file, dst)
		if want := fmt.Sprintf("imported %d keys and %d dirs into %s; skipped 0 expired; 2 errors\n", 10000, dirs-2, dst); r.stdout != want || !strings.Contains(r.stderr, dst+"/d00: ") || !strings.Contains(r.stderr, dst+"/d50: ") {
			t.Errorf("second import on etcd %s printed %q %q, want %q and errors for d00 and d50", version, r.stdout, r.stderr, want)
		}
	} else {
		k.Set(ctx, dst+"/d00", "", &client.SetOptions{Dir: true, PrevExist: client.PrevExist}) // drops its TTL
		if r := v2keys(t, ep, 0, "import", file, dst); r.stdout != summary {
			t.Errorf("second import printed %q", r.stdout)
		}
		sameTree(t, want, flatten(t, k, dst), 3)
	}

	// Export to stdout and import from stdin, into the original prefix of
	// a copy.
	out := v2keys(t, ep, 0, "export", dst+"/d07", "-").stdout
	if r := runCmd(t, out, "--endpoints", ep, "import", "-", p+"/piped"); r.code != 0 || !strings.HasPrefix(r.stdout, "imported 100 keys and 1 dirs into "+p+"/piped;") {
		t.Errorf("import from stdin: %+v", r)
	}
	sameTree(t, flatten(t, k, src+"/d07"), flatten(t, k, p+"/piped"), 3)
}

// TestImportExpired: expired nodes are skipped and counted, an expired
// directory with its subtree; remaining TTLs come from the expiration.
func TestImportExpired(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	p := etcdtest.UniquePrefix(t)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	soon := time.Now().Add(100 * time.Second).UTC().Format(time.RFC3339Nano)
	file := writeFile(t, `{"format":"v2keys-export","version":1,"prefix":"/src","index":1,"clusterID":"x","time":"2020-01-01T00:00:00Z"}
{"key":"/src","dir":true}
{"key":"/src/a","value":"a"}
{"key":"/src/gone","value":"g","ttl":5,"expiration":"`+past+`"}
{"key":"/src/gonedir","dir":true,"ttl":5,"expiration":"`+past+`"}
{"key":"/src/gonedir/x","value":"x"}
{"key":"/src/soon","value":"s","ttl":1000,"expiration":"`+soon+`"}
{"end":true,"nodes":6}
`)
	r := v2keys(t, ep, 0, "import", file, p)
	if r.stdout != "imported 2 keys and 1 dirs into "+p+"; skipped 3 expired; 0 errors\n" {
		t.Errorf("import printed %q", r.stdout)
	}
	ttl := v2keys(t, ep, 0, "-o", "extended", "get", p+"/soon").stdout
	if !strings.Contains(ttl, "TTL: 100\n") && !strings.Contains(ttl, "TTL: 99\n") {
		t.Errorf("imported TTL: %q", ttl)
	}
	if r := v2keys(t, ep, 0, "ls", "--sort", p); r.stdout != p+"/a\n"+p+"/soon\n" {
		t.Errorf("ls after import printed %q", r.stdout)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestImportMalformed: a malformed file is reported with its line number
// and writes nothing, however late the fault.
func TestImportMalformed(t *testing.T) {
	ep := etcdtest.Shared(t).ClientURL()
	const header = `{"format":"v2keys-export","version":1,"prefix":"/src","index":1,"clusterID":"x","time":"2020-01-01T00:00:00Z"}` + "\n"
	const header2 = `{"format":"v2keys-export","version":2,"prefix":"/src","index":1,"clusterID":"x","time":"2020-01-01T00:00:00Z"}` + "\n"
	const good = `{"key":"/src","dir":true}` + "\n" + `{"key":"/src/a","value":"a"}` + "\n"
	cases := []struct {
		name, content, want string
	}{
		{"empty", "", "empty file"},
		{"not json", "hello\n", "line 1: not a JSON object"},
		{"other format", `{"format":"tar"}` + "\n", "line 1: not a v2keys export file"},
		{"future version", `{"format":"v2keys-export","version":9,"prefix":"/"}` + "\n", "line 1: export format version 9"},
		{"truncated", header + good, "line 3: file ends without its end line"},
		{"bad json late", header + good + `{"key":"/src/b","value":` + "\n" + `{"end":true,"nodes":3}` + "\n", "line 4: not a JSON object"},
		{"wrong count", header + good + `{"end":true,"nodes":5}` + "\n", "line 4: end line counts 5 nodes"},
		{"outside prefix", header + good + `{"key":"/other","value":"x"}` + "\n" + `{"end":true,"nodes":3}` + "\n", "line 4: /other is outside the exported prefix"},
		{"duplicate", header + good + `{"key":"/src/a","value":"b"}` + "\n" + `{"end":true,"nodes":3}` + "\n", "line 4: /src/a does not sort after its sibling"},
		{"orphan", header + good + `{"key":"/src/nodir/x","value":"b"}` + "\n" + `{"end":true,"nodes":3}` + "\n", "line 4: /src/nodir/x is not inside the directory before it"},
		{"dir with value", header + `{"key":"/src","dir":true,"value":"v"}` + "\n", "line 2: directory /src has a value"},
		{"key without value", header + `{"key":"/src","dir":true}` + "\n" + `{"key":"/src/a"}` + "\n", `line 3: key /src/a has no "value"`},
		{"unclean key", header + `{"key":"/src","dir":true}` + "\n" + `{"key":"/src//a","value":"x"}` + "\n", `line 3: bad key "/src//a"`},
		{"v2 directory line missing", header2 + `{"key":"/src/d/a","value":"a"}` + "\n" + `{"key":"/src/e","value":"e"}` + "\n", "line 3: /src/e comes after nodes of directory /src/d but before its line"},
		{"v2 root line missing", header2 + `{"key":"/src/a","value":"a"}` + "\n" + `{"end":true,"nodes":1}` + "\n", "line 3: end line before the line of directory /src"},
		{"v2 key with children", header2 + `{"key":"/src/a/b","value":"a"}` + "\n" + `{"key":"/src/a","value":"x"}` + "\n", "line 3: /src/a has nodes under it but is not a directory"},
		{"v2 out of order", header2 + `{"key":"/src/b","value":"a"}` + "\n" + `{"key":"/src/a","value":"x"}` + "\n", "line 3: /src/a does not sort after its sibling /src/b"},
		{"v2 after root", header2 + `{"key":"/src","dir":true}` + "\n" + `{"key":"/src/a","value":"x"}` + "\n", "line 3: /src/a follows the line of the exported key /src"},
		{"after end", header + good + `{"end":true,"nodes":2}` + "\n" + `{"key":"/src/z","value":"x"}` + "\n", "line 5: data after the end line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := etcdtest.UniquePrefix(t)
			r := v2keys(t, ep, 1, "import", writeFile(t, c.content), p)
			if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "nothing was imported") {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, c.want)
			}
			v2keys(t, ep, 4, "ls", p) // nothing written
		})
	}
	v2keys(t, ep, 1, "import", filepath.Join(t.TempDir(), "missing.jsonl"))
}
