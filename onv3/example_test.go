package onv3_test

import (
	"context"
	"fmt"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// A service keeps its v2 code; only the construction of its KeysAPI
// changes, from client.NewKeysAPI(c) to onv3.NewKeysAPI(cli, prefix).
func Example() {
	url, err := etcdtest.SharedClientURL() // a test etcd; a service has its own endpoints
	if err != nil {
		fmt.Println(err)
		return
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	kapi := onv3.NewKeysAPI(cli, "/example-v2")
	if _, err := kapi.Set(ctx, "/app/config", "v1", nil); err != nil {
		fmt.Println(err)
		return
	}
	resp, err := kapi.Get(ctx, "/app", &client.GetOptions{Recursive: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Action, resp.Node.Key, resp.Node.Dir, resp.Node.Nodes[0].Key, resp.Node.Nodes[0].Value)

	_, err = kapi.Create(ctx, "/app/config", "again")
	fmt.Println(err.(client.Error).Code == client.ErrorCodeNodeExist, err.(client.Error).Cause)

	w := kapi.Watcher("/app", &client.WatcherOptions{AfterIndex: resp.Index, Recursive: true})
	if _, err := kapi.Update(ctx, "/app/config", "v2"); err != nil {
		fmt.Println(err)
		return
	}
	ev, err := w.Next(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Action, ev.Node.Key, ev.PrevNode.Value, "->", ev.Node.Value)
	// Output:
	// get /app true /app/config v1
	// true /app/config
	// update /app/config v1 -> v2
}
