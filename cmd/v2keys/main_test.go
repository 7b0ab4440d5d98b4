package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

func TestMain(m *testing.M) { etcdtest.Main(m) }

// result is what one in-process run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs v2keys with args and stdin and returns its exit status and
// output.
func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// v2keys runs v2keys against the endpoints eps (comma-separated) and fails
// the test unless it exits with want.
func v2keys(t *testing.T, eps string, want int, args ...string) result {
	t.Helper()
	r := runCmd(t, "", append([]string{"--endpoints", eps}, args...)...)
	if r.code != want {
		t.Fatalf("v2keys %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// background runs a long-lived command (watch) until stop is called, which
// returns its exit status.
type background struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan int
}

func startCmd(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- runContext(ctx, args, strings.NewReader(""), &b.stdout, &b.stderr) }()
	t.Cleanup(func() { cancel(); <-b.done })
	return b
}

// waitOutput waits until the command's stdout contains want.
func (b *background) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.stdout.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout never contained %q; stdout: %q; stderr: %q", want, b.stdout.String(), b.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code // for the cleanup
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("command did not stop after its context ended")
		return -1
	}
}
