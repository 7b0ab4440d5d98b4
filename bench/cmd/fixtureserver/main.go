// Command fixtureserver serves a generated keyspace the way etcd 3.4 would
// answer a recursive GET of it, so that a client's memory can be measured
// in a process of its own (see rssget and compare.sh).
//
// Usage:
//
//	fixtureserver -keys 1000000 [-addr 127.0.0.1:0] [-seed N]
//
// It prints the server's base URL as the first line on stdout once it
// listens, then serves until interrupted or terminated.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/v2keys/client/bench/fixture"
)

func main() {
	keys := flag.Int("keys", 1_000_000, "number of keys in the generated keyspace")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	seed := flag.Uint64("seed", fixture.DefaultSeed, "generator seed")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("fixtureserver: ")

	tree := fixture.Generate(*keys, fixture.Options{Seed: *seed})
	body := tree.RenderGet()
	get, set := fixture.KeyBodies("/bench/key", "value", tree.Index+1)
	h := fixture.NewHandler(body, get, set, tree.Index)

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", l.Addr())
	log.Printf("%d keys, %d dirs, %d body bytes", tree.Keys, tree.Dirs, len(body))

	srv := &http.Server{Handler: h}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
