package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// User is a user of etcd's v2 auth, as sent to and answered by
// /v2/auth/users. The same type describes a change: Grant and Revoke name
// roles to add or take away, Password sets a new password.
type User struct {
	// User is the user's name.
	User string `json:"user"`
	// Password is only ever sent, never answered: it sets the password on
	// AddUser and ChangePassword.
	Password string `json:"password,omitempty"`
	// Roles are the names of the roles granted to the user. etcd 3.4
	// answers GetUser with role objects and the changes with role names;
	// either way Roles holds exactly the names.
	Roles []string `json:"roles"`
	// Grant lists roles to grant to the user (request only).
	Grant []string `json:"grant,omitempty"`
	// Revoke lists roles to revoke from the user (request only).
	Revoke []string `json:"revoke,omitempty"`
}

// UserRoles is a user as etcd's GET /v2/auth/users/<name> describes it: with
// the whole role objects, permissions included. AuthUserAPI returns User;
// UserRoles is kept for code that decodes the answers itself.
type UserRoles struct {
	// User is the user's name.
	User string `json:"user"`
	// Roles are the roles granted to the user.
	Roles []Role `json:"roles"`
}

// AuthUserAPI manages the users of etcd's v2 auth. When auth is enabled,
// every call needs root's credentials. Errors answered by the server carry
// its message; test for unknown users with IsUserNotFound.
type AuthUserAPI interface {
	// AddUser adds a user. Adding a user that exists sets its password.
	AddUser(ctx context.Context, username string, password string) error

	// RemoveUser removes a user. The root user cannot be removed while
	// auth is enabled.
	RemoveUser(ctx context.Context, username string) error

	// GetUser retrieves user details: the name and the names of its roles.
	GetUser(ctx context.Context, username string) (*User, error)

	// GrantUser grants a user some permission roles and returns the user
	// with all its roles. etcd does not check that the roles exist.
	GrantUser(ctx context.Context, username string, roles []string) (*User, error)

	// RevokeUser revokes some permission roles from a user and returns the
	// user with its remaining roles. Revoking a role the user does not have
	// fails.
	RevokeUser(ctx context.Context, username string, roles []string) (*User, error)

	// ChangePassword changes the user's password. etcd creates a user
	// that does not exist (the request is a PUT); ChangePassword then
	// fails with "unexpected status code 201" although the user now exists.
	ChangePassword(ctx context.Context, username string, password string) (*User, error)

	// ListUsers lists the names of all users.
	ListUsers(ctx context.Context) ([]string, error)
}

// NewAuthUserAPI constructs a new AuthUserAPI that uses HTTP to interact
// with etcd's user creation and modification features.
func NewAuthUserAPI(c Client) AuthUserAPI {
	return &httpAuthUserAPI{client: c}
}

type httpAuthUserAPI struct {
	client httpClient
}

func (u *httpAuthUserAPI) AddUser(ctx context.Context, username string, password string) error {
	act := &authAction{method: http.MethodPut, kind: "users", name: username,
		body: &User{User: username, Password: password}}
	_, err := doAuth(ctx, u.client, act, http.StatusOK, http.StatusCreated)
	return err
}

func (u *httpAuthUserAPI) RemoveUser(ctx context.Context, username string) error {
	act := &authAction{method: http.MethodDelete, kind: "users", name: username}
	_, err := doAuth(ctx, u.client, act, http.StatusOK, http.StatusCreated)
	return err
}

func (u *httpAuthUserAPI) GetUser(ctx context.Context, username string) (*User, error) {
	return u.modUser(ctx, &authAction{method: http.MethodGet, kind: "users", name: username})
}

func (u *httpAuthUserAPI) GrantUser(ctx context.Context, username string, roles []string) (*User, error) {
	return u.modUser(ctx, &authAction{method: http.MethodPut, kind: "users", name: username,
		body: &User{User: username, Grant: roles}})
}

func (u *httpAuthUserAPI) RevokeUser(ctx context.Context, username string, roles []string) (*User, error) {
	return u.modUser(ctx, &authAction{method: http.MethodPut, kind: "users", name: username,
		body: &User{User: username, Revoke: roles}})
}

func (u *httpAuthUserAPI) ChangePassword(ctx context.Context, username string, password string) (*User, error) {
	return u.modUser(ctx, &authAction{method: http.MethodPut, kind: "users", name: username,
		body: &User{User: username, Password: password}})
}

// modUser sends a request answered by one user (200) and decodes it.
func (u *httpAuthUserAPI) modUser(ctx context.Context, act *authAction) (*User, error) {
	body, err := doAuth(ctx, u.client, act, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var answer struct {
		User  string     `json:"user"`
		Roles []roleName `json:"roles"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, err
	}
	user := &User{User: answer.User}
	if answer.Roles != nil {
		user.Roles = make([]string, len(answer.Roles))
		for i, r := range answer.Roles {
			user.Roles[i] = string(r)
		}
	}
	return user, nil
}

// roleName decodes one entry of a user's "roles": a name ("app"), as etcd
// answers changes, or a role object ({"role":"app","permissions":…}), as
// it answers GET. Upstream decoded the latter into ["", "app"].
type roleName string

func (r *roleName) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var role struct {
			Role string `json:"role"`
		}
		if err := json.Unmarshal(b, &role); err != nil {
			return err
		}
		*r = roleName(role.Role)
		return nil
	}
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("client: user role is neither a name nor a role object: %s", b)
	}
	*r = roleName(name)
	return nil
}

func (u *httpAuthUserAPI) ListUsers(ctx context.Context) ([]string, error) {
	body, err := doAuth(ctx, u.client, &authAction{method: http.MethodGet, kind: "users", jsonType: true}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	// Only the names are returned, so the roles (objects in etcd 3.4) are
	// not decoded at all.
	var list struct {
		Users []struct {
			User string `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Users))
	for _, e := range list.Users {
		names = append(names, e.User)
	}
	return names, nil
}
