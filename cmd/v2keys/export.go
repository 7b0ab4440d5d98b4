package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/v2keys/client"
)

// cmdExport writes a consistent snapshot of a subtree to a file (or to
// stdout for "-"). The snapshot is one recursive, sorted, quorum read,
// decoded and written as it arrives, so every node in the file is as of
// the header's index and memory does not grow with the subtree. A file is written
// under a temporary name and renamed when complete: an interrupted export
// leaves no partial file behind.
func cmdExport(e *env, args []string) int {
	if len(args) != 2 {
		return e.fail(ExitBadArgs, errors.New("key and output file (or - for stdout) required"))
	}
	key, dest := args[0], args[1]
	if key == "" || key[0] != '/' {
		key = "/" + key
	}
	key = canonicalKey(key)

	cl, code := e.newClient(true)
	if cl == nil {
		return code
	}
	// The snapshot is read as it arrives (OpenSnapshot), never held whole:
	// memory stays bounded however large the subtree. The nodes come in
	// post-order, which is the order of the file (format version 2).
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	snap, err := client.OpenSnapshot(ctx, cl, key, &client.WalkOptions{Sort: true, Quorum: true})
	if err != nil {
		return e.fail(ExitServerError, err)
	}
	defer snap.Close()
	snapTime := time.Now().UTC()

	out, commit, abort, err := openOutput(dest, e.stdout)
	if err != nil {
		return e.fail(ExitBadArgs, err)
	}
	prog := newProgress("exported", e.stderr)
	w := &dumpWriter{w: bufio.NewWriterSize(out, 1<<16), prog: prog}
	w.put(dumpHeader{Format: dumpFormat, Version: dumpVersion, Prefix: key, Index: snap.Index, ClusterID: snap.ClusterID, Time: snapTime})
	for n, err := range snap.All() {
		if err != nil {
			if w.err == nil {
				w.err = fmt.Errorf("reading %s: %w", key, err)
			}
			break
		}
		if key == "/" && (n.Key == "" || n.Key == "/") {
			continue // the keyspace root has no line
		}
		w.node(n)
		if w.err != nil {
			break
		}
	}
	w.put(dumpTrailer{End: true, Nodes: w.nodes})
	if w.err == nil {
		w.err = w.w.Flush()
	}
	prog.Done()
	if w.err == nil {
		w.err = commit()
	}
	if w.err != nil {
		abort()
		return e.fail(ExitServerError, fmt.Errorf("writing %s: %w", dest, w.err))
	}
	if dest != "-" {
		fmt.Fprintf(e.stderr, "exported %d nodes of %s at index %d to %s\n", w.nodes, key, snap.Index, dest)
	}
	return ExitSuccess
}

// canonicalKey cleans a key path the way the server does.
func canonicalKey(k string) string {
	k = filepath.ToSlash(filepath.Clean(k))
	if k == "." {
		return "/"
	}
	return k
}

// openOutput opens the export destination: stdout for "-", else a
// temporary file beside dest that commit renames to dest and abort removes.
func openOutput(dest string, stdout io.Writer) (w io.Writer, commit func() error, abort func(), err error) {
	if dest == "-" {
		return stdout, func() error { return nil }, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return nil, nil, nil, err
	}
	commit = func() error {
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(f.Name(), dest)
	}
	abort = func() {
		f.Close()
		os.Remove(f.Name())
	}
	return f, commit, abort, nil
}

// dumpWriter writes export lines, keeping the first error.
type dumpWriter struct {
	w     *bufio.Writer
	prog  *progress
	nodes int64
	err   error
}

func (d *dumpWriter) put(v any) int {
	if d.err != nil {
		return 0
	}
	b, err := json.Marshal(v)
	if err != nil {
		d.err = err
		return 0
	}
	b = append(b, '\n')
	_, d.err = d.w.Write(b)
	return len(b)
}

// node writes one node's line.
func (d *dumpWriter) node(n *client.Node) {
	line := dumpNode{Key: n.Key, Dir: n.Dir, TTL: n.TTL, Expiration: n.Expiration}
	if !n.Dir {
		v := n.Value
		line.Value = &v
	}
	if n.Expiration == nil {
		line.TTL = 0
	}
	size := d.put(line)
	d.nodes++
	d.prog.Add(size)
}
