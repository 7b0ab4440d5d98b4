// Command walkrss measures the memory a recursive read of a large keyspace
// costs: it serves a generated etcd body of -keys keys from an in-process
// HTTP server and reads it with client.Walk (or, with -get, with
// KeysAPI.Get, which holds the body and the tree as upstream does),
// reporting the peak of the Go heap in use above the baseline, sampled
// every millisecond, and the peak resident set size of the process.
//
//	go run ./cmd/walkrss -keys 1000000
//	go run ./cmd/walkrss -keys 1000000 -get
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/bodygen"
)

func main() {
	keys := flag.Int("keys", 1_000_000, "number of keys in the generated keyspace")
	get := flag.Bool("get", false, "read with KeysAPI.Get instead of Walk")
	flag.Parse()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Etcd-Index", "7")
		if err := bodygen.Write(w, *keys); err != nil {
			log.Print(err)
		}
	}))
	defer srv.Close()
	c, err := client.New(client.Config{Endpoints: []string{srv.URL}, HeaderTimeoutPerRequest: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for t := time.NewTicker(time.Millisecond); ; {
			select {
			case <-done:
				t.Stop()
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()

	start := time.Now()
	nodes := 0
	if *get {
		resp, err := client.NewKeysAPI(c).Get(context.Background(), "/bench", &client.GetOptions{Recursive: true})
		if err != nil {
			log.Fatal(err)
		}
		var count func(*client.Node)
		count = func(n *client.Node) {
			nodes++
			for _, c := range n.Nodes {
				count(c)
			}
		}
		count(resp.Node)
		runtime.KeepAlive(resp)
	} else {
		_, err := client.Walk(context.Background(), c, "/bench", nil, func(*client.Node) error {
			nodes++
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	close(done)
	<-sampled

	mode := "Walk"
	if *get {
		mode = "Get"
	}
	fmt.Printf("%s of %d keys (%d nodes) in %v: peak heap in use %.1f MiB above a baseline of %.1f MiB; peak RSS %s\n",
		mode, *keys, nodes, elapsed.Round(time.Millisecond), float64(peak.Load()-min(base, peak.Load()))/(1<<20), float64(base)/(1<<20), peakRSS())
	fmt.Printf("total allocated: %.0f MiB\n", float64(allocated())/(1<<20))
}

// peakRSS reads VmHWM from /proc/self/status (Linux only).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}
