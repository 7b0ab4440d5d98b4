package client

import (
	"io"
	"net/url"
	"testing"
	"time"
)

// TestActionRequests pins the exact requests the keys API sends: method,
// escaped path, query (sorted, as url.Values.Encode writes it), form body
// and content type, the same bytes upstream's client puts on the wire.
func TestActionRequests(t *testing.T) {
	ep := url.URL{Scheme: "http", Host: "h:2379"}
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		act         httpAction
		method      string
		url         string
		body        string
		contentType string
	}{
		{"get", &getAction{Prefix: "/v2/keys", Key: "/k"}, "GET", "http://h:2379/v2/keys/k?quorum=false&recursive=false&sorted=false", "", ""},
		{"get all options", &getAction{Prefix: "/v2/keys", Key: "/k", GetOptions: GetOptions{Recursive: true, Sort: true, Quorum: true}},
			"GET", "http://h:2379/v2/keys/k?quorum=true&recursive=true&sorted=true", "", ""},
		{"get root", &getAction{Prefix: "/v2/keys"}, "GET", "http://h:2379/v2/keys?quorum=false&recursive=false&sorted=false", "", ""},
		{"get key without slash", &getAction{Prefix: "v2/keys", Key: "k"}, "GET", "http://h:2379/v2/keys/k?quorum=false&recursive=false&sorted=false", "", ""},
		{"get keeps trailing slash", &getAction{Prefix: "/v2/keys", Key: "/dir/"}, "GET", "http://h:2379/v2/keys/dir/?quorum=false&recursive=false&sorted=false", "", ""},
		{"get cleans dots", &getAction{Prefix: "/v2/keys", Key: "/a/../b//c"}, "GET", "http://h:2379/v2/keys/b/c?quorum=false&recursive=false&sorted=false", "", ""},
		{"get escapes", &getAction{Prefix: "/v2/keys", Key: "/a b/%?#ü"}, "GET", "http://h:2379/v2/keys/a%20b/%25%3F%23%C3%BC?quorum=false&recursive=false&sorted=false", "", ""},
		{"set", &setAction{Prefix: "/v2/keys", Key: "/k", Value: "v&w=x"}, "PUT", "http://h:2379/v2/keys/k", "value=v%26w%3Dx", form},
		{"set all options", &setAction{Prefix: "/v2/keys", Key: "/k", Value: "v", SetOptions: SetOptions{
			PrevValue: "old value", PrevIndex: 12, PrevExist: PrevExist, TTL: 1500 * time.Millisecond, Refresh: true, NoValueOnSuccess: true}},
			"PUT", "http://h:2379/v2/keys/k?noValueOnSuccess=true&prevExist=true&prevIndex=12&prevValue=old+value", "refresh=true&ttl=1&value=v", form},
		{"set sub-second ttl sends 0", &setAction{Prefix: "/v2/keys", Key: "/k", SetOptions: SetOptions{TTL: 500 * time.Millisecond}},
			"PUT", "http://h:2379/v2/keys/k", "ttl=0&value=", form},
		{"set negative ttl ignored", &setAction{Prefix: "/v2/keys", Key: "/k", SetOptions: SetOptions{TTL: -time.Second}},
			"PUT", "http://h:2379/v2/keys/k", "value=", form},
		{"set dir ignores value and prevValue", &setAction{Prefix: "/v2/keys", Key: "/d", Value: "x", SetOptions: SetOptions{Dir: true, PrevValue: "p", PrevExist: PrevNoExist, TTL: time.Minute}},
			"PUT", "http://h:2379/v2/keys/d?dir=true&prevExist=false", "ttl=60", form},
		{"delete", &deleteAction{Prefix: "/v2/keys", Key: "/k"}, "DELETE", "http://h:2379/v2/keys/k", "", form},
		{"delete all options", &deleteAction{Prefix: "/v2/keys", Key: "/k", DeleteOptions: DeleteOptions{PrevValue: "p", PrevIndex: 3, Recursive: true, Dir: true}},
			"DELETE", "http://h:2379/v2/keys/k?dir=true&prevIndex=3&prevValue=p&recursive=true", "", form},
		{"create in order", &createInOrderAction{Prefix: "/v2/keys", Dir: "/q", Value: "job", TTL: 2 * time.Second}, "POST", "http://h:2379/v2/keys/q", "ttl=2&value=job", form},
		{"watch", &waitAction{Prefix: "/v2/keys", Key: "/k"}, "GET", "http://h:2379/v2/keys/k?recursive=false&wait=true&waitIndex=0", "", ""},
		{"watch recursive from index", &waitAction{Prefix: "/v2/keys", Key: "/k", WaitIndex: 8, Recursive: true}, "GET", "http://h:2379/v2/keys/k?recursive=true&wait=true&waitIndex=8", "", ""},
		{"version", &getAction{Prefix: "/version"}, "GET", "http://h:2379/version?quorum=false&recursive=false&sorted=false", "", ""},
		{"members list", &membersAction{method: "GET"}, "GET", "http://h:2379/v2/members", "", ""},
		{"members leader", &membersAction{method: "GET", memberID: defaultLeaderSuffix}, "GET", "http://h:2379/v2/members/leader", "", ""},
		{"members add", &membersAction{method: "POST", peerURLs: []string{"http://10.0.0.1:2380"}}, "POST", "http://h:2379/v2/members", `{"peerURLs":["http://10.0.0.1:2380"]}`, "application/json"},
		{"members remove", &membersAction{method: "DELETE", memberID: "8e9e05c52164694d"}, "DELETE", "http://h:2379/v2/members/8e9e05c52164694d", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.act.HTTPRequest(ep)
			if req.Method != tt.method {
				t.Errorf("method %s, want %s", req.Method, tt.method)
			}
			if got := req.URL.String(); got != tt.url {
				t.Errorf("url\n got %s\nwant %s", got, tt.url)
			}
			if req.Host != "h:2379" {
				t.Errorf("host %q", req.Host)
			}
			var body string
			if req.Body != nil {
				b, err := io.ReadAll(req.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
				if req.ContentLength != int64(len(b)) {
					t.Errorf("ContentLength %d, body %d bytes", req.ContentLength, len(b))
				}
				again, err := req.GetBody()
				if err != nil {
					t.Fatal(err)
				}
				if b2, _ := io.ReadAll(again); string(b2) != body {
					t.Errorf("GetBody gives %q, want %q", b2, body)
				}
			}
			if body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if got := req.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("content type %q, want %q", got, tt.contentType)
			}
		})
	}
}

func TestRetryPolicies(t *testing.T) {
	tests := []struct {
		act  httpAction
		want retryPolicy
	}{
		{&setAction{}, resendUnlessStrict},
		{&setAction{SetOptions: SetOptions{PrevValue: "v"}}, resendUnlessStrict},
		{&setAction{SetOptions: SetOptions{PrevExist: PrevExist}}, resendUnlessStrict},
		{&setAction{SetOptions: SetOptions{PrevExist: PrevNoExist}}, retryIfUnsent},
		{&setAction{SetOptions: SetOptions{PrevExist: PrevNoExist, Dir: true}}, retryIfUnsent},
		// etcd ignores PrevIndex and PrevValue on a create.
		{&setAction{SetOptions: SetOptions{PrevExist: PrevNoExist, PrevIndex: 3}}, retryIfUnsent},
		{&setAction{SetOptions: SetOptions{PrevExist: PrevNoExist, PrevValue: "v"}}, retryIfUnsent},
		{&setAction{SetOptions: SetOptions{PrevIndex: 3}}, retryAlways},
		{&setAction{SetOptions: SetOptions{PrevExist: PrevExist, PrevIndex: 3}}, retryAlways},
		{&deleteAction{}, retryIfUnsent},
		{&deleteAction{DeleteOptions: DeleteOptions{PrevValue: "v"}}, retryIfUnsent},
		{&deleteAction{DeleteOptions: DeleteOptions{PrevIndex: 3}}, retryAlways},
		{&getAction{}, retryAlways},
		{&createInOrderAction{}, resendUnlessStrict},
		{&waitAction{}, retryAlways},
	}
	for _, tt := range tests {
		if got := retryPolicyOf(tt.act); got != tt.want {
			t.Errorf("retryPolicyOf(%T %+v) = %v, want %v", tt.act, tt.act, got, tt.want)
		}
	}
}
