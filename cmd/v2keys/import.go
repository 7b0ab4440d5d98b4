package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/v2keys/client"
)

// cmdImport restores an export file, optionally under another prefix.
//
// The whole file is validated first; a malformed file is reported with its
// line number and nothing is written. Then every node is written with a
// plain set, so a second run converges to the same state: directories one
// at a time in file order, keys by --concurrency workers (a key's
// directories always exist by the time it is sent); only the directories
// with a TTL are first created with it (createExpiringDirs). A node's
// remaining TTL is its expiration minus now, rounded up to whole seconds;
// a node already expired is skipped and counted, with its whole subtree.
func cmdImport(fs *flag.FlagSet) action {
	workers := fs.Int("concurrency", 16, "number of keys written in parallel")
	return func(e *env, args []string) int {
		if len(args) == 0 {
			return e.fail(ExitBadArgs, errors.New("input file (or - for stdin) required"))
		}
		if *workers < 1 {
			return e.fail(ExitBadArgs, errors.New("--concurrency must be at least 1"))
		}
		src := args[0]

		// Pass 1: validate. Stdin is spooled to a temporary file on the way,
		// so that pass 2 can read it again without holding it in memory.
		in, cleanup, checked, err := e.validateInput(src)
		if err != nil {
			return e.fail(ExitBadArgs, fmt.Errorf("%s: %w; nothing was imported", src, err))
		}
		defer cleanup()
		header := checked.header

		target := header.Prefix
		if len(args) == 2 {
			if target = canonicalKey("/" + strings.TrimPrefix(args[1], "/")); !validKey(target) {
				return e.fail(ExitBadArgs, fmt.Errorf("bad target prefix %q", args[1]))
			}
		}

		cl, code := e.newClient(true)
		if cl == nil {
			return code
		}
		return newImporter(e, client.NewKeysAPI(cl), checked, target, *workers).run(in, *workers)
	}
}

// newImporter returns the importer of the validated file checked into
// target (a canonical key) through keys, for workers workers.
func newImporter(e *env, keys client.KeysAPI, checked *dumpChecker, target string, workers int) *importer {
	return &importer{
		e:       e,
		keys:    keys,
		base:    strings.TrimSuffix(checked.header.Prefix, "/"),
		target:  strings.TrimSuffix(target, "/"),
		prog:    newProgress("imported", e.stderr),
		jobs:    make(chan importJob, workers*4),
		expDirs: checked.expDirs,
	}
}

// validateInput checks the whole file and returns a reader positioned at
// its start for the second pass.
func (e *env) validateInput(src string) (io.ReadSeeker, func(), *dumpChecker, error) {
	var r io.Reader
	var f *os.File
	cleanup := func() {}
	var spool *os.File
	if src == "-" {
		tmp, err := os.CreateTemp("", "v2keys-import-*")
		if err != nil {
			return nil, nil, nil, err
		}
		spool = tmp
		cleanup = func() { tmp.Close(); os.Remove(tmp.Name()) }
		r = io.TeeReader(e.stdin, tmp)
		f = tmp
	} else {
		in, err := os.Open(src)
		if err != nil {
			return nil, nil, nil, err
		}
		cleanup = func() { in.Close() }
		r, f = in, in
	}
	var chk dumpChecker
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			if _, cerr := chk.check(bytes.TrimRight(b, "\r\n")); cerr != nil {
				cleanup()
				return nil, nil, nil, cerr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	if err := chk.finish(); err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	if spool != nil {
		if err := spool.Sync(); err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return f, cleanup, &chk, nil
}

type importJob struct {
	line int
	key  string
	node *dumpNode
	ttl  time.Duration
}

// importer writes the nodes of a validated file.
type importer struct {
	e      *env
	keys   client.KeysAPI
	base   string // source prefix, without trailing slash
	target string // destination prefix, without trailing slash
	prog   *progress
	jobs   chan importJob

	expDirs map[string]dirExpiry // directories with an expiration (from pass 1)
	early   map[string]bool      // target keys of directories created with their TTL before pass 2

	nKeys, nDirs, nSkipped, nErrors atomic.Int64
	fatal                           atomic.Pointer[error] // a connection failure: stop
	errMu                           sync.Mutex
	shown                           int
}

const maxShownErrors = 10

func (imp *importer) run(in io.Reader, workers int) int {
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range imp.jobs {
				if imp.fatal.Load() != nil {
					continue
				}
				imp.setKey(j)
			}
		}()
	}

	imp.createExpiringDirs()
	chk := dumpChecker{expDirs: imp.expDirs} // decodes again; the file was validated
	br := bufio.NewReaderSize(in, 1<<16)
	for imp.fatal.Load() == nil && imp.e.ctx.Err() == nil {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			n, cerr := chk.check(bytes.TrimRight(b, "\r\n"))
			if cerr != nil { // the file changed since pass 1
				imp.fatal.CompareAndSwap(nil, &cerr)
				break
			}
			if n != nil {
				// A node is skipped if it or one of its directories has
				// expired (in post-order a directory comes after its
				// nodes, so pass 1 collected the expiring directories).
				now := time.Now()
				if chk.expiredAt(n, now) {
					imp.nSkipped.Add(1)
				} else {
					imp.dispatch(chk.line, n, now)
				}
			}
		}
		if err != nil {
			break
		}
	}
	close(imp.jobs)
	wg.Wait()
	imp.prog.Done()

	fmt.Fprintf(imp.e.stdout, "imported %d keys and %d dirs into %s; skipped %d expired; %d errors\n",
		imp.nKeys.Load(), imp.nDirs.Load(), orRoot(imp.target), imp.nSkipped.Load(), imp.nErrors.Load())
	if p := imp.fatal.Load(); p != nil {
		code := ExitServerError
		if isConnectionError(*p) {
			code = ExitBadConnection
		}
		return imp.e.fail(code, fmt.Errorf("import stopped: %w", *p))
	}
	if err := imp.e.ctx.Err(); err != nil {
		return imp.e.fail(ExitServerError, fmt.Errorf("import interrupted: %w", err))
	}
	if imp.nErrors.Load() > 0 {
		return ExitServerError
	}
	return ExitSuccess
}

func orRoot(k string) string {
	if k == "" {
		return "/"
	}
	return k
}

// dispatch writes a directory now, or queues a key for the workers.
func (imp *importer) dispatch(line int, n *dumpNode, now time.Time) {
	key := imp.target + n.Key[len(imp.base):]
	if key == "" {
		return // the source root lands on the keyspace root, which exists
	}
	var ttl time.Duration
	if n.Expiration != nil {
		ttl = ttlLeft(*n.Expiration, now)
	}
	j := importJob{line: line, key: key, node: n, ttl: ttl}
	if n.Dir {
		imp.setDir(j)
		return
	}
	imp.jobs <- j
}

// setDir makes key a directory with the node's TTL (or none). A set of an
// existing directory fails with "Not a file" in etcd; the TTL of an
// existing directory is changed with an update instead. A directory that
// createExpiringDirs made with its TTL is only counted.
func (imp *importer) setDir(j importJob) {
	if imp.early[j.key] {
		imp.nDirs.Add(1)
		return
	}
	ctx, cancel := imp.e.requestContext()
	defer cancel()
	_, err := imp.keys.Set(ctx, j.key, "", &client.SetOptions{Dir: true, TTL: j.ttl})
	if hasErrorCode(err, client.ErrorCodeNotFile) {
		if imp.dirAsWanted(ctx, j) {
			err = nil
		} else {
			_, err = imp.keys.Set(ctx, j.key, "", &client.SetOptions{Dir: true, TTL: j.ttl, PrevExist: client.PrevExist})
		}
	}
	if imp.done(j, err) {
		imp.nDirs.Add(1)
	}
}

// dirAsWanted reports whether key is already a directory without a TTL
// while the node has none either, so that no update is needed: etcd 3.5
// fails every update of a directory (see createExpiringDirs).
func (imp *importer) dirAsWanted(ctx context.Context, j importJob) bool {
	if j.ttl != 0 {
		return false
	}
	resp, err := imp.keys.Get(ctx, j.key, nil)
	return err == nil && resp.Node.Dir && resp.Node.TTL == 0
}

func (imp *importer) setKey(j importJob) {
	ctx, cancel := imp.e.requestContext()
	defer cancel()
	_, err := imp.keys.Set(ctx, j.key, *j.node.Value, &client.SetOptions{TTL: j.ttl, NoValueOnSuccess: true})
	if imp.done(j, err) {
		imp.nKeys.Add(1)
	}
}

// done counts the outcome of one write and reports whether it succeeded.
// A failure to reach any member stops the import; others are counted and
// the first few printed.
func (imp *importer) done(j importJob, err error) bool {
	if err == nil {
		size := len(j.key)
		if j.node.Value != nil {
			size += len(*j.node.Value)
		}
		imp.prog.Add(size)
		return true
	}
	if isConnectionError(err) {
		imp.fatal.CompareAndSwap(nil, &err)
		return false
	}
	imp.nErrors.Add(1)
	imp.errMu.Lock()
	defer imp.errMu.Unlock()
	imp.shown++
	if imp.shown <= maxShownErrors {
		fmt.Fprintf(imp.e.stderr, "line %d: %s: %v\n", j.line, j.key, err)
	} else if imp.shown == maxShownErrors+1 {
		fmt.Fprintln(imp.e.stderr, "(further errors not shown)")
	}
	return false
}
