// Command demo shows onv3 at work: the v2 KeysAPI served from an etcd's v3
// keyspace. It reads a tree that "v2keys migrate" copied there exactly as a
// v2 service would have read it, then changes it with v2 calls while a v2
// watcher reports each change.
//
//	go run ./examples/demo -endpoints http://127.0.0.1:2379 -prefix /v3 -key /demo-app
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/onv3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func main() {
	endpoints := flag.String("endpoints", "http://127.0.0.1:2379", "comma-separated etcd client URLs (v3 API)")
	prefix := flag.String("prefix", "", "the v3 prefix the v2 keys live under (migrate's --prefix)")
	key := flag.String("key", "/demo-app", "the v2 directory to show and change")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ","), *prefix, *key); err != nil {
		log.SetFlags(0)
		log.Fatalf("onv3 demo: %v", err)
	}
}

func run(endpoints []string, prefix, dir string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The only line a v2 service changes: how it builds its KeysAPI.
	kapi := onv3.NewKeysAPI(cli, prefix)

	resp, err := kapi.Get(ctx, dir, &client.GetOptions{Recursive: true, Sort: true})
	if err != nil {
		return fmt.Errorf("get %s: %w", dir, err)
	}
	fmt.Printf("read through onv3 (v3 keys under %q):\n", prefix)
	printTree(resp.Node, "  ")

	// A watcher from the index of that read sees every later change once.
	w := kapi.Watcher(dir, &client.WatcherOptions{AfterIndex: resp.Index, Recursive: true})
	steps := []struct {
		what string
		do   func() error
	}{
		{"set config/mode", func() error {
			_, err := kapi.Set(ctx, dir+"/config/mode", "red", nil)
			return err
		}},
		{"compare-and-swap config/mode red -> yellow", func() error {
			_, err := kapi.Set(ctx, dir+"/config/mode", "yellow", &client.SetOptions{PrevValue: "red"})
			return err
		}},
		{"create-in-order under queue", func() error {
			_, err := kapi.CreateInOrder(ctx, dir+"/queue", "job 1", nil)
			return err
		}},
		{"delete config/db", func() error {
			_, err := kapi.Delete(ctx, dir+"/config/db", nil)
			return err
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		ev, err := w.Next(ctx)
		if err != nil {
			return fmt.Errorf("watch after %s: %w", s.what, err)
		}
		fmt.Printf("watch  %-16s %s = %q\n", ev.Action, ev.Node.Key, ev.Node.Value)
	}

	// A v2 error keeps its v2 meaning: code, cause and all.
	_, err = kapi.Create(ctx, dir+"/config/mode", "green")
	fmt.Printf("create of an existing key: %v\n", err)

	resp, err = kapi.Get(ctx, dir, &client.GetOptions{Recursive: true, Sort: true})
	if err != nil {
		return fmt.Errorf("get %s: %w", dir, err)
	}
	fmt.Println("final tree:")
	printTree(resp.Node, "  ")
	return nil
}

// printTree prints a node and its children, directories with a slash, TTLs
// when set.
func printTree(n *client.Node, indent string) {
	switch {
	case n.Dir:
		fmt.Printf("%s%s/\n", indent, n.Key)
	case n.TTL > 0:
		fmt.Printf("%s%s = %q (ttl %ds)\n", indent, n.Key, n.Value, n.TTL)
	default:
		fmt.Printf("%s%s = %q\n", indent, n.Key, n.Value)
	}
	for _, c := range n.Nodes {
		printTree(c, indent+"  ")
	}
}
