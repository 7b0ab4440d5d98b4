package client

import "encoding/json"

// decodeResponse is a placeholder until the specialised decoder lands.
func decodeResponse(body []byte, res *Response) error {
	return json.Unmarshal(body, res)
}
