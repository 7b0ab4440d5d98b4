package client

// Fuzz targets for everything that parses a server's answer, besides the
// keys decoder (FuzzDecodeResponse): the keys answer as a whole (status,
// X-Etcd-Index, body), the members, auth and version answers. None may
// panic, and each returns only the errors it documents. Seeds, taken from
// a real etcd 3.4.23 where possible, are in testdata/fuzz/<Target>.

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"testing"
)

func FuzzUnmarshalHTTPResponse(f *testing.F) {
	f.Add(http.StatusOK, "7", []byte(okBody))
	f.Add(http.StatusBadRequest, "2099", []byte(clearedBody))
	f.Fuzz(func(t *testing.T, status int, index string, body []byte) {
		h := http.Header{}
		if index != "" {
			h.Set("X-Etcd-Index", index)
		}
		resp, err := unmarshalHTTPResponse(status, h, body)
		if err == nil {
			if status != http.StatusOK && status != http.StatusCreated {
				t.Fatalf("status %d accepted as success", status)
			}
			if resp == nil {
				t.Fatal("nil Response without error")
			}
			if want, perr := strconv.ParseUint(index, 10, 64); index != "" && (perr != nil || resp.Index != want) {
				t.Fatalf("Index %d from header %q", resp.Index, index)
			}
			return
		}
		if resp != nil {
			t.Fatalf("Response %+v with error %v", resp, err)
		}
		var e Error
		var numErr *strconv.NumError
		switch {
		case err == ErrInvalidJSON, err == ErrEmptyBody:
		case errors.As(err, &e):
			if status == http.StatusOK || status == http.StatusCreated {
				t.Fatalf("a success status gave the server error %v", err)
			}
		case errors.As(err, &numErr):
			if index == "" {
				t.Fatalf("index parse error %v without an index header", err)
			}
		default:
			t.Fatalf("undocumented error %T %v", err, err)
		}
	})
}

func FuzzDecodeMembers(f *testing.F) {
	f.Add([]byte(`{"members":[{"id":"8e9e05c52164694d","name":"m0","peerURLs":["http://127.0.0.1:2380"],"clientURLs":["http://127.0.0.1:2379"]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := decodeMemberList(body)
		if err == nil && list == nil {
			t.Fatal("nil member list without error")
		}
		var ref struct {
			Members []Member `json:"members"`
		}
		if refErr := json.Unmarshal(body, &ref); (refErr == nil) != (err == nil) {
			t.Fatalf("decodeMemberList error %v, encoding/json %v", err, refErr)
		} else if err == nil && len(ref.Members) > 0 && !reflect.DeepEqual(list, ref.Members) {
			t.Fatalf("members %+v, want %+v", list, ref.Members)
		}
		if m, err := decodeMember(body); (err == nil) != (m != nil) {
			t.Fatalf("decodeMember = %+v, %v", m, err)
		}
		if err := decodeMembersError(body); err == nil {
			t.Fatal("decodeMembersError returned nil")
		}
	})
}

func FuzzDecodeAuth(f *testing.F) {
	f.Add([]byte(`{"user":"a","roles":[{"role":"app","permissions":{"kv":{"read":["/*"],"write":[]}}},{"role":"ops"}]}`))
	f.Add([]byte(`{"user":"a","roles":["app","ops"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeUser(body)
		if (err == nil) != (u != nil) {
			t.Fatalf("decodeUser = %+v, %v", u, err)
		}
		// Roles given as names come back exactly.
		var names struct {
			User  string   `json:"user"`
			Roles []string `json:"roles"`
		}
		if json.Unmarshal(body, &names) == nil {
			if err != nil {
				t.Fatalf("decodeUser failed on roles given as names: %v", err)
			}
			if u.User != names.User || !reflect.DeepEqual(u.Roles, names.Roles) {
				t.Fatalf("user %+v, want %+v", u, names)
			}
		}
		if r, err := decodeRole(body); (err == nil) != (r != nil) {
			t.Fatalf("decodeRole = %+v, %v", r, err)
		}
		if l, err := decodeUserNames(body); err == nil && l == nil {
			t.Fatal("nil user list without error")
		}
		if l, err := decodeRoleNames(body); err == nil && l == nil {
			t.Fatal("nil role list without error")
		}
		err = decodeAuthError(http.StatusBadRequest, body)
		var ae authError
		if err == nil || (errors.As(err, &ae) && ae.Message == "") {
			t.Fatalf("decodeAuthError = %#v", err)
		}
	})
}

func FuzzDecodeVersions(f *testing.F) {
	f.Add([]byte(`{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := decodeVersions(body)
		switch {
		case err == nil:
			if v == nil {
				t.Fatal("nil Versions without error")
			}
		case err == ErrEmptyBody:
			if len(body) != 0 {
				t.Fatal("ErrEmptyBody for a body")
			}
		case err != ErrInvalidJSON:
			t.Fatalf("undocumented error %v", err)
		}
	})
}
