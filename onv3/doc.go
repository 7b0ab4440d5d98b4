// Package onv3 serves the etcd v2 KeysAPI and MembersAPI of
// github.com/v2keys/client from etcd's v3 API, so that a service written
// for the v2 client keeps its code on etcd 3.6 and 3.7, which serve no v2
// API: only the construction of its KeysAPI changes.
//
//	cli, _ := clientv3.New(clientv3.Config{Endpoints: endpoints})
//	kapi := onv3.NewKeysAPI(cli, "/v2data") // v2 key /a/b is v3 key /v2data/a/b
//
// The v2 keyspace is laid out in v3 as Layout describes (files as keys,
// directories as marker keys, an action record beside each write but a
// plain Set); v2keys migrate writes the same layout. Each v2 write is one v3
// transaction guarded by compares on what it depends on; indexes are v3
// revisions; TTLs are leases, one per key; watchers are v3 watches whose
// events carry v2 actions. What v3 cannot express as v2 does is listed in
// the module's README ("Differences from v2"); options onv3 cannot honour
// fail with an error wrapping ErrUnsupported.
//
// The KeysAPI and MembersAPI are safe for concurrent use and start no
// goroutine of their own; a Watcher holds one v3 watch between its first
// Next and its Close (or the end of a Next's context). The clientv3
// client stays owned by the caller.
package onv3
