package client

import "encoding/json"

// unmarshalJSON decodes the small bodies (errors, members, auth, versions)
// with the standard library; keys responses have a decoder of their own.
func unmarshalJSON(data []byte, v any) error {
	return json.Unmarshal(data, v)
}
