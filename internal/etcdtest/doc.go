// Package etcdtest starts real etcd servers (v2 API enabled) for tests.
//
// Every test of the client that needs a server uses this package. It runs the
// binary named by the ETCD_BIN environment variable, or "etcd" on PATH, on
// free loopback ports with a private data directory and fast elections, and
// waits until the server answers health checks and accepts v2 writes before
// handing it to the test.
//
// Two ways to get a server:
//
//   - [Start] and [StartWithFlags] start a fresh single-member or multi-member
//     [Cluster] owned by one test and stopped by its t.Cleanup. Use them when
//     a test kills, pauses or restarts members, or needs special flags.
//   - [Shared] returns one single [Member] started lazily once per test
//     binary and stopped by [Main]. It saves start-up time; tests using it
//     must stay inside their own [UniquePrefix] and must not assume an empty
//     keyspace.
//
// A package using the shared member declares
//
//	func TestMain(m *testing.M) { etcdtest.Main(m) }
//
// If the etcd binary is missing, tests are skipped, except when the
// environment has CI=true, where a missing binary fails the test (see
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
