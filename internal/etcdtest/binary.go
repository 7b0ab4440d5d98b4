package etcdtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// API names the etcd API a test needs a member to serve.
type API string

const (
	// V2 is the v2 HTTP/JSON keys API. Only etcd 3.4 and 3.5 serve it, when
	// started with --enable-v2 (which this package does for V2 members);
	// those members serve the v3 API as well.
	V2 API = "v2"
	// V3 is the v3 gRPC API (and its JSON gateway). Every version serves
	// it; a V3 member is started without --enable-v2.
	V3 API = "v3"
)

const (
	// versionTimeout bounds the run of "etcd --version".
	versionTimeout = 10 * time.Second
	// resolveTimeout bounds scripts/etcd-bin.sh, which may build etcd from
	// the Go module proxy (about two minutes on a 2-core machine).
	resolveTimeout = 15 * time.Minute
	// defaultVersion is the series tests run when the environment does
	// not name one: Debian's etcd 3.4.23, which serves both APIs.
	defaultVersion = "3.4"
)

// versionEnv names, per API, the environment variable that sets the default
// version of that API's members.
var versionEnv = map[API]string{
	V2: "ETCDTEST_V2_VERSION",
	V3: "ETCDTEST_V3_VERSION",
}

// DefaultVersion returns the etcd version that members serving api get when
// a test does not name one: the value of ETCDTEST_V2_VERSION or
// ETCDTEST_V3_VERSION, else "3.4". It is a series ("3.6") or an exact
// version ("3.6.16"), as scripts/etcd-bin.sh takes it. make test runs the
// suites once per version of its matrix by setting these variables.
func DefaultVersion(api API) string {
	if v := strings.TrimSpace(os.Getenv(versionEnv[api])); v != "" {
		return v
	}
	return defaultVersion
}

// binary is an etcd server binary and the exact version it reports.
type binary struct {
	path    string
	version string // for example "3.5.35"
}

// servesV2 reports whether the binary can serve the v2 API: etcd 3.6
// removed it (and the --enable-v2 flag).
func (b binary) servesV2() bool {
	major, minor, ok := seriesOf(b.version)
	return ok && major == 3 && minor <= 5
}

// seriesOf parses the major and minor numbers of "3.5" or "3.5.35".
func seriesOf(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// binaries caches resolved binaries by requested version, for the life of
// the test binary: resolving runs a script that may install or build etcd.
var binaries struct {
	mu   sync.Mutex
	byID map[string]binary
}

// resolve returns the binary for version, or for api's default version when
// version is "". It runs scripts/etcd-bin.sh of this repository, which
// installs Debian's etcd 3.4.23 or builds 3.5 and later from the Go module
// proxy into a cache folder; the first call for a version may therefore take
// minutes, later calls are instant.
func resolve(version string, api API) (binary, error) {
	if version == "" {
		version = DefaultVersion(api)
	}
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if b, ok := binaries.byID[version]; ok {
		return b, nil
	}
	b, err := runBinScript(version)
	if err != nil {
		return binary{}, err
	}
	if binaries.byID == nil {
		binaries.byID = map[string]binary{}
	}
	binaries.byID[version] = b
	return b, nil
}

// binScript returns the path of scripts/etcd-bin.sh, found from this
// source file's location in the repository.
func binScript() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("etcdtest: cannot locate scripts/etcd-bin.sh: no caller information")
	}
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "etcd-bin.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("etcdtest: %w", err)
	}
	return script, nil
}

// runBinScript asks scripts/etcd-bin.sh for a binary of version and checks
// that it reports a version of the series asked for.
func runBinScript(version string) (binary, error) {
	script, err := binScript()
	if err != nil {
		return binary{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script, version)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return binary{}, fmt.Errorf("etcdtest: no etcd %s: %s: %w", version, strings.TrimSpace(stderr.String()), err)
	}
	path := strings.TrimSpace(stdout.String())
	exact, err := reportedVersion(path)
	if err != nil {
		return binary{}, err
	}
	if exact != version && !strings.HasPrefix(exact, version+".") {
		return binary{}, fmt.Errorf("etcdtest: asked for etcd %s, %s reports %s", version, path, exact)
	}
	return binary{path: path, version: exact}, nil
}

// Require returns the path of an etcd of [DefaultVersion]([V2]), or ends
// the test as described below: the check for tests and benchmarks that
// need a v2 server before starting one themselves.
func Require(t testing.TB) string {
	t.Helper()
	return require(t, "", V2).path
}

// require returns the binary for version and api ("" means api's
// [DefaultVersion]), or ends the test if there is none: with t.Skip
// normally, but with t.Fatal when the environment variable CI is true,
// because in CI a missing etcd is a failure, never a skip. It is the only
// place that makes that decision.
func require(t testing.TB, version string, api API) binary {
	t.Helper()
	return requireBinary(t, func() (binary, error) { return resolve(version, api) }, inCI())
}

// requireBinary is require with its inputs made explicit for testing.
func requireBinary(t testing.TB, find func() (binary, error), ci bool) binary {
	t.Helper()
	b, err := find()
	if err == nil {
		return b
	}
	if ci {
		t.Fatalf("%v; CI is true, so a missing etcd fails the test", err)
	} else {
		t.Skipf("%v; skipping a test that needs a real etcd", err)
	}
	return binary{}
}

// inCI reports whether the CI environment variable holds a true value.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// reportedVersion runs "path --version" and returns the server version it
// reports, for example "3.4.23".
func reportedVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("etcdtest: %s --version: %w", path, err)
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
