package etcdtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// versionTimeout bounds the run of "etcd --version".
const versionTimeout = 10 * time.Second

// Binary returns the path of the etcd binary this package runs: the value of
// the ETCD_BIN environment variable if set, else "etcd" looked up on PATH.
// The error says which name was looked for.
func Binary() (string, error) {
	name := os.Getenv("ETCD_BIN")
	if name == "" {
		name = "etcd"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("etcdtest: etcd binary %q not found (set ETCD_BIN to its path): %w", name, err)
	}
	return path, nil
}

// Require returns the path of the etcd binary, or ends the test if there is
// none: with t.Skip normally, but with t.Fatal when the environment variable
// CI is true, because in CI a missing etcd is a failure, never a skip. It is
// the only place that makes that decision; [Start], [StartWithFlags] and
// [Shared] call it.
func Require(t testing.TB) string {
	t.Helper()
	return requireBinary(t, Binary, inCI())
}

// requireBinary is Require with its inputs made explicit for testing.
func requireBinary(t testing.TB, find func() (string, error), ci bool) string {
	t.Helper()
	bin, err := find()
	if err == nil {
		return bin
	}
	if ci {
		t.Fatalf("%v; CI is true, so a missing etcd fails the test", err)
	} else {
		t.Skipf("%v; skipping a test that needs a real etcd", err)
	}
	return ""
}

// inCI reports whether the CI environment variable holds a true value.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Version runs "etcd --version" on the binary from [Binary] and returns the
// server version it reports, for example "3.4.23".
func Version() (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("etcdtest: %s --version: %w", bin, err)
	}
	return parseVersion(out)
}

// parseVersion finds the "etcd Version: X" line in the output of
// "etcd --version".
func parseVersion(out []byte) (string, error) {
	const label = "etcd Version:"
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), label); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("etcdtest: no %q line in version output %q", label, out)
}
