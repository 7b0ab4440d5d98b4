// Package etcdtest starts real etcd servers for tests: etcd 3.4 to 3.7,
// serving the v2 or the v3 API.
//
// Every test that needs a server uses this package. A test asks for what it
// needs, an [API] and optionally a version, never for a binary:
//
//   - [V2] members run etcd 3.4 or 3.5 with --enable-v2 (they serve v3 too);
//     [V3] members run any version without the v2 API.
//   - The version is a series ("3.6", the version pinned for it in
//     scripts/etcd-bin.sh) or exact ("3.6.16"); by default it is
//     [DefaultVersion] of the API, which the environment variables
//     ETCDTEST_V2_VERSION and ETCDTEST_V3_VERSION set (else 3.4). make test
//     runs the suites once per version of its matrix through them.
//
// Binaries come from scripts/etcd-bin.sh: Debian's etcd 3.4.23, or 3.5 and
// later built from the Go module proxy and cached in the checkout. Each
// member runs on free loopback ports with a private data directory and fast
// elections; the package waits until the members answer health checks, a
// leader is elected and a write of the member's API succeeds before handing
// them to the test.
//
// Two ways to get a server:
//
//   - [StartCluster] (and its short forms [Start] and [StartWithFlags] for
//     the default v2 member) starts a fresh single-member or multi-member
//     [Cluster] owned by one test and stopped by its t.Cleanup. Use it when
//     a test kills, pauses or restarts members, or needs special flags.
//   - [Shared] (v2) and [SharedV3] return one single [Member] started lazily
//     once per test binary and stopped by [Main]. They save start-up time;
//     tests using them must stay inside their own [UniquePrefix] and must
//     not assume an empty keyspace.
//
// A package using the shared member declares
//
//	func TestMain(m *testing.M) { etcdtest.Main(m) }
//
// If no binary of the version asked for can be had, tests are skipped,
// except when the environment has CI=true, where that fails the test (see
// [Require]).
//
// Ownership: every etcd process is started in its own process group, so a
// Ctrl-C to the test run does not reach it before the test binary has had a
// chance to clean up, and on Linux with a parent-death signal of SIGKILL, so
// it dies with the test binary even if no cleanup runs. Each process is
// reaped by one goroutine that ends when the process has exited.
//
// The package is meant for Unix systems; it relies on SIGSTOP and SIGCONT.
package etcdtest
