package etcdtest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// A test on the shared member keeps its keys under its own prefix. The
// package that contains it declares
//
//	func TestMain(m *testing.M) { etcdtest.Main(m) }
func ExampleShared() {
	testSet := func(t *testing.T) {
		m := etcdtest.Shared(t)
		key := etcdtest.UniquePrefix(t) + "/greeting"
		form := url.Values{"value": {"hello"}}
		req, err := http.NewRequest(http.MethodPut, m.ClientURL()+"/v2/keys"+key, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %s", key, resp.Status)
		}
	}
	_ = testSet
}

// A test that disturbs servers starts its own cluster, which its cleanup
// stops.
func ExampleStart() {
	testFailover := func(t *testing.T) {
		c := etcdtest.Start(t, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		leader, err := c.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := leader.Kill(); err != nil {
			t.Fatal(err)
		}
		// The client under test, given c.ClientURLs(), must now fail over.
	}
	_ = testFailover
}
