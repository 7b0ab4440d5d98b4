package client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
)

// curlDebug is read on every request and written by EnablecURLDebug from any
// goroutine, so it is atomic (upstream's plain bool was a data race).
var curlDebug atomic.Bool

// EnablecURLDebug makes every client print each request to stderr as an
// equivalent curl command line.
func EnablecURLDebug() { curlDebug.Store(true) }

// DisablecURLDebug stops the printing started by EnablecURLDebug.
func DisablecURLDebug() { curlDebug.Store(false) }

// printcURL prints req as a curl command when debugging is enabled. It reads
// and restores the body, so a failure means the request must not be sent.
func printcURL(req *http.Request) error {
	if !curlDebug.Load() {
		return nil
	}
	var command string
	if req.URL != nil {
		command = fmt.Sprintf("curl -X %s %s", req.Method, req.URL.String())
	}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return fmt.Errorf("client: reading request body for cURL debug: %w", err)
		}
		command += fmt.Sprintf(" -d %q", string(b))
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	fmt.Fprintf(os.Stderr, "cURL Command: %s\n", command)
	return nil
}
