package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNewRejectsBadEndpoints(t *testing.T) {
	tests := []struct {
		name     string
		eps      []string
		wantIs   error
		wantText string
	}{
		{"nil list", nil, ErrNoEndpoints, ""},
		{"empty list", []string{}, ErrNoEndpoints, ""},
		{"no scheme with port", []string{"127.0.0.1:2379"}, nil, `"127.0.0.1:2379": missing scheme`},
		{"no scheme hostname", []string{"localhost:2379"}, nil, `"localhost:2379": missing scheme`},
		{"bare host", []string{"etcd"}, nil, `"etcd": missing scheme`},
		{"unsupported scheme", []string{"ftp://h:1"}, nil, `unsupported scheme "ftp"`},
		{"no host", []string{"http://"}, nil, "missing host"},
		{"path", []string{"http://h:2379/v2/keys"}, nil, `unexpected path "/v2/keys"`},
		{"query", []string{"http://h:2379?x=1"}, nil, "unexpected query"},
		{"unparsable", []string{"http://[::1"}, nil, `invalid endpoint "http://[::1"`},
		{"one bad among good", []string{"http://a:1", "b:2"}, nil, `"b:2": missing scheme`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Endpoints: tt.eps})
			if err == nil {
				t.Fatalf("New(%q) = %v, want error", tt.eps, c)
			}
			if tt.wantIs != nil && err != tt.wantIs {
				t.Fatalf("New(%q) error = %v, want %v itself", tt.eps, err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("New(%q) error = %q, want it to contain %q", tt.eps, err, tt.wantText)
			}
		})
	}
}

func TestNewAcceptsEndpoints(t *testing.T) {
	for _, ep := range []string{"http://127.0.0.1:2379", "https://etcd.example.com:2379", "http://[::1]:2379/", "unix:///tmp/etcd.sock"} {
		c, err := New(Config{Endpoints: []string{ep}})
		if err != nil {
			t.Errorf("New(%q): %v", ep, err)
			continue
		}
		if got := c.Endpoints(); len(got) != 1 || got[0] != ep {
			t.Errorf("Endpoints() = %q, want [%q]", got, ep)
		}
	}
}

func TestSetEndpointsKeepsOldSetOnError(t *testing.T) {
	c := newTestClient(t, Config{}, "http://a:1", "http://b:2")
	if err := c.SetEndpoints([]string{"nope"}); err == nil {
		t.Fatal("SetEndpoints accepted an endpoint without scheme")
	}
	if got := c.Endpoints(); len(got) != 2 {
		t.Fatalf("endpoints changed after a failed SetEndpoints: %q", got)
	}
}

func TestDoFailoverAndPinning(t *testing.T) {
	down := refusedURL(t)
	bad := newFakeMember(t, reply(http.StatusInternalServerError, `{"message":"x"}`))
	good := newFakeMember(t, reply(http.StatusOK, okBody))

	c := newTestClient(t, Config{}, down, bad.URL, good.URL)
	kapi := NewKeysAPI(c)
	resp, err := kapi.Get(context.Background(), "/k", nil)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if resp.Node.Value != "v" || resp.Index != 7 || resp.ClusterID != "cafe" {
		t.Fatalf("Get = %+v node %+v", resp, resp.Node)
	}
	if c.pinned != 2 {
		t.Fatalf("pinned = %d, want 2 (the member that answered)", c.pinned)
	}
	// The next call goes straight to the pinned member.
	badBefore := bad.requests.Load()
	if _, err := kapi.Get(context.Background(), "/k", nil); err != nil {
		t.Fatal(err)
	}
	if bad.requests.Load() != badBefore {
		t.Fatal("a request went to a failed member although another was pinned")
	}
}

func TestDoFourXXIsFinal(t *testing.T) {
	notFound := newFakeMember(t, reply(http.StatusNotFound, `{"errorCode":100,"message":"Key not found","cause":"/k","index":9}`))
	other := newFakeMember(t, reply(http.StatusOK, okBody))
	c := newTestClient(t, Config{}, notFound.URL, other.URL)

	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	want := Error{Code: 100, Message: "Key not found", Cause: "/k", Index: 9}
	if e, ok := err.(Error); !ok || e != want {
		t.Fatalf("Get error = %#v, want the value %#v", err, want)
	}
	if !IsKeyNotFound(err) {
		t.Fatal("IsKeyNotFound = false")
	}
	if err.Error() != "100: Key not found (/k) [9]" {
		t.Fatalf("Error() = %q", err.Error())
	}
	if other.requests.Load() != 0 {
		t.Fatal("a 4xx answer was retried on another member")
	}
}

func TestDoAllEndpointsFail(t *testing.T) {
	down := refusedURL(t)
	gw := newFakeMember(t, reply(http.StatusBadGateway, "bad gateway"))
	unavailable := newFakeMember(t, reply(http.StatusServiceUnavailable, ""))
	c := newTestClient(t, Config{}, down, gw.URL, unavailable.URL)

	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	var cerr *ClusterError
	if !errors.As(err, &cerr) {
		t.Fatalf("error %T %v, want *ClusterError", err, err)
	}
	if len(cerr.Errors) != 3 {
		t.Fatalf("ClusterError has %d errors, want 3: %v", len(cerr.Errors), cerr)
	}
	wantMsgs := []string{
		"connect: connection refused",
		fmt.Sprintf("client: etcd member %s returns server error [Bad Gateway]", gw.URL),
		fmt.Sprintf("client: etcd member %s has no leader", unavailable.URL),
	}
	for i, want := range wantMsgs {
		if !strings.Contains(cerr.Errors[i].Error(), want) {
			t.Errorf("error #%d = %q, want it to contain %q", i, cerr.Errors[i], want)
		}
	}
	if !errors.Is(err, ErrClusterUnavailable) {
		t.Error("errors.Is(err, ErrClusterUnavailable) = false")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Error("errors.Is(err, syscall.ECONNREFUSED) = false: the cause is not reachable")
	}
}

func TestClusterErrorStrings(t *testing.T) {
	tests := []struct {
		errs        []error
		msg, detail string
	}{
		{nil, "client: etcd cluster is unavailable or misconfigured", ""},
		{[]error{errors.New("A")}, "client: etcd cluster is unavailable or misconfigured; error #0: A\n", "error #0: A\n"},
		{
			[]error{errors.New("A"), errors.New("B")},
			"client: etcd cluster is unavailable or misconfigured; error #0: A\n; error #1: B\n",
			"error #0: A\nerror #1: B\n",
		},
	}
	for _, tt := range tests {
		ce := &ClusterError{Errors: tt.errs}
		if got := ce.Error(); got != tt.msg {
			t.Errorf("Error() = %q, want %q", got, tt.msg)
		}
		if got := ce.Detail(); got != tt.detail {
			t.Errorf("Detail() = %q, want %q", got, tt.detail)
		}
	}
}

// mayHaveReached are failed attempts after which a write may have reached
// the member, with what the error says: the member answered 503 or a raft
// timeout, or dropped the connection after the request was sent.
var mayHaveReached = []struct {
	name    string
	handler http.HandlerFunc
	want    string
}{
	{"503", reply(http.StatusServiceUnavailable, ""), "has no leader"},
	{"500 raft timeout", reply(http.StatusInternalServerError, `{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out"}`), "has no leader"},
	{"EOF", closeConnection, "EOF"},
}

// TestPlainDeleteIsNotSentTwice: a delete that may have reached a member is
// not sent to another (it could delete a key set again in between); the
// error says the outcome is unknown, and the next call starts at the next
// member. A delete that provably never left (connection refused) moves on.
func TestPlainDeleteIsNotSentTwice(t *testing.T) {
	for _, f := range mayHaveReached {
		t.Run(f.name, func(t *testing.T) {
			first := newFakeMember(t, f.handler)
			second := newFakeMember(t, reply(http.StatusOK, okBody))
			c := newTestClient(t, Config{}, first.URL, second.URL)
			kapi := NewKeysAPI(c)

			_, err := kapi.Delete(context.Background(), "/k", nil)
			var cerr *ClusterError
			if !errors.As(err, &cerr) || len(cerr.Errors) != 1 || !strings.Contains(err.Error(), f.want) {
				t.Fatalf("error = %v, want a ClusterError of one attempt containing %q", err, f.want)
			}
			if !errors.Is(err, ErrOutcomeUnknown) {
				t.Fatal("errors.Is(err, ErrOutcomeUnknown) = false for a delete that reached a member")
			}
			if second.requests.Load() != 0 {
				t.Fatal("a delete that may have been applied was sent to a second member")
			}
			// The next call starts at the other member.
			if _, err := kapi.Delete(context.Background(), "/k", nil); err != nil {
				t.Fatalf("second call: %v", err)
			}
			if second.requests.Load() != 1 {
				t.Fatalf("second member got %d requests, want 1", second.requests.Load())
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		second := newFakeMember(t, reply(http.StatusOK, okBody))
		c := newTestClient(t, Config{}, refusedURL(t), second.URL)
		if _, err := NewKeysAPI(c).Delete(context.Background(), "/k", nil); err != nil {
			t.Fatalf("a delete that was never sent did not move on: %v", err)
		}
	})
}

// TestWritesThatCannotApplyTwiceFailOver: a compare-and-swap or a delete by
// index may be retried after an attempt that may have applied, since the
// server refuses a second application; if the retry meets that refusal
// (which the first attempt may have caused), the outcome is reported as
// unknown rather than as the conflict.
func TestWritesThatCannotApplyTwiceFailOver(t *testing.T) {
	tests := []struct {
		name   string
		call   func(KeysAPI) error
		answer http.HandlerFunc
	}{
		{"compare-and-swap by index then compare failed", func(k KeysAPI) error {
			_, err := k.Set(context.Background(), "/k", "v", &SetOptions{PrevIndex: 5})
			return err
		}, reply(http.StatusPreconditionFailed, `{"errorCode":101,"message":"Compare failed","cause":"[5 != 6]","index":9}`)},
		{"update by index then compare failed", func(k KeysAPI) error {
			_, err := k.Set(context.Background(), "/k", "v", &SetOptions{PrevExist: PrevExist, PrevIndex: 5})
			return err
		}, reply(http.StatusPreconditionFailed, `{"errorCode":101,"message":"Compare failed","cause":"[5 != 6]","index":9}`)},
		{"delete by index then test failed", func(k KeysAPI) error {
			_, err := k.Delete(context.Background(), "/k", &DeleteOptions{PrevIndex: 5})
			return err
		}, reply(http.StatusNotFound, `{"errorCode":100,"message":"Key not found","cause":"/k","index":9}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, oneShot := range []bool{false, true} {
				first := newFakeMember(t, closeConnection)
				second := newFakeMember(t, tt.answer)
				c := newTestClient(t, Config{OneShotWrites: oneShot}, first.URL, second.URL)
				err := tt.call(NewKeysAPI(c))
				if second.requests.Load() != 1 {
					t.Fatalf("OneShotWrites %v: the write was not retried on the next member", oneShot)
				}
				var cerr *ClusterError
				var etcdErr Error
				if !errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &cerr) || len(cerr.Errors) != 2 || !errors.As(err, &etcdErr) {
					t.Fatalf("OneShotWrites %v: error = %v, want outcome unknown from two attempts carrying the server's Error", oneShot, err)
				}
			}
		})
	}

	t.Run("compare-and-swap by index succeeds on the next member", func(t *testing.T) {
		first := newFakeMember(t, closeConnection)
		second := newFakeMember(t, reply(http.StatusOK, okBody))
		c := newTestClient(t, Config{OneShotWrites: true}, first.URL, second.URL)
		if _, err := NewKeysAPI(c).Set(context.Background(), "/k", "v", &SetOptions{PrevIndex: 5}); err != nil {
			t.Fatal(err)
		}
		if second.requests.Load() != 1 {
			t.Fatalf("second member got %d requests, want 1", second.requests.Load())
		}
	})
}

// TestWritesThatCouldApplyTwice: by default a plain set, a set by value, an
// update and an in-order create move on to the next member, as upstream's
// do; with Config.OneShotWrites they are not resent once they may have
// reached a member, and report an unknown outcome instead. (A create is
// never resent: TestCreateIsNotSentTwice.)
func TestWritesThatCouldApplyTwice(t *testing.T) {
	calls := []struct {
		name string
		call func(KeysAPI) error
	}{
		{"plain set", func(k KeysAPI) error { _, err := k.Set(context.Background(), "/k", "v", nil); return err }},
		{"set by value", func(k KeysAPI) error {
			_, err := k.Set(context.Background(), "/k", "v", &SetOptions{PrevValue: "old"})
			return err
		}},
		{"update", func(k KeysAPI) error { _, err := k.Update(context.Background(), "/k", "v"); return err }},
		{"create in order", func(k KeysAPI) error { _, err := k.CreateInOrder(context.Background(), "/q", "v", nil); return err }},
	}
	for _, c := range calls {
		t.Run(c.name+"/default resends", func(t *testing.T) {
			first := newFakeMember(t, closeConnection)
			second := newFakeMember(t, reply(http.StatusCreated, okBody))
			cl := newTestClient(t, Config{}, first.URL, second.URL)
			if err := c.call(NewKeysAPI(cl)); err != nil {
				t.Fatalf("not resent to the next member: %v", err)
			}
			if second.requests.Load() != 1 {
				t.Fatalf("second member got %d requests, want 1", second.requests.Load())
			}
		})
		t.Run(c.name+"/one-shot", func(t *testing.T) {
			first := newFakeMember(t, closeConnection)
			second := newFakeMember(t, reply(http.StatusCreated, okBody))
			cl := newTestClient(t, Config{OneShotWrites: true}, first.URL, second.URL)
			err := c.call(NewKeysAPI(cl))
			var cerr *ClusterError
			if !errors.As(err, &cerr) || len(cerr.Errors) != 1 || !errors.Is(err, ErrOutcomeUnknown) {
				t.Fatalf("error = %v, want one attempt with ErrOutcomeUnknown", err)
			}
			if second.requests.Load() != 0 {
				t.Fatal("sent to a second member")
			}
			if err := c.call(NewKeysAPI(cl)); err != nil || second.requests.Load() != 1 {
				t.Fatalf("the next call did not start at the next member: %v", err)
			}

			refused := newTestClient(t, Config{OneShotWrites: true}, refusedURL(t), second.URL)
			if err := c.call(NewKeysAPI(refused)); err != nil {
				t.Fatalf("a write refused at connect did not move on: %v", err)
			}
		})
	}
}

func TestConditionalSetIsRetried(t *testing.T) {
	first := newFakeMember(t, reply(http.StatusServiceUnavailable, ""))
	second := newFakeMember(t, reply(http.StatusOK, okBody))
	c := newTestClient(t, Config{}, first.URL, second.URL)
	if _, err := NewKeysAPI(c).Set(context.Background(), "/k", "v", &SetOptions{PrevIndex: 3}); err != nil {
		t.Fatalf("Set with PrevIndex: %v", err)
	}
	if second.requests.Load() != 1 {
		t.Fatal("a non-one-shot write was not retried on the next member")
	}
}

func TestHeaderTimeout(t *testing.T) {
	checkGoroutines(t)
	hanging := newFakeMember(t, nil)
	hanging.setHandler(hanging.hangForever())
	good := newFakeMember(t, reply(http.StatusOK, okBody))

	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 100 * time.Millisecond}, hanging.URL, good.URL)
	start := time.Now()
	if _, err := NewKeysAPI(c).Get(context.Background(), "/k", nil); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("failover took %v", d)
	}

	alone := newTestClient(t, Config{HeaderTimeoutPerRequest: 50 * time.Millisecond}, hanging.URL)
	_, err := NewKeysAPI(alone).Get(context.Background(), "/k", nil)
	want := fmt.Sprintf("client: endpoint %s exceeded header timeout", hanging.URL)
	var cerr *ClusterError
	if !errors.As(err, &cerr) || len(cerr.Errors) != 1 || cerr.Errors[0].Error() != want {
		t.Fatalf("error = %v, want a ClusterError with %q", err, want)
	}
}

func TestHeaderTimeoutDoesNotApplyToWatches(t *testing.T) {
	slow := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		reply(http.StatusOK, `{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":8,"createdIndex":8}}`)(w, r)
	})
	c := newTestClient(t, Config{HeaderTimeoutPerRequest: 50 * time.Millisecond}, slow.URL)
	resp, err := NewKeysAPI(c).Watcher("/k", nil).Next(context.Background())
	if err != nil {
		t.Fatalf("watch cut by the header timeout: %v", err)
	}
	if resp.Node.ModifiedIndex != 8 {
		t.Fatalf("event %+v", resp.Node)
	}
}

func TestContextErrorsAreReturnedAsThemselves(t *testing.T) {
	checkGoroutines(t)
	hanging := newFakeMember(t, nil)
	hanging.setHandler(hanging.hangForever())
	stalled := newFakeMember(t, nil)
	stalled.setHandler(stalled.stallAfterHeaders())

	for _, f := range []*fakeMember{hanging, stalled} {
		c := newTestClient(t, Config{}, f.URL, refusedURL(t))
		kapi := NewKeysAPI(c)

		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := kapi.Get(ctx, "/k", nil)
		cancel()
		if err != context.DeadlineExceeded {
			t.Errorf("deadline: error = %#v, want context.DeadlineExceeded itself", err)
		}

		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err = kapi.Get(ctx, "/k", nil)
		if err != context.Canceled {
			t.Errorf("cancel: error = %#v, want context.Canceled itself", err)
		}
	}
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
		wantMsg string
	}{
		{"empty 200", reply(http.StatusOK, ""), ErrEmptyBody, ""},
		{"not json", reply(http.StatusOK, "hello"), ErrInvalidJSON, ""},
		{"truncated json", reply(http.StatusOK, okBody[:30]), ErrInvalidJSON, ""},
		{"html 404 from a web server", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("<html><body>404 page not found</body></html>"))
		}, ErrInvalidJSON, ""},
		{"html 200 from a web server", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte("<!doctype html><title>hi</title>"))
		}, ErrInvalidJSON, ""},
		{"json array", reply(http.StatusOK, "[1,2]"), ErrInvalidJSON, ""},
		{"bad index header", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Etcd-Index", "12x")
			w.Write([]byte(okBody))
		}, nil, `parsing "12x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMember(t, tt.handler)
			c := newTestClient(t, Config{}, f.URL)
			_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
			if tt.want != nil && err != tt.want {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantMsg)
			}
		})
	}
}

func TestHugeBodies(t *testing.T) {
	checkGoroutines(t)
	claimsHuge := newFakeMember(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "10000000000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("{"))
	})
	endless := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	for _, f := range []*fakeMember{claimsHuge, endless} {
		c := newTestClient(t, Config{MaxResponseBytes: 1 << 20}, f.URL)
		_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("error = %v, want ErrResponseTooLarge", err)
		}
	}
}

func TestRedirects(t *testing.T) {
	target := newFakeMember(t, reply(http.StatusOK, okBody))
	redirecting := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
	c := newTestClient(t, Config{}, redirecting.URL)
	if _, err := NewKeysAPI(c).Set(context.Background(), "/k", "v", &SetOptions{TTL: 5 * time.Second}); err != nil {
		t.Fatalf("Set through a redirect: %v", err)
	}
	req, body := target.lastRequest(t)
	if req.Method != http.MethodPut || req.URL.Path != "/v2/keys/k" || body != "ttl=5&value=v" {
		t.Fatalf("redirected request %s %s body %q", req.Method, req.URL, body)
	}

	var loop *fakeMember
	loop = newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loop.URL+r.URL.RequestURI(), http.StatusFound)
	})
	noLocation := newFakeMember(t, reply(http.StatusFound, ""))
	badLocation := newFakeMember(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "http://[::1")
		w.WriteHeader(http.StatusFound)
	})
	tests := []struct {
		name  string
		f     *fakeMember
		check CheckRedirectFunc
		want  string
	}{
		{"loop with default policy", loop, nil, ErrTooManyRedirects.Error()},
		{"loop with permissive policy", loop, func(int) error { return nil }, errTooManyRedirectChecks.Error()},
		{"custom policy", loop, func(via int) error { return fmt.Errorf("stop at %d", via) }, "stop at 1"},
		{"no location", noLocation, nil, "location header not set"},
		{"bad location", badLocation, nil, "location header not valid URL: http://[::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, Config{CheckRedirect: tt.check}, tt.f.URL)
			_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
			var cerr *ClusterError
			if !errors.As(err, &cerr) || len(cerr.Errors) != 1 || cerr.Errors[0].Error() != tt.want {
				t.Fatalf("error = %v, want a ClusterError with %q", err, tt.want)
			}
		})
	}
}

func TestBasicAuthIsSent(t *testing.T) {
	f := newFakeMember(t, reply(http.StatusOK, okBody))
	c := newTestClient(t, Config{Username: "root", Password: "p@ss"}, f.URL)
	if _, err := NewKeysAPI(c).Get(context.Background(), "/k", nil); err != nil {
		t.Fatal(err)
	}
	req, _ := f.lastRequest(t)
	if u, p, ok := req.BasicAuth(); !ok || u != "root" || p != "p@ss" {
		t.Fatalf("basic auth = %q %q %v", u, p, ok)
	}
}

func TestGetVersionFromFake(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    *Versions
		wantErr error
	}{
		{"ok", reply(http.StatusOK, `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`), &Versions{"3.4.23", "3.4.0"}, nil},
		{"empty", reply(http.StatusOK, ""), nil, ErrEmptyBody},
		{"html", reply(http.StatusOK, "<html>"), nil, ErrInvalidJSON},
		{"404 text", reply(http.StatusNotFound, "404 page not found"), nil, ErrInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMember(t, tt.handler)
			v, err := newTestClient(t, Config{}, f.URL).GetVersion(context.Background())
			if err != tt.wantErr || (tt.want != nil && *v != *tt.want) {
				t.Fatalf("GetVersion = %v, %v; want %v, %v", v, err, tt.want, tt.wantErr)
			}
			req, _ := f.lastRequest(t)
			if req.URL.String() != "/version?quorum=false&recursive=false&sorted=false" {
				t.Fatalf("request %s", req.URL)
			}
		})
	}
}

func TestWatcherRetriesEmptyBodyAndAdvances(t *testing.T) {
	var calls int
	f := newFakeMember(t, nil)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls <= 2 {
			reply(http.StatusOK, "")(w, r)
			return
		}
		reply(http.StatusOK, fmt.Sprintf(`{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":%d,"createdIndex":1}}`, 10+calls))(w, r)
	})
	c := newTestClient(t, Config{}, f.URL)
	w := NewKeysAPI(c).Watcher("/k", &WatcherOptions{AfterIndex: 4, Recursive: true})
	resp, err := w.Next(context.Background())
	if err != nil || resp.Node.ModifiedIndex != 13 {
		t.Fatalf("Next = %+v, %v", resp, err)
	}
	f.mu.Lock()
	firstQuery := f.received[0].URL.RawQuery
	f.mu.Unlock()
	if firstQuery != "recursive=true&wait=true&waitIndex=5" {
		t.Fatalf("first watch query %q, want waitIndex=AfterIndex+1", firstQuery)
	}
	if _, err := w.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, _ := f.lastRequest(t)
	if req.URL.RawQuery != "recursive=true&wait=true&waitIndex=14" {
		t.Fatalf("next watch query %q, want waitIndex=14", req.URL.RawQuery)
	}
}

func TestConcurrentUse(t *testing.T) {
	down := refusedURL(t)
	good := newFakeMember(t, reply(http.StatusOK, okBody))
	c := newTestClient(t, Config{}, down, good.URL)
	kapi := NewKeysAPI(c)
	errc := make(chan error, 32)
	for i := 0; i < 32; i++ {
		go func(i int) {
			var err error
			switch i % 4 {
			case 0:
				_, err = kapi.Get(context.Background(), "/k", nil)
			case 1:
				err = c.SetEndpoints([]string{down, good.URL})
			case 2:
				_ = c.Endpoints()
			case 3:
				_, err = kapi.Set(context.Background(), "/k", "v", nil)
			}
			errc <- err
		}(i)
	}
	for i := 0; i < 32; i++ {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// TestLargeAnswers: an answer too large to buffer is decoded as it
// arrives; a malformed one is ErrInvalidJSON, one cut short fails over.
func TestLargeAnswers(t *testing.T) {
	var big strings.Builder
	big.WriteString(`{"action":"get","node":{"key":"/d","dir":true,"nodes":[`)
	for i := 0; i < 3000; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"key":"/d/%d","value":"%s","modifiedIndex":%d,"createdIndex":%d}`, i, strings.Repeat("v", 1000), i+5, i+5)
	}
	big.WriteString(`],"modifiedIndex":4,"createdIndex":4}}`)
	body := big.String()
	chunked := func(b string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Etcd-Index", "3005")
			for rest := b; len(rest) > 0; { // flushed pieces: no Content-Length
				n := min(len(rest), 64<<10)
				w.Write([]byte(rest[:n]))
				w.(http.Flusher).Flush()
				rest = rest[n:]
			}
		}
	}

	ok := newFakeMember(t, chunked(body))
	resp, err := NewKeysAPI(newTestClient(t, Config{}, ok.URL)).Get(context.Background(), "/d", nil)
	if err != nil || len(resp.Node.Nodes) != 3000 || resp.Index != 3005 || resp.Node.Nodes[2999].ModifiedIndex != 3004 {
		t.Fatalf("Get of a large answer: %v", err)
	}

	bad := newFakeMember(t, chunked(body[:len(body)-2]+"]]"))
	if _, err := NewKeysAPI(newTestClient(t, Config{}, bad.URL)).Get(context.Background(), "/d", nil); err != ErrInvalidJSON {
		t.Fatalf("malformed large answer: %v, want ErrInvalidJSON", err)
	}

	cut := newFakeMember(t, func(w http.ResponseWriter, r *http.Request) {
		chunked(body[:2<<20])(w, r)
		panic(http.ErrAbortHandler) // ends the connection mid-answer
	})
	c := newTestClient(t, Config{}, cut.URL, ok.URL)
	if resp, err := NewKeysAPI(c).Get(context.Background(), "/d", nil); err != nil || len(resp.Node.Nodes) != 3000 {
		t.Fatalf("a large answer cut short did not fail over: %v", err)
	}

	limited := newTestClient(t, Config{MaxResponseBytes: 1<<20 + 1000}, ok.URL)
	if _, err := NewKeysAPI(limited).Get(context.Background(), "/d", nil); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("answer over MaxResponseBytes: %v", err)
	}
}
