package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
)

// endpoint is the client URL of the test binary's real etcd member; the
// examples' output is checked against it.
func endpoint() string {
	url, err := etcdtest.SharedClientURL()
	if err != nil {
		log.Fatal(err)
	}
	return url
}

// prefix keeps each example's keys apart on the shared member.
func prefix(name string) string {
	return fmt.Sprintf("/examples/%s-%d", name, time.Now().UnixNano())
}

func Example() {
	c, err := client.New(client.Config{
		Endpoints:               []string{endpoint()},
		HeaderTimeoutPerRequest: 2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := prefix("basic") + "/foo"

	if _, err := kapi.Create(ctx, key, "bar"); err != nil {
		log.Fatal(err)
	}
	resp, err := kapi.Get(ctx, key, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Action, resp.Node.Value)

	// Delete only if the value is still "bar".
	resp, err = kapi.Delete(ctx, key, &client.DeleteOptions{PrevValue: "bar"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Action, resp.PrevNode.Value)

	_, err = kapi.Get(ctx, key, nil)
	fmt.Println(client.IsKeyNotFound(err))
	// Output:
	// get bar
	// compareAndDelete bar
	// true
}

func ExampleKeysAPI_Set_compareAndSwap() {
	c, err := client.New(client.Config{Endpoints: []string{endpoint()}})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)
	ctx := context.Background()
	key := prefix("cas") + "/counter"

	resp, err := kapi.Set(ctx, key, "1", nil)
	if err != nil {
		log.Fatal(err)
	}
	seen := resp.Node.ModifiedIndex

	// The first swap from the index we saw wins; a second one from the same
	// index is refused with ErrorCodeTestFailed.
	if _, err := kapi.Set(ctx, key, "2", &client.SetOptions{PrevIndex: seen}); err != nil {
		log.Fatal(err)
	}
	_, err = kapi.Set(ctx, key, "3", &client.SetOptions{PrevIndex: seen})
	var etcdErr client.Error
	if errors.As(err, &etcdErr) {
		fmt.Println(etcdErr.Code == client.ErrorCodeTestFailed, etcdErr.Message)
	}
	// Output:
	// true Compare failed
}

func ExampleKeysAPI_Watcher() {
	c, err := client.New(client.Config{Endpoints: []string{endpoint()}})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := prefix("watch")

	// Start from the current index, so that no change made after the Get
	// is missed, even those made before the first Next.
	resp, err := kapi.Set(ctx, dir+"/config", "v1", nil)
	if err != nil {
		log.Fatal(err)
	}
	w := kapi.Watcher(dir, &client.WatcherOptions{AfterIndex: resp.Index, Recursive: true})

	kapi.Set(ctx, dir+"/config", "v2", nil)
	kapi.Delete(ctx, dir+"/config", nil)

	for i := 0; i < 2; i++ {
		ev, err := w.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Action, ev.PrevNode.Value)
	}
	// Output:
	// set v1
	// delete v2
}

func ExampleKeysAPI_Set_ttl() {
	c, err := client.New(client.Config{Endpoints: []string{endpoint()}})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)
	ctx := context.Background()

	resp, err := kapi.Set(ctx, prefix("ttl")+"/session", "alive", &client.SetOptions{TTL: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Node.TTLDuration(), resp.Node.Expiration != nil)
	// Output:
	// 1m0s true
}

func ExampleClusterError() {
	// Nothing listens on these ports.
	c, err := client.New(client.Config{Endpoints: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}})
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.NewKeysAPI(c).Get(context.Background(), "/foo", nil)

	var cerr *client.ClusterError
	if errors.As(err, &cerr) {
		fmt.Println(errors.Is(err, client.ErrClusterUnavailable), len(cerr.Errors))
	}
	// Output:
	// true 2
}

func ExampleNew_badEndpoint() {
	_, err := client.New(client.Config{Endpoints: []string{"127.0.0.1:2379"}})
	fmt.Println(err)
	// Output:
	// client: invalid endpoint "127.0.0.1:2379": missing scheme (want http:// or https://)
}
