package client_test

// A compile-time check of the exported API of upstream
// go.etcd.io/etcd/client/v2 v2.305.35 (from `go doc -all`) against this
// package: if a name, a type, a field's type or a signature differs, this
// file does not compile. Pointers are used for fields and variables because
// *T1 is assignable to *T2 only when T1 and T2 are identical.
//
// Deliberate difference: Client.GetVersion returns *client.Versions (same
// fields and JSON tags) instead of etcd's *version.Versions.

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/v2keys/client"
)

// Constants: each difference below must be 0, and uint(negative) does not
// compile, so both orders together pin the value.
const (
	_ = uint(client.ErrorCodeKeyNotFound-100) + uint(100-client.ErrorCodeKeyNotFound)
	_ = uint(client.ErrorCodeTestFailed-101) + uint(101-client.ErrorCodeTestFailed)
	_ = uint(client.ErrorCodeNotFile-102) + uint(102-client.ErrorCodeNotFile)
	_ = uint(client.ErrorCodeNotDir-104) + uint(104-client.ErrorCodeNotDir)
	_ = uint(client.ErrorCodeNodeExist-105) + uint(105-client.ErrorCodeNodeExist)
	_ = uint(client.ErrorCodeRootROnly-107) + uint(107-client.ErrorCodeRootROnly)
	_ = uint(client.ErrorCodeDirNotEmpty-108) + uint(108-client.ErrorCodeDirNotEmpty)
	_ = uint(client.ErrorCodeUnauthorized-110) + uint(110-client.ErrorCodeUnauthorized)

	_ = uint(client.ErrorCodePrevValueRequired-201) + uint(201-client.ErrorCodePrevValueRequired)
	_ = uint(client.ErrorCodeTTLNaN-202) + uint(202-client.ErrorCodeTTLNaN)
	_ = uint(client.ErrorCodeIndexNaN-203) + uint(203-client.ErrorCodeIndexNaN)
	_ = uint(client.ErrorCodeInvalidField-209) + uint(209-client.ErrorCodeInvalidField)
	_ = uint(client.ErrorCodeInvalidForm-210) + uint(210-client.ErrorCodeInvalidForm)

	_ = uint(client.ErrorCodeRaftInternal-300) + uint(300-client.ErrorCodeRaftInternal)
	_ = uint(client.ErrorCodeLeaderElect-301) + uint(301-client.ErrorCodeLeaderElect)

	_ = uint(client.ErrorCodeWatcherCleared-400) + uint(400-client.ErrorCodeWatcherCleared)
	_ = uint(client.ErrorCodeEventIndexCleared-401) + uint(401-client.ErrorCodeEventIndexCleared)

	_ = uint(client.EndpointSelectionRandom-0) + uint(0-client.EndpointSelectionRandom)
	_ = uint(client.EndpointSelectionPrioritizeLeader-1) + uint(1-client.EndpointSelectionPrioritizeLeader)

	_ = uint(client.ReadPermission-0) + uint(0-client.ReadPermission)
	_ = uint(client.WritePermission-1) + uint(1-client.WritePermission)
	_ = uint(client.ReadWritePermission-2) + uint(2-client.ReadWritePermission)
)

// The ErrorCode constants are untyped, as upstream: they convert to any
// integer type.
var _ uint8 = client.ErrorCodeUnauthorized

// Typed constants have their types.
var (
	_ client.EndpointSelectionMode = client.EndpointSelectionRandom
	_ client.EndpointSelectionMode = client.EndpointSelectionPrioritizeLeader
	_ client.PermissionType        = client.ReadPermission
	_ client.PermissionType        = client.WritePermission
	_ client.PermissionType        = client.ReadWritePermission
	_ client.PrevExistType         = client.PrevIgnore
	_ client.PrevExistType         = client.PrevExist
	_ client.PrevExistType         = client.PrevNoExist
)

// String constants: each map has the keys false and the comparison; a
// false comparison repeats the key false, which does not compile.
var (
	_ = map[bool]int{false: 0, client.PrevIgnore == "": 1}
	_ = map[bool]int{false: 0, client.PrevExist == "true": 1}
	_ = map[bool]int{false: 0, client.PrevNoExist == "false": 1}
)

// Variables, with their exact types.
var (
	_ *error                      = &client.ErrNoEndpoints
	_ *error                      = &client.ErrTooManyRedirects
	_ *error                      = &client.ErrClusterUnavailable
	_ *error                      = &client.ErrNoLeaderEndpoint
	_ *error                      = &client.ErrInvalidJSON
	_ *error                      = &client.ErrEmptyBody
	_ *error                      = &client.ErrNoRequest
	_ *time.Duration              = &client.DefaultRequestTimeout
	_ *client.CancelableTransport = &client.DefaultTransport
	_ *client.CheckRedirectFunc   = &client.DefaultCheckRedirect
)

// Functions.
var (
	_ func()                                     = client.DisablecURLDebug
	_ func()                                     = client.EnablecURLDebug
	_ func(error) bool                           = client.IsKeyNotFound
	_ func(error) bool                           = client.IsRoleNotFound
	_ func(error) bool                           = client.IsUserNotFound
	_ func(client.Client) client.AuthAPI         = client.NewAuthAPI
	_ func(client.Client) client.AuthRoleAPI     = client.NewAuthRoleAPI
	_ func(client.Client) client.AuthUserAPI     = client.NewAuthUserAPI
	_ func(client.Config) (client.Client, error) = client.New
	_ func(client.Client) client.KeysAPI         = client.NewKeysAPI
	_ func(client.Client, string) client.KeysAPI = client.NewKeysAPIWithPrefix
	_ func(client.Client) client.MembersAPI      = client.NewMembersAPI
)

// Named non-struct types and their underlying types (an unnamed type is
// assignable from a named one only with an identical underlying type).
var (
	_ func(int) error = client.CheckRedirectFunc(nil)
	_ []*client.Node  = client.Nodes(nil)
	_ string          = string(client.PrevExistType(""))
)

// Interfaces: every method, by method expression.
var (
	_ func(client.AuthAPI, context.Context) error = client.AuthAPI.Enable
	_ func(client.AuthAPI, context.Context) error = client.AuthAPI.Disable

	_ func(client.AuthRoleAPI, context.Context, string) error                                                  = client.AuthRoleAPI.AddRole
	_ func(client.AuthRoleAPI, context.Context, string) error                                                  = client.AuthRoleAPI.RemoveRole
	_ func(client.AuthRoleAPI, context.Context, string) (*client.Role, error)                                  = client.AuthRoleAPI.GetRole
	_ func(client.AuthRoleAPI, context.Context, string, []string, client.PermissionType) (*client.Role, error) = client.AuthRoleAPI.GrantRoleKV
	_ func(client.AuthRoleAPI, context.Context, string, []string, client.PermissionType) (*client.Role, error) = client.AuthRoleAPI.RevokeRoleKV
	_ func(client.AuthRoleAPI, context.Context) ([]string, error)                                              = client.AuthRoleAPI.ListRoles

	_ func(client.AuthUserAPI, context.Context, string, string) error                   = client.AuthUserAPI.AddUser
	_ func(client.AuthUserAPI, context.Context, string) error                           = client.AuthUserAPI.RemoveUser
	_ func(client.AuthUserAPI, context.Context, string) (*client.User, error)           = client.AuthUserAPI.GetUser
	_ func(client.AuthUserAPI, context.Context, string, []string) (*client.User, error) = client.AuthUserAPI.GrantUser
	_ func(client.AuthUserAPI, context.Context, string, []string) (*client.User, error) = client.AuthUserAPI.RevokeUser
	_ func(client.AuthUserAPI, context.Context, string, string) (*client.User, error)   = client.AuthUserAPI.ChangePassword
	_ func(client.AuthUserAPI, context.Context) ([]string, error)                       = client.AuthUserAPI.ListUsers

	_ func(client.CancelableTransport, *http.Request) (*http.Response, error) = client.CancelableTransport.RoundTrip
	_ func(client.CancelableTransport, *http.Request)                         = client.CancelableTransport.CancelRequest
	_ http.RoundTripper                                                       = client.CancelableTransport(nil)

	_ func(client.Client, context.Context) error                     = client.Client.Sync
	_ func(client.Client, context.Context, time.Duration) error      = client.Client.AutoSync
	_ func(client.Client) []string                                   = client.Client.Endpoints
	_ func(client.Client, []string) error                            = client.Client.SetEndpoints
	_ func(client.Client, context.Context) (*client.Versions, error) = client.Client.GetVersion

	_ func(client.KeysAPI, context.Context, string, *client.GetOptions) (*client.Response, error)                   = client.KeysAPI.Get
	_ func(client.KeysAPI, context.Context, string, string, *client.SetOptions) (*client.Response, error)           = client.KeysAPI.Set
	_ func(client.KeysAPI, context.Context, string, *client.DeleteOptions) (*client.Response, error)                = client.KeysAPI.Delete
	_ func(client.KeysAPI, context.Context, string, string) (*client.Response, error)                               = client.KeysAPI.Create
	_ func(client.KeysAPI, context.Context, string, string, *client.CreateInOrderOptions) (*client.Response, error) = client.KeysAPI.CreateInOrder
	_ func(client.KeysAPI, context.Context, string, string) (*client.Response, error)                               = client.KeysAPI.Update
	_ func(client.KeysAPI, string, *client.WatcherOptions) client.Watcher                                           = client.KeysAPI.Watcher

	_ func(client.MembersAPI, context.Context) ([]client.Member, error)        = client.MembersAPI.List
	_ func(client.MembersAPI, context.Context, string) (*client.Member, error) = client.MembersAPI.Add
	_ func(client.MembersAPI, context.Context, string) error                   = client.MembersAPI.Remove
	_ func(client.MembersAPI, context.Context, string, []string) error         = client.MembersAPI.Update
	_ func(client.MembersAPI, context.Context) (*client.Member, error)         = client.MembersAPI.Leader

	_ func(client.Watcher, context.Context) (*client.Response, error) = client.Watcher.Next
)

// Methods of concrete types.
var (
	_ func(*client.ClusterError) string = (*client.ClusterError).Detail
	_ func(*client.ClusterError) string = (*client.ClusterError).Error
	_ func(client.Error) string         = client.Error.Error
	_ func(*client.Node) string         = (*client.Node).String
	_ func(*client.Node) time.Duration  = (*client.Node).TTLDuration
	_ func(client.Nodes) int            = client.Nodes.Len
	_ func(client.Nodes, int, int) bool = client.Nodes.Less
	_ func(client.Nodes, int, int)      = client.Nodes.Swap
	_ error                             = &client.ClusterError{}
	_ error                             = client.Error{}
)

// Struct types: every field with its exact type.
func _() {
	var cfg client.Config
	_ = []any{
		(*[]string)(&cfg.Endpoints),
		(*client.CancelableTransport)(&cfg.Transport),
		(*client.CheckRedirectFunc)(&cfg.CheckRedirect),
		(*string)(&cfg.Username),
		(*string)(&cfg.Password),
		(*time.Duration)(&cfg.HeaderTimeoutPerRequest),
		(*client.EndpointSelectionMode)(&cfg.SelectionMode),
	}
	var ce client.ClusterError
	var _ *[]error = &ce.Errors
	var cio client.CreateInOrderOptions
	var _ *time.Duration = &cio.TTL
	var do client.DeleteOptions
	_ = []any{(*string)(&do.PrevValue), (*uint64)(&do.PrevIndex), (*bool)(&do.Recursive), (*bool)(&do.Dir)}
	var e client.Error
	_ = []any{(*int)(&e.Code), (*string)(&e.Message), (*string)(&e.Cause), (*uint64)(&e.Index)}
	var g client.GetOptions
	_ = []any{(*bool)(&g.Recursive), (*bool)(&g.Sort), (*bool)(&g.Quorum)}
	var m client.Member
	_ = []any{(*string)(&m.ID), (*string)(&m.Name), (*[]string)(&m.PeerURLs), (*[]string)(&m.ClientURLs)}
	var n client.Node
	_ = []any{(*string)(&n.Key), (*bool)(&n.Dir), (*string)(&n.Value), (*client.Nodes)(&n.Nodes),
		(*uint64)(&n.CreatedIndex), (*uint64)(&n.ModifiedIndex), (**time.Time)(&n.Expiration), (*int64)(&n.TTL)}
	var p client.Permissions
	_ = []any{(*[]string)(&p.KV.Read), (*[]string)(&p.KV.Write)}
	var r client.Response
	_ = []any{(*string)(&r.Action), (**client.Node)(&r.Node), (**client.Node)(&r.PrevNode), (*uint64)(&r.Index), (*string)(&r.ClusterID)}
	var role client.Role
	_ = []any{(*string)(&role.Role), (*client.Permissions)(&role.Permissions), (**client.Permissions)(&role.Grant), (**client.Permissions)(&role.Revoke)}
	var s client.SetOptions
	_ = []any{(*string)(&s.PrevValue), (*uint64)(&s.PrevIndex), (*client.PrevExistType)(&s.PrevExist), (*time.Duration)(&s.TTL),
		(*bool)(&s.Refresh), (*bool)(&s.Dir), (*bool)(&s.NoValueOnSuccess)}
	var u client.User
	_ = []any{(*string)(&u.User), (*string)(&u.Password), (*[]string)(&u.Roles), (*[]string)(&u.Grant), (*[]string)(&u.Revoke)}
	var ur client.UserRoles
	_ = []any{(*string)(&ur.User), (*[]client.Role)(&ur.Roles)}
	var v client.Versions
	_ = []any{(*string)(&v.Server), (*string)(&v.Cluster)}
	var w client.WatcherOptions
	_ = []any{(*uint64)(&w.AfterIndex), (*bool)(&w.Recursive)}
}

// TestAPISurfaceValues checks at run time what the compiler cannot: sentinel
// error texts, kinds of named types and JSON tags, all equal to upstream's.
func TestAPISurfaceValues(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{client.ErrNoEndpoints, "client: no endpoints available"},
		{client.ErrTooManyRedirects, "client: too many redirects"},
		{client.ErrClusterUnavailable, "client: etcd cluster is unavailable or misconfigured"},
		{client.ErrNoLeaderEndpoint, "client: no leader endpoint available"},
		{client.ErrInvalidJSON, "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint"},
		{client.ErrEmptyBody, "client: response body is empty"},
		{client.ErrNoRequest, "no HTTPRequest was available"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("error text %q, want %q", got, tc.want)
		}
	}
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"ErrorCodeKeyNotFound", client.ErrorCodeKeyNotFound, 100},
		{"ErrorCodeTestFailed", client.ErrorCodeTestFailed, 101},
		{"ErrorCodeNotFile", client.ErrorCodeNotFile, 102},
		{"ErrorCodeNotDir", client.ErrorCodeNotDir, 104},
		{"ErrorCodeNodeExist", client.ErrorCodeNodeExist, 105},
		{"ErrorCodeRootROnly", client.ErrorCodeRootROnly, 107},
		{"ErrorCodeDirNotEmpty", client.ErrorCodeDirNotEmpty, 108},
		{"ErrorCodeUnauthorized", client.ErrorCodeUnauthorized, 110},
		{"ErrorCodePrevValueRequired", client.ErrorCodePrevValueRequired, 201},
		{"ErrorCodeTTLNaN", client.ErrorCodeTTLNaN, 202},
		{"ErrorCodeIndexNaN", client.ErrorCodeIndexNaN, 203},
		{"ErrorCodeInvalidField", client.ErrorCodeInvalidField, 209},
		{"ErrorCodeInvalidForm", client.ErrorCodeInvalidForm, 210},
		{"ErrorCodeRaftInternal", client.ErrorCodeRaftInternal, 300},
		{"ErrorCodeLeaderElect", client.ErrorCodeLeaderElect, 301},
		{"ErrorCodeWatcherCleared", client.ErrorCodeWatcherCleared, 400},
		{"ErrorCodeEventIndexCleared", client.ErrorCodeEventIndexCleared, 401},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if client.DefaultRequestTimeout != 5*time.Second {
		t.Errorf("DefaultRequestTimeout = %v, want 5s", client.DefaultRequestTimeout)
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(client.EndpointSelectionMode(0)), reflect.TypeOf(client.PermissionType(0))} {
		if typ.Kind() != reflect.Int {
			t.Errorf("%v is a %v, want int", typ, typ.Kind())
		}
	}

	// JSON tags of every field that has one upstream.
	for _, tc := range []struct {
		v    any
		tags map[string]string
	}{
		{client.Error{}, map[string]string{"Code": "errorCode", "Message": "message", "Cause": "cause", "Index": "index"}},
		{client.Member{}, map[string]string{"ID": "id", "Name": "name", "PeerURLs": "peerURLs", "ClientURLs": "clientURLs"}},
		{client.Node{}, map[string]string{"Key": "key", "Dir": "dir,omitempty", "Value": "value", "Nodes": "nodes",
			"CreatedIndex": "createdIndex", "ModifiedIndex": "modifiedIndex", "Expiration": "expiration,omitempty", "TTL": "ttl,omitempty"}},
		{client.Response{}, map[string]string{"Action": "action", "Node": "node", "PrevNode": "prevNode", "Index": "-", "ClusterID": "-"}},
		{client.User{}, map[string]string{"User": "user", "Password": "password,omitempty", "Roles": "roles", "Grant": "grant,omitempty", "Revoke": "revoke,omitempty"}},
		{client.UserRoles{}, map[string]string{"User": "user", "Roles": "roles"}},
		{client.Role{}, map[string]string{"Role": "role", "Permissions": "permissions", "Grant": "grant,omitempty", "Revoke": "revoke,omitempty"}},
		{client.Permissions{}, map[string]string{"KV": "kv"}},
		{client.Permissions{}.KV, map[string]string{"Read": "read", "Write": "write"}},
		{client.Versions{}, map[string]string{"Server": "etcdserver", "Cluster": "etcdcluster"}},
	} {
		typ := reflect.TypeOf(tc.v)
		for field, want := range tc.tags {
			f, ok := typ.FieldByName(field)
			if !ok {
				t.Errorf("%v has no field %s", typ, field)
				continue
			}
			if got := f.Tag.Get("json"); got != want {
				t.Errorf("%v.%s json tag %q, want %q", typ, field, got, want)
			}
		}
	}
	// Permissions.KV is of an unexported type, as upstream.
	if kv, _ := reflect.TypeOf(client.Permissions{}).FieldByName("KV"); kv.Type.Name() != "rwPermission" {
		t.Errorf("Permissions.KV is a %v, want rwPermission", kv.Type)
	}
}

// DNS SRV discovery.
var (
	_ func() client.Discoverer                                  = client.NewSRVDiscover
	_ func(client.Discoverer, string, string) ([]string, error) = client.Discoverer.Discover
)
