package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	client "github.com/v2keys/client"
)

// failingKeys is a KeysAPI whose Set fails with an error that is not an
// etcd answer, as a timeout would: a real etcd cannot be made to fail the
// first write of an import and only that one on demand.
type failingKeys struct {
	client.KeysAPI
	err error
}

func (f failingKeys) Set(context.Context, string, string, *client.SetOptions) (*client.Response, error) {
	return nil, f.err
}

// TestImportEarlyDirFailureNamesLine checks that a failure to create a
// directory with a TTL before the keys (createExpiringDirs) is reported with
// the line of that directory in the file, not "line 0".
func TestImportEarlyDirFailureNamesLine(t *testing.T) {
	var stderr bytes.Buffer
	e := &env{ctx: context.Background(), stdout: &bytes.Buffer{}, stderr: &stderr, g: &globals{}}
	imp := &importer{
		e:      e,
		keys:   failingKeys{err: errors.New("request timed out")},
		base:   "/src",
		target: "/dst",
		prog:   newProgress("imported", &stderr),
		expDirs: map[string]dirExpiry{
			"/src/d": {at: time.Now().Add(time.Hour), line: 7},
		},
	}
	imp.createExpiringDirs()
	imp.prog.Done()
	if got := imp.nErrors.Load(); got != 1 {
		t.Fatalf("errors counted = %d, want 1", got)
	}
	if want := "line 7: /dst/d: request timed out"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
}
