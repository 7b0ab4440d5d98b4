package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// difference is a row of the table in README.md's "Differences from
// etcdctl v2" section.
type difference struct {
	id      string
	streams map[string]bool // "stdout", "stderr", "status": what differs; empty: not visible side by side
}

const differencesHeading = "## Differences from etcdctl v2"

// readDifferences parses the differences table of the README at path: the
// first table after differencesHeading, whose first column is a row's id
// in backquotes and whose second lists what differs (stdout, stderr,
// status, comma-separated), or "-" for a difference that one run of a
// command line cannot show.
func readDifferences(path string) (map[string]difference, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	diffs := map[string]difference{}
	sc := bufio.NewScanner(f)
	in, table, line := false, false, 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "## ") {
			if table {
				break
			}
			in = text == differencesHeading
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(text, "|") {
			if table {
				break // the end of the table
			}
			continue
		}
		if !table { // the header row
			if !strings.HasPrefix(text, "| id | differs in |") {
				return nil, fmt.Errorf("%s:%d: the differences table must start with \"| id | differs in |\"", path, line)
			}
			table = true
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), "|")
		if len(cells) < 3 {
			return nil, fmt.Errorf("%s:%d: a row of the differences table has %d cells", path, line, len(cells))
		}
		idCell := strings.TrimSpace(cells[0])
		if strings.Trim(idCell, "-: ") == "" {
			continue // the separator row
		}
		id := strings.Trim(idCell, "`")
		if id == idCell || id == "" || strings.ContainsAny(id, " `") {
			return nil, fmt.Errorf("%s:%d: the id %q must be one word in backquotes", path, line, idCell)
		}
		if _, dup := diffs[id]; dup {
			return nil, fmt.Errorf("%s:%d: id %q appears twice", path, line, id)
		}
		d := difference{id: id, streams: map[string]bool{}}
		if what := strings.TrimSpace(cells[1]); what != "-" {
			for _, s := range strings.Split(what, ",") {
				s = strings.TrimSpace(s)
				switch s {
				case "stdout", "stderr", "status":
					d.streams[s] = true
				default:
					return nil, fmt.Errorf("%s:%d: %q: what differs is stdout, stderr or status (comma-separated), or -", path, line, s)
				}
			}
		}
		diffs[id] = d
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(diffs) == 0 {
		return nil, fmt.Errorf("%s: no differences table under %q", path, differencesHeading)
	}
	return diffs, nil
}

// TestDifferencesTable checks the parser on the README itself (it needs no
// etcdctl) and on malformed tables.
func TestDifferencesTable(t *testing.T) {
	diffs, err := readDifferences("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := diffs["help-text"]; !ok || !d.streams["stdout"] || d.streams["status"] {
		t.Errorf("README row help-text: %+v, %v", d, ok)
	}
	bad := []struct{ name, text, want string }{
		{"no table", differencesHeading + "\n\nnothing\n", "no differences table"},
		{"wrong header", differencesHeading + "\n\n| a | b |\n|---|---|\n", "must start with"},
		{"bare id", differencesHeading + "\n\n| id | differs in | x |\n|---|---|---|\n| help | stdout | y |\n", "one word in backquotes"},
		{"bad stream", differencesHeading + "\n\n| id | differs in | x |\n|---|---|---|\n| `a` | stdin | y |\n", `"stdin"`},
		{"duplicate", differencesHeading + "\n\n| id | differs in | x |\n|---|---|---|\n| `a` | stdout | y |\n| `a` | - | y |\n", "twice"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			path := t.TempDir() + "/README.md"
			if err := os.WriteFile(path, []byte("# x\n\n"+c.text+"\n## Next\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := readDifferences(path); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
