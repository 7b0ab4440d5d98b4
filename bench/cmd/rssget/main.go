// Command rssget performs one recursive GET of "/" with one client and
// exits, so that its peak resident set size, measured from outside with
// /usr/bin/time -v, is what that client needs to hold the keyspace.
//
// Usage:
//
//	rssget -impl v2keys|upstream|raw -endpoint http://127.0.0.1:PORT [-keys N]
//
// Without -endpoint it serves the fixture itself; the generated body then
// counts towards the peak, so compare.sh always runs fixtureserver and
// passes -endpoint. It prints the node count, the elapsed time and its own
// view of the peak RSS (getrusage) on stderr; the response stays reachable
// until after that, so the decoded tree is part of the peak.
package main

import (
	"context"
	"flag"
	"log"
	"net/http/httptest"
	"runtime"
	"syscall"
	"time"

	"github.com/v2keys/client/bench/fixture"
	"github.com/v2keys/client/bench/impl"
)

func main() {
	name := flag.String("impl", "v2keys", "client: v2keys, upstream or raw")
	endpoint := flag.String("endpoint", "", "base URL of a fixtureserver; empty serves in-process")
	keys := flag.Int("keys", 1_000_000, "keys in the in-process fixture (without -endpoint)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("rssget: ")

	im, err := impl.ByName(*name)
	if err != nil {
		log.Fatal(err)
	}
	if *endpoint == "" {
		tree := fixture.Generate(*keys, fixture.Options{})
		srv := httptest.NewServer(fixture.NewHandler(tree.RenderGet(), nil, nil, tree.Index))
		defer srv.Close()
		*endpoint = srv.URL
	}
	k, err := im.New(*endpoint)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	resp, err := k.Get(context.Background(), "/", true)
	if err != nil {
		log.Fatal(err)
	}
	elapsed := time.Since(start)
	n := im.Count(resp)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	unit := "nodes"
	if im.Name == "raw" {
		unit = "bytes"
	}
	log.Printf("impl=%s %d %s in %v, peak RSS %d KiB", im.Name, n, unit, elapsed.Round(time.Millisecond), ru.Maxrss)
	runtime.KeepAlive(resp)
}
