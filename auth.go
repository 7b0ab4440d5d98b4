package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
)

// The v2 auth API (/v2/auth) lives in three files: this one holds what the
// user and role APIs share (the request action, the error type, the status
// handling) and AuthAPI; auth_user.go and auth_role.go hold the rest.

const defaultV2AuthPrefix = "/v2/auth"

// AuthAPI turns etcd's v2 authentication on and off. Enabling requires a
// user named "root"; once enabled, etcd also creates a "guest" role with
// read and write access to every key, used by requests without
// credentials, and every auth call needs root's credentials
// (Config.Username and Config.Password).
type AuthAPI interface {
	// Enable turns authentication on. It fails with the server's message
	// when there is no root user ("auth: No root user available, please
	// create one") or when auth is already enabled.
	Enable(ctx context.Context) error

	// Disable turns authentication off. Only root may do so.
	Disable(ctx context.Context) error
}

// NewAuthAPI constructs a new AuthAPI that uses HTTP to interact with etcd's
// general auth features.
func NewAuthAPI(c Client) AuthAPI {
	return &httpAuthAPI{client: c}
}

type httpAuthAPI struct {
	client httpClient
}

func (a *httpAuthAPI) Enable(ctx context.Context) error {
	_, err := doAuth(ctx, a.client, &authAction{method: http.MethodPut, kind: "enable"}, http.StatusOK, http.StatusCreated)
	return err
}

func (a *httpAuthAPI) Disable(ctx context.Context) error {
	_, err := doAuth(ctx, a.client, &authAction{method: http.MethodDelete, kind: "enable"}, http.StatusOK, http.StatusCreated)
	return err
}

// authAction is one request to /v2/auth/<kind>[/<name>], with an optional
// JSON body.
type authAction struct {
	method string
	kind   string // "enable", "users" or "roles"
	name   string
	// body, when not nil, is sent as JSON.
	body any
	// jsonType sets "Content-Type: application/json" on a request without a
	// body, as upstream does for the list requests.
	jsonType bool
}

func (a *authAction) describe() requestKind { return requestKind{write: isWriteMethod(a.method)} }

func (a *authAction) HTTPRequest(ep url.URL) *http.Request {
	u := ep
	u.Path = path.Join(u.Path, defaultV2AuthPrefix, a.kind, a.name)
	u.RawPath = ""
	if a.body == nil {
		contentType := ""
		if a.jsonType {
			contentType = "application/json"
		}
		return newRequest(a.method, &u, "", contentType)
	}
	b, err := json.Marshal(a.body)
	if err != nil {
		// The bodies are structs of strings; this cannot happen.
		return nil
	}
	return newRequest(a.method, &u, string(b), "application/json")
}

// doAuth sends act and returns the body when the status is one of ok. Any
// other status is an error answered by the auth API, {"message": "..."},
// returned as an authError; a body that is not such JSON yields the
// decoding error, as upstream.
func doAuth(ctx context.Context, c httpClient, act httpAction, ok ...int) ([]byte, error) {
	resp, body, err := c.Do(ctx, act)
	if err != nil {
		return nil, err
	}
	if assertStatusCode(resp.StatusCode, ok...) == nil {
		return body, nil
	}
	return nil, decodeAuthError(resp.StatusCode, body)
}

// decodeAuthError decodes the answer of a failed auth call: an authError,
// or the decoding error of a body that is not JSON.
func decodeAuthError(status int, body []byte) error {
	aerr := authError{Code: status}
	if err := json.Unmarshal(body, &aerr); err != nil {
		return err
	}
	if aerr.Message == "" {
		// Not an error body: e.g. 201 with the user that ChangePassword
		// created. Upstream returned an error with an empty text here.
		aerr.Message = fmt.Sprintf("unexpected status code %d", status)
	}
	return aerr
}

// authError is an error answered by the auth API. Like upstream it is
// returned as a value; Message is the server's text, e.g. "auth: User bob
// does not exist.", and Code the HTTP status.
type authError struct {
	Message string `json:"message"`
	Code    int    `json:"-"`
}

func (e authError) Error() string { return e.Message }

// etcd words "not found" differently per call: "auth: User bob does not
// exist." (get, modify), "auth: User bob does not exist" (remove), "auth:
// Role app does not exist." and "auth: Role app doesn't exist." (remove).
// Upstream's patterns ("auth: User .* does not exist.") miss the remove
// forms; these match everything upstream's do and those as well.
var (
	userNotFoundRE = regexp.MustCompile(`auth: User .* does not exist`)
	roleNotFoundRE = regexp.MustCompile(`auth: Role .* (does not|doesn't) exist`)
)

// IsUserNotFound returns true if the error means user not found of v2 API:
// the auth API answered that the named user does not exist (GetUser,
// GrantUser, RevokeUser, ChangePassword, RemoveUser).
func IsUserNotFound(err error) bool {
	var ae authError
	return errors.As(err, &ae) && userNotFoundRE.MatchString(ae.Message)
}

// IsRoleNotFound returns true if the error means role not found of v2 API:
// the auth API answered that the named role does not exist (GetRole,
// GrantRoleKV, RevokeRoleKV, RemoveRole, and GetUser of a user granted a
// role that does not exist).
func IsRoleNotFound(err error) bool {
	var ae authError
	return errors.As(err, &ae) && roleNotFoundRE.MatchString(ae.Message)
}
