package client

import "testing"

// FuzzDecodeResponse checks decodeResponse against the reference decoder
// (encoding/json with case-sensitive names and whole-value replacement of
// repeated keys) on any input: it must not panic, must succeed exactly when
// the reference does, with a deeply equal Response; and on bodies without
// case-variant or repeated field names it must also agree with plain
// encoding/json.Unmarshal. See checkDecode.
//
// Seeds are in testdata/fuzz/FuzzDecodeResponse.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(realRecursiveGet))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, body)
	})
}
