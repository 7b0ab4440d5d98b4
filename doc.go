// Package client is a client for the etcd v2 HTTP/JSON API: keys, watches,
// members, auth and DNS SRV discovery. It is a drop-in replacement for the
// upstream go.etcd.io/etcd/client/v2 package: the same package name,
// exported API and behaviour, so switching is one import line.
//
// Create a Config and exchange it for a Client:
//
//	c, err := client.New(client.Config{
//		Endpoints: []string{"http://127.0.0.1:2379"},
//	})
//	if err != nil {
//		// handle error
//	}
//
// Clients are safe for concurrent use by multiple goroutines.
//
// Create a KeysAPI using the Client, then use it to interact with etcd:
//
//	kAPI := client.NewKeysAPI(c)
//
//	// create a new key /foo with the value "bar"
//	_, err = kAPI.Create(context.Background(), "/foo", "bar")
//
//	// delete the newly created key only if the value is still "bar"
//	_, err = kAPI.Delete(context.Background(), "/foo", &client.DeleteOptions{PrevValue: "bar"})
//
// Use a context to bound each call:
//
//	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	_, err := kAPI.Set(ctx, "/ping", "pong", nil)
//	if err == context.DeadlineExceeded {
//		// request took longer than 5s
//	}
//
// # Errors
//
// Context errors are returned as themselves (context.Canceled,
// context.DeadlineExceeded). When every endpoint failed, the error is a
// *ClusterError listing each endpoint's failure. An error answered by the
// keys API is the value Error (not a pointer) with the server's code; see
// IsKeyNotFound. A write that failed after its request may have reached a
// member also satisfies errors.Is(err, ErrOutcomeUnknown): it may have been
// applied. A context error says nothing about the outcome of a write: treat
// it as unknown. Config.OneShotWrites states which failed writes are sent
// to another member.
//
// # Beyond upstream
//
// Additions that leave upstream's API and default behaviour as they are:
//
//   - Close, reached with c.(io.Closer).Close(), ends the client's
//     goroutines, watches and idle connections.
//   - WatcherOptions.Stream: a Watcher that reads every event from one
//     long-lived request, keeping up with bursts of writes.
//   - WatcherOptions.ResyncOnCleared: recovery, surfaced as a
//     *HistoryClearedError, when etcd's event history was cleared.
//   - Walk and OpenSnapshot: a recursive read of a whole keyspace in bounded
//     memory, decoded as it arrives.
//   - Follow: a consistent snapshot, then every change after it.
//   - Config.WatchProbeInterval, Config.OneShotWrites and
//     Config.MaxResponseBytes tune liveness checks, resending of writes and
//     the largest answer read.
package client
