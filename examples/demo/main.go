// Command demo shows the v2keys client at work against a running etcd with
// the v2 API enabled: set and get, a TTL, compare-and-swap, and a watch.
//
//	go run ./examples/demo -endpoints http://127.0.0.1:2379
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/v2keys/client"
)

func main() {
	endpoints := flag.String("endpoints", "http://127.0.0.1:2379", "comma-separated etcd client URLs")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ",")); err != nil {
		log.SetFlags(0)
		log.Fatalf("demo: %v", err)
	}
}

func run(endpoints []string) error {
	c, err := client.New(client.Config{
		Endpoints:               endpoints,
		HeaderTimeoutPerRequest: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	v, err := waitForServer(ctx, c)
	if err != nil {
		return err
	}
	fmt.Printf("connected to etcd %s (cluster %s) at %s\n", v.Server, v.Cluster, strings.Join(c.Endpoints(), ", "))

	kapi := client.NewKeysAPI(c)
	const dir = "/v2keys-demo"
	if _, err := kapi.Delete(ctx, dir, &client.DeleteOptions{Recursive: true, Dir: true}); err != nil && !client.IsKeyNotFound(err) {
		return fmt.Errorf("clean up %s: %w", dir, err)
	}

	resp, err := kapi.Set(ctx, dir+"/greeting", "hello", nil)
	if err != nil {
		return fmt.Errorf("set: %w", err)
	}
	fmt.Printf("set    %s = %q (index %d)\n", resp.Node.Key, resp.Node.Value, resp.Node.ModifiedIndex)

	resp, err = kapi.Get(ctx, dir+"/greeting", nil)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	fmt.Printf("get    %s = %q\n", resp.Node.Key, resp.Node.Value)

	resp, err = kapi.Set(ctx, dir+"/session", "alive", &client.SetOptions{TTL: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("set with TTL: %w", err)
	}
	fmt.Printf("ttl    %s expires in %v\n", resp.Node.Key, resp.Node.TTLDuration())

	// Compare-and-swap: only the writer that saw the current index wins.
	cur, err := kapi.Get(ctx, dir+"/greeting", nil)
	if err != nil {
		return err
	}
	if _, err := kapi.Set(ctx, dir+"/greeting", "hello again", &client.SetOptions{PrevIndex: cur.Node.ModifiedIndex}); err != nil {
		return fmt.Errorf("compare-and-swap: %w", err)
	}
	_, err = kapi.Set(ctx, dir+"/greeting", "lost update", &client.SetOptions{PrevIndex: cur.Node.ModifiedIndex})
	var etcdErr client.Error
	if !errors.As(err, &etcdErr) || etcdErr.Code != client.ErrorCodeTestFailed {
		return fmt.Errorf("stale compare-and-swap should fail with code 101, got %v", err)
	}
	fmt.Printf("cas    first swap won, stale swap refused: %v\n", etcdErr)

	// Watch the directory from the current index while a writer works.
	w := kapi.Watcher(dir, &client.WatcherOptions{AfterIndex: cur.Index, Recursive: true})
	go func() {
		for i := 1; i <= 3; i++ {
			if _, err := kapi.Set(ctx, fmt.Sprintf("%s/jobs/%d", dir, i), fmt.Sprintf("job %d", i), nil); err != nil {
				fmt.Fprintf(os.Stderr, "writer: %v\n", err)
			}
		}
	}()
	for seen := 0; seen < 3; {
		ev, err := w.Next(ctx)
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		fmt.Printf("watch  %-6s %s = %q (index %d)\n", ev.Action, ev.Node.Key, ev.Node.Value, ev.Node.ModifiedIndex)
		if strings.Contains(ev.Node.Key, "/jobs/") {
			seen++
		}
	}

	fmt.Println("waiting for the session key to expire...")
	expired := kapi.Watcher(dir+"/session", nil)
	ev, err := expired.Next(ctx)
	if err != nil {
		return fmt.Errorf("watch expiry: %w", err)
	}
	fmt.Printf("watch  %-6s %s\n", ev.Action, ev.Node.Key)

	resp, err = kapi.Get(ctx, dir, &client.GetOptions{Recursive: true, Sort: true})
	if err != nil {
		return err
	}
	fmt.Println("final tree:")
	printTree(resp.Node, "  ")
	return nil
}

// waitForServer retries until the member answers, since it may still be
// starting.
func waitForServer(ctx context.Context, c client.Client) (*client.Versions, error) {
	for {
		v, err := c.GetVersion(ctx)
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("etcd did not answer: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func printTree(n *client.Node, indent string) {
	if n.Dir {
		fmt.Printf("%s%s/\n", indent, n.Key)
		for _, child := range n.Nodes {
			printTree(child, indent+"  ")
		}
		return
	}
	fmt.Printf("%s%s = %q\n", indent, n.Key, n.Value)
}
