// Package bench compares the v2keys client with the upstream etcd v2 client
// (go.etcd.io/etcd/client/v2) and with plain net/http, on the same
// requests, in the same run.
//
// The benchmarks live in this package's tests; fixture generates the
// keyspaces and serves them as etcd 3.4 would, impl wraps the clients, real
// etcd processes come from the repository's shared launcher
// (internal/etcdtest), and cmd/ holds the peak-RSS tools and the ratio table
// used by compare.sh.
package bench
