package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestMigrateKilled: the built command, started as a user starts it, is
// stopped mid-copy by a signal and run again; the re-run resumes the copy
// (writing less than a whole copy) and the target verifies clean (nothing
// lost, nothing extra). SIGINT and SIGTERM stop it cleanly: the Txns in
// flight finish, the summary is printed, the message says to run the
// command again, exit status 4. SIGKILL stops it wherever it is.
//
// To have the copy midway when the signal arrives, the v3 target (a
// member of the matrix's v3 version of its own) is paused (SIGSTOP) as
// soon as 1000 keys are written, and resumed after the signal.
func TestMigrateKilled(t *testing.T) {
	bin := buildV2keys(t)
	srcEP := etcdtest.Shared(t).ClientURL()
	k := newV2(t, srcEP)
	src := etcdtest.UniquePrefix(t) + "/src"
	const n = 20000
	fill(t, k, src, n)
	files := len(v2Files(t, k, src))

	for _, tc := range []struct {
		sig   syscall.Signal
		clean bool // stops cleanly, with status 4 and the message
		twice bool // a second signal while the Txns in flight hang
	}{
		{syscall.SIGINT, true, false},
		{syscall.SIGTERM, true, false},
		{syscall.SIGKILL, false, false},
		// A second Ctrl-C ends the process at once, by the signal, while
		// the member is still paused (the first one would wait for it).
		{syscall.SIGINT, false, true},
	} {
		name := tc.sig.String()
		if tc.twice {
			name += " twice"
		}
		t.Run(name, func(t *testing.T) {
			dst := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V3})
			member := dst.Members()[0]
			dstEP := dst.ClientURLs()[0]
			cli := newV3(t, dstEP)
			const prefix = "/killed"
			under := prefix + src + "/"
			args := []string{"--endpoints", srcEP, "migrate", "--v3-endpoints", dstEP, "--prefix", prefix, "--concurrency", "4", src}

			cmd := exec.Command(bin, args...)
			var stdout, stderr bytes.Buffer
			var stderrMu sync.Mutex // the test reads stderr while the process writes it
			cmd.Stdout, cmd.Stderr = &stdout, lockedWriter{&stderrMu, &stderr}
			stderrText := func() string {
				stderrMu.Lock()
				defer stderrMu.Unlock()
				return stderr.String()
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			exited := make(chan struct{})
			go func() { waitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				member.Resume()
				cmd.Process.Kill()
				<-exited
			})
			count := func(ctx context.Context) int64 {
				resp, err := cli.Get(ctx, under, clientv3.WithPrefix(), clientv3.WithCountOnly())
				if err != nil {
					return -1
				}
				return resp.Count
			}
			deadline := time.Now().Add(60 * time.Second)
			// Past the first directories (fill gives every key of d00 a TTL,
			// and a key with a TTL is always written again).
			for count(context.Background()) < 1000 {
				select {
				case <-exited:
					t.Fatalf("migrate ended before writing anything: %v\n%s%s", waitErr, stdout.String(), stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("timed out waiting for the copy's first keys")
				}
				time.Sleep(2 * time.Millisecond)
			}
			if err := member.Pause(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the signal arrives while Txns are in flight
			if tc.twice {
				// The first signal was taken: the command says it waits.
				for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderrText(), "interrupt again to exit at once"); time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("no word of the first %v on stderr: %q", tc.sig, stderrText())
					}
				}
				if err := cmd.Process.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					t.Fatalf("migrate did not exit at the second %v while the member was paused\n%s", tc.sig, stderrText())
				}
			}
			if err := member.Resume(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("migrate did not stop after %v\n%s", tc.sig, stderr.String())
			}
			var exitErr *exec.ExitError
			if !errors.As(waitErr, &exitErr) {
				t.Fatalf("migrate after %v: %v, want a failed exit", tc.sig, waitErr)
			}
			ws := exitErr.Sys().(syscall.WaitStatus)
			if tc.clean {
				if ws.ExitStatus() != ExitServerError || !strings.Contains(stderr.String(), "interrupted before the copy finished; run the same command again to resume it") {
					t.Fatalf("after %v: %v, stderr %q; want exit %d and the message", tc.sig, ws, stderr.String(), ExitServerError)
				}
				if !strings.Contains(stdout.String(), "keys written") {
					t.Errorf("after %v: no summary on stdout: %q", tc.sig, stdout.String())
				}
			} else if !ws.Signaled() || ws.Signal() != tc.sig {
				t.Fatalf("after %v: %v", tc.sig, ws)
			}
			st := readState(t, cli, defaultStateKey(target{subtree: src, prefix: prefix}))
			if st == nil || st.Phase != phaseCopy || st.CopyRevision == 0 {
				t.Fatalf("state after %v: %+v, want an unfinished copy", tc.sig, st)
			}
			before := count(context.Background())
			if before <= 0 || before >= int64(files) {
				t.Fatalf("after %v the target holds %d keys of %d", tc.sig, before, files)
			}
			t.Logf("stopped by %v with %d keys and markers in v3: %s", tc.sig, before, strings.TrimSpace(stdout.String()))

			// The re-run resumes and writes less than a whole copy.
			re := exec.Command(bin, args...)
			var reOut, reErr bytes.Buffer
			re.Stdout, re.Stderr = &reOut, &reErr
			if err := re.Run(); err != nil {
				t.Fatalf("re-run: %v\n%s%s", err, reOut.String(), reErr.String())
			}
			t.Logf("re-run: %s%s", reErr.String(), strings.TrimSpace(reOut.String()))
			if !strings.Contains(reErr.String(), "resuming the copy of a previous run") {
				t.Errorf("re-run said %q", reErr.String())
			}
			m := regexp.MustCompile(`: (\d+) keys written \([^)]*\), (\d+) kept from the interrupted copy`).FindStringSubmatch(reOut.String())
			if m == nil {
				t.Fatalf("re-run summary %q: no written and kept counts", reOut.String())
			}
			written, _ := strconv.Atoi(m[1])
			kept, _ := strconv.Atoi(m[2])
			if written >= files || kept == 0 {
				t.Errorf("re-run wrote %d keys and kept %d, of %d files: want less than a whole copy", written, kept, files)
			}

			ver := exec.Command(bin, "--endpoints", srcEP, "migrate", "--verify", "--v3-endpoints", dstEP, "--prefix", prefix, src)
			out, err := ver.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "0 missing, 0 extra, 0 different values, 0 TTL mismatches") {
				t.Fatalf("verify after the re-run: %v\n%s", err, out)
			}
		})
	}
}

// lockedWriter serializes writes to w with mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
