package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"strings"
	"testing"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// wantAuthError checks that err is the auth API's error with message msg.
func wantAuthError(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var ae authError
	if !errors.As(err, &ae) || ae.Message != msg {
		t.Fatalf("%s: got %T %v, want auth error %q", what, err, err, msg)
	}
}

// wantUnauthorized checks that err is the keys API's errorCode 110.
func wantUnauthorized(t *testing.T, what string, err error) {
	t.Helper()
	var e Error
	if !errors.As(err, &e) || e.Code != ErrorCodeUnauthorized {
		t.Fatalf("%s: got %T %v, want Error with code 110", what, err, err)
	}
}

// TestAuthRealEtcd walks through the v2 auth API on a member of its own,
// since enabling auth changes the whole server. The steps depend on each
// other and run in order.
func TestAuthRealEtcd(t *testing.T) {
	t.Parallel()
	cluster := etcdtest.Start(t, 1)
	ep := cluster.ClientURLs()
	ctx := boundedCtx(t, 60*time.Second)

	anon := clientFor(t, Config{Endpoints: ep})
	root := clientFor(t, Config{Endpoints: ep, Username: "root", Password: "rootpw"})
	users, roles := NewAuthUserAPI(root), NewAuthRoleAPI(root)

	// Enabling without a root user: 409 with the server's reason.
	err := NewAuthAPI(anon).Enable(ctx)
	wantAuthError(t, "Enable without root", err, "auth: No root user available, please create one")

	// Users and roles can be managed before auth is on.
	if err := NewAuthUserAPI(anon).AddUser(ctx, "root", "rootpw"); err != nil {
		t.Fatalf("AddUser root: %v", err)
	}
	if err := NewAuthAPI(anon).Enable(ctx); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	// Enabled: an anonymous second Enable is refused for lack of
	// credentials, root's as a conflict.
	wantAuthError(t, "anonymous Enable when enabled", NewAuthAPI(anon).Enable(ctx), "Insufficient credentials")
	if err := NewAuthAPI(root).Enable(ctx); err == nil {
		t.Fatal("second Enable succeeded")
	}

	// The guest role exists with read-write on everything, so anonymous
	// requests still work until it is revoked.
	guest, err := roles.GetRole(ctx, "guest")
	if err != nil {
		t.Fatalf("GetRole guest: %v", err)
	}
	if fmt.Sprint(guest.Permissions.KV.Read, guest.Permissions.KV.Write) != "[/*] [/*]" {
		t.Fatalf("guest permissions %+v, want read and write on /*", guest.Permissions)
	}
	kAnon := NewKeysAPI(anon)
	prefix := etcdtest.UniquePrefix(t)
	if _, err := kAnon.Set(ctx, prefix+"/open", "1", nil); err != nil {
		t.Fatalf("anonymous Set with guest access: %v", err)
	}
	guest, err = roles.RevokeRoleKV(ctx, "guest", []string{"/*"}, ReadWritePermission)
	if err != nil {
		t.Fatalf("RevokeRoleKV guest: %v", err)
	}
	if len(guest.Permissions.KV.Read)+len(guest.Permissions.KV.Write) != 0 {
		t.Fatalf("guest keeps %+v", guest.Permissions)
	}

	t.Run("MissingOrWrongCredentials", func(t *testing.T) {
		for _, tc := range []struct{ name, user, pass string }{
			{"none", "", ""},
			{"wrong password", "root", "nope"},
			{"unknown user", "mallory", "x"},
		} {
			c := clientFor(t, Config{Endpoints: ep, Username: tc.user, Password: tc.pass})
			_, err := NewKeysAPI(c).Get(ctx, prefix+"/open", nil)
			wantUnauthorized(t, tc.name, err)
			if err := errors.As(err, &Error{}); !err {
				t.Fatalf("%s: errors.As(err, &Error{}) is false", tc.name)
			}
		}
		if _, err := NewKeysAPI(root).Get(ctx, prefix+"/open", nil); err != nil {
			t.Fatalf("root Get: %v", err)
		}
	})

	t.Run("UsersRolesAndPermissions", func(t *testing.T) {
		if err := roles.AddRole(ctx, "app"); err != nil {
			t.Fatalf("AddRole: %v", err)
		}
		wantAuthError(t, "AddRole twice", roles.AddRole(ctx, "app"), "auth: Role app already exists.")

		role, err := roles.GrantRoleKV(ctx, "app", []string{prefix + "/app/*"}, ReadPermission)
		if err != nil {
			t.Fatalf("GrantRoleKV read: %v", err)
		}
		if fmt.Sprint(role.Permissions.KV.Read) != fmt.Sprint([]string{prefix + "/app/*"}) || len(role.Permissions.KV.Write) != 0 {
			t.Fatalf("after read grant: %+v", role.Permissions)
		}
		if role, err = roles.GrantRoleKV(ctx, "app", []string{prefix + "/app/*"}, WritePermission); err != nil {
			t.Fatalf("GrantRoleKV write: %v", err)
		}
		if fmt.Sprint(role.Permissions.KV.Write) != fmt.Sprint([]string{prefix + "/app/*"}) {
			t.Fatalf("after write grant: %+v", role.Permissions)
		}
		_, err = roles.GrantRoleKV(ctx, "app", []string{prefix + "/app/*"}, ReadPermission)
		wantAuthError(t, "duplicate grant", err, "auth: Granting duplicate read permission "+prefix+"/app/*")

		if err := users.AddUser(ctx, "alice", "old"); err != nil {
			t.Fatalf("AddUser: %v", err)
		}
		u, err := users.GrantUser(ctx, "alice", []string{"app"})
		if err != nil {
			t.Fatalf("GrantUser: %v", err)
		}
		if u.User != "alice" || fmt.Sprint(u.Roles) != "[app]" {
			t.Fatalf("GrantUser returned %+v, want alice with [app]", u)
		}
		// GET answers role objects; the names must come back exactly.
		u, err = users.GetUser(ctx, "alice")
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if u.User != "alice" || len(u.Roles) != 1 || u.Roles[0] != "app" {
			t.Fatalf("GetUser returned %+v (roles %q), want alice with exactly [app]", u, u.Roles)
		}
		if u, err = users.GetUser(ctx, "root"); err != nil || fmt.Sprint(u.Roles) != "[root]" {
			t.Fatalf("GetUser root: %+v, %v", u, err)
		}

		alice := clientFor(t, Config{Endpoints: ep, Username: "alice", Password: "old"})
		kAlice := NewKeysAPI(alice)
		if _, err := kAlice.Set(ctx, prefix+"/app/k", "v", nil); err != nil {
			t.Fatalf("alice Set under her prefix: %v", err)
		}
		_, err = kAlice.Set(ctx, prefix+"/other", "v", nil)
		wantUnauthorized(t, "alice Set outside her prefix", err)

		// Revoke write: reads still work, writes do not.
		if role, err = roles.RevokeRoleKV(ctx, "app", []string{prefix + "/app/*"}, WritePermission); err != nil {
			t.Fatalf("RevokeRoleKV write: %v", err)
		}
		if len(role.Permissions.KV.Write) != 0 || len(role.Permissions.KV.Read) != 1 {
			t.Fatalf("after revoking write: %+v", role.Permissions)
		}
		if _, err := kAlice.Get(ctx, prefix+"/app/k", nil); err != nil {
			t.Fatalf("alice Get after write revoke: %v", err)
		}
		_, err = kAlice.Set(ctx, prefix+"/app/k", "w", nil)
		wantUnauthorized(t, "alice Set after write revoke", err)
		// Revoking what is not granted changes nothing and fails.
		_, err = roles.RevokeRoleKV(ctx, "app", []string{prefix + "/app/*"}, WritePermission)
		wantAuthError(t, "revoke of an ungranted permission", err, "auth: Role not updated. Use grant/revoke to update the role.")

		// ChangePassword: the old password stops working.
		u, err = users.ChangePassword(ctx, "alice", "new")
		if err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if u.User != "alice" || fmt.Sprint(u.Roles) != "[app]" {
			t.Fatalf("ChangePassword returned %+v", u)
		}
		_, err = kAlice.Get(ctx, prefix+"/app/k", nil)
		wantUnauthorized(t, "old password", err)
		aliceNew := clientFor(t, Config{Endpoints: ep, Username: "alice", Password: "new"})
		if _, err := NewKeysAPI(aliceNew).Get(ctx, prefix+"/app/k", nil); err != nil {
			t.Fatalf("new password: %v", err)
		}

		// Lists (sorted by the server).
		names, err := users.ListUsers(ctx)
		if err != nil || fmt.Sprint(names) != "[alice root]" {
			t.Fatalf("ListUsers = %v, %v; want [alice root]", names, err)
		}
		names, err = roles.ListRoles(ctx)
		if err != nil || fmt.Sprint(names) != "[app guest root]" {
			t.Fatalf("ListRoles = %v, %v; want [app guest root]", names, err)
		}
		// Without root's credentials: the server's message, except for
		// ListRoles, which reports the status only, as upstream.
		_, err = NewAuthUserAPI(aliceNew).ListUsers(ctx)
		wantAuthError(t, "ListUsers as alice", err, "Insufficient credentials")
		_, err = NewAuthRoleAPI(aliceNew).ListRoles(ctx)
		if err == nil || err.Error() != "unexpected status code 401" {
			t.Fatalf("ListRoles as alice: %v, want unexpected status code 401", err)
		}

		u, err = users.RevokeUser(ctx, "alice", []string{"app"})
		if err != nil {
			t.Fatalf("RevokeUser: %v", err)
		}
		if u.User != "alice" || len(u.Roles) != 0 {
			t.Fatalf("RevokeUser returned %+v", u)
		}
		_, err = users.RevokeUser(ctx, "alice", []string{"app"})
		wantAuthError(t, "RevokeUser twice", err, "auth: Revoking ungranted role app for user alice")

		if err := users.RemoveUser(ctx, "alice"); err != nil {
			t.Fatalf("RemoveUser: %v", err)
		}
		if err := roles.RemoveRole(ctx, "app"); err != nil {
			t.Fatalf("RemoveRole: %v", err)
		}
		wantAuthError(t, "RemoveUser root", users.RemoveUser(ctx, "root"), "auth: Cannot delete root user while auth is enabled.")
	})

	t.Run("NotFound", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			call       func() error
			user, role bool
		}{
			{"GetUser", func() error { _, err := users.GetUser(ctx, "nobody"); return err }, true, false},
			{"GrantUser", func() error { _, err := users.GrantUser(ctx, "nobody", []string{"root"}); return err }, true, false},
			{"RevokeUser", func() error { _, err := users.RevokeUser(ctx, "nobody", []string{"root"}); return err }, true, false},
			{"RemoveUser", func() error { return users.RemoveUser(ctx, "nobody") }, true, false},
			{"GetRole", func() error { _, err := roles.GetRole(ctx, "nobody"); return err }, false, true},
			{"GrantRoleKV", func() error { _, err := roles.GrantRoleKV(ctx, "nobody", []string{"/x"}, ReadPermission); return err }, false, true},
			{"RevokeRoleKV", func() error { _, err := roles.RevokeRoleKV(ctx, "nobody", []string{"/x"}, ReadPermission); return err }, false, true},
			{"RemoveRole", func() error { return roles.RemoveRole(ctx, "nobody") }, false, true},
		} {
			err := tc.call()
			if err == nil {
				t.Errorf("%s of an unknown name succeeded", tc.name)
				continue
			}
			if IsUserNotFound(err) != tc.user || IsRoleNotFound(err) != tc.role {
				t.Errorf("%s: %q: IsUserNotFound %v, IsRoleNotFound %v; want %v, %v",
					tc.name, err, IsUserNotFound(err), IsRoleNotFound(err), tc.user, tc.role)
			}
			// Wrapped errors are recognised too.
			if w := fmt.Errorf("wrapped: %w", err); IsUserNotFound(w) != tc.user || IsRoleNotFound(w) != tc.role {
				t.Errorf("%s: wrapped error not recognised", tc.name)
			}
		}
		// ChangePassword of an unknown user creates it: 201, which is not
		// the 200 a change answers.
		_, err := users.ChangePassword(ctx, "ghost", "x")
		if err == nil || err.Error() != "unexpected status code 201" || IsUserNotFound(err) {
			t.Errorf("ChangePassword of an unknown user: %v, want unexpected status code 201", err)
		}
		if _, err := users.GetUser(ctx, "ghost"); err != nil {
			t.Errorf("ChangePassword did not create the user: %v", err)
		}
		if err := users.RemoveUser(ctx, "ghost"); err != nil {
			t.Errorf("RemoveUser ghost: %v", err)
		}
		for _, err := range []error{nil, errors.New("auth: User x does not exist."), Error{Code: 100}} {
			if IsUserNotFound(err) || IsRoleNotFound(err) {
				t.Errorf("%v counted as not found", err)
			}
		}
	})

	t.Run("Disable", func(t *testing.T) {
		alice := clientFor(t, Config{Endpoints: ep, Username: "nobody", Password: "x"})
		wantAuthError(t, "Disable as non-root", NewAuthAPI(alice).Disable(ctx), "Insufficient credentials")
		if err := NewAuthAPI(root).Disable(ctx); err != nil {
			t.Fatalf("Disable: %v", err)
		}
		wantAuthError(t, "Disable twice", NewAuthAPI(root).Disable(ctx), "auth: already disabled")
		// Anonymous access works again.
		if _, err := kAnon.Get(ctx, prefix+"/open", nil); err != nil {
			t.Fatalf("anonymous Get after Disable: %v", err)
		}
	})
}

// TestAuthRequests checks the requests the auth APIs build, byte for byte
// where upstream's shape matters.
func TestAuthRequests(t *testing.T) {
	ep := url.URL{Scheme: "http", Host: "example.com:2379"}
	rootEP := url.URL{Scheme: "http", Host: "example.com:2379", Path: "/base"}
	for _, tc := range []struct {
		name        string
		act         httpAction
		ep          url.URL
		method, url string
		contentType string
		body        string
	}{
		{"enable", &authAction{method: "PUT", kind: "enable"}, ep, "PUT", "http://example.com:2379/v2/auth/enable", "", ""},
		{"disable", &authAction{method: "DELETE", kind: "enable"}, ep, "DELETE", "http://example.com:2379/v2/auth/enable", "", ""},
		{"list users", &authAction{method: "GET", kind: "users", jsonType: true}, ep, "GET", "http://example.com:2379/v2/auth/users", "application/json", ""},
		{"add user", &authAction{method: "PUT", kind: "users", name: "bob", body: &User{User: "bob", Password: "pw"}}, ep,
			"PUT", "http://example.com:2379/v2/auth/users/bob", "application/json", `{"user":"bob","password":"pw","roles":null}`},
		{"grant user", &authAction{method: "PUT", kind: "users", name: "bob", body: &User{User: "bob", Grant: []string{"r"}}}, ep,
			"PUT", "http://example.com:2379/v2/auth/users/bob", "application/json", `{"user":"bob","roles":null,"grant":["r"]}`},
		{"add role", &authAction{method: "PUT", kind: "roles", name: "r", body: &Role{Role: "r"}}, rootEP,
			"PUT", "http://example.com:2379/base/v2/auth/roles/r", "application/json", `{"role":"r","permissions":{"kv":{"read":null,"write":null}}}`},
		{"grant role", &authAction{method: "PUT", kind: "roles", name: "r", body: &Role{Role: "r", Grant: &Permissions{KV: kvPermission([]string{"/a/*"}, ReadWritePermission)}}}, ep,
			"PUT", "http://example.com:2379/v2/auth/roles/r", "application/json",
			`{"role":"r","permissions":{"kv":{"read":null,"write":null}},"grant":{"kv":{"read":["/a/*"],"write":["/a/*"]}}}`},
		{"revoke role", &authAction{method: "PUT", kind: "roles", name: "r", body: &Role{Role: "r", Revoke: &Permissions{KV: kvPermission([]string{"/a"}, WritePermission)}}}, ep,
			"PUT", "http://example.com:2379/v2/auth/roles/r", "application/json",
			`{"role":"r","permissions":{"kv":{"read":null,"write":null}},"revoke":{"kv":{"read":null,"write":["/a"]}}}`},
		{"odd name", &authAction{method: "GET", kind: "users", name: "a b?c"}, ep, "GET", "http://example.com:2379/v2/auth/users/a%20b%3Fc", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.act.HTTPRequest(tc.ep)
			if req.Method != tc.method || req.URL.String() != tc.url {
				t.Errorf("request %s %s, want %s %s", req.Method, req.URL, tc.method, tc.url)
			}
			if got := req.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			var body string
			if req.Body != nil {
				b, _ := io.ReadAll(req.Body)
				body = string(b)
			}
			if body != tc.body {
				t.Errorf("body %s, want %s", body, tc.body)
			}
		})
	}
	if p := kvPermission([]string{"/x"}, PermissionType(9)); p.Read != nil || p.Write != nil {
		t.Errorf("unknown permission type gave %+v", p)
	}
}

// TestUserRolesDecoding checks the role names decoded from each shape etcd
// answers, against a fake server.
func TestUserRolesDecoding(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
		wantErr    bool
	}{
		{"names", `{"user":"a","roles":["app","ops"]}`, []string{"app", "ops"}, false},
		{"objects", `{"user":"a","roles":[{"role":"app","permissions":{"kv":{"read":["/*"],"write":[]}}},{"role":"ops"}]}`, []string{"app", "ops"}, false},
		{"null", `{"user":"a","roles":null}`, nil, false},
		{"empty", `{"user":"a","roles":[]}`, []string{}, false},
		{"number", `{"user":"a","roles":[1]}`, nil, true},
		{"not json", `<html>`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &staticClient{status: http.StatusOK, body: tc.body}
			u, err := (&httpAuthUserAPI{client: c}).GetUser(boundedCtx(t, time.Second), "a")
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.User != "a" || (u.Roles == nil) != (tc.want == nil) || strings.Join(u.Roles, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %+v (roles %q), want roles %q", u, u.Roles, tc.want)
			}
		})
	}
}

// staticClient answers every request with one status and body.
type staticClient struct {
	status int
	body   string
}

func (s *staticClient) Do(_ context.Context, act httpAction) (*http.Response, []byte, error) {
	return &http.Response{StatusCode: s.status, Header: http.Header{}}, []byte(s.body), nil
}
