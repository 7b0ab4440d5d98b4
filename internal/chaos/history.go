package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	client "github.com/v2keys/client"
)

// Never is the return time given to an operation whose outcome is unknown:
// it may apply at any time after its call, even after the error came back.
const Never = int64(1) << 62

// Record is one operation of a history with what the checks need besides
// porcupine's fields.
type Record struct {
	Client    int
	Call, Ret int64 // nanoseconds since the run started; Ret is Never when unknown
	In        Input
	Out       Output
	Err       string // the error text, if any
	// Dropped is set for a write that provably did not apply (an error
	// without ErrOutcomeUnknown) and for a failed read: it is not checked.
	Dropped bool
}

// History collects the operations of a run. It is safe for concurrent use.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Record
}

// NewHistory starts a history whose times count from now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now returns the time since the history started, in nanoseconds.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add appends an operation.
func (h *History) Add(r Record) {
	h.mu.Lock()
	h.ops = append(h.ops, r)
	h.mu.Unlock()
}

// Records returns a copy of the operations so far.
func (h *History) Records() []Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Record(nil), h.ops...)
}

// Classify turns an operation's error into its outcome, taking the
// client's contract at its word:
//   - nil is OK;
//   - a keys Error answered by the server (not wrapped with
//     ErrOutcomeUnknown) is Failed with its code;
//   - for a write, errors.Is(err, client.ErrOutcomeUnknown) and a context
//     error are Unknown: it may apply, now or later;
//   - any other error of a write says that it provably was not applied (a
//     *ClusterError of attempts refused at connect, say): it is dropped
//     from the history, so if it did apply, its value appears from nowhere
//     and the check fails;
//   - a read that fails with anything but a keys Error is dropped.
func Classify(kind Kind, err error) (res Result, code int, dropped bool) {
	if err == nil {
		return OK, 0, false
	}
	unknown := errors.Is(err, client.ErrOutcomeUnknown) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	var ke client.Error
	if !unknown && errors.As(err, &ke) {
		return Failed, ke.Code, false
	}
	if unknown && kind.isWrite() {
		return Unknown, 0, false
	}
	return Unknown, 0, true
}

// Operations returns the history for porcupine: dropped operations left
// out, unknown ones returning at Never, and extra copies of writes as ghosts
// returns (ghosts[i] more copies of the op with index i).
func Operations(recs []Record, ghosts map[int]int) []porcupine.Operation {
	var out []porcupine.Operation
	for i, r := range recs {
		for range ghosts[i] {
			out = append(out, porcupine.Operation{ClientId: r.Client, Call: r.Call, Return: Never,
				Input: r.In, Output: Output{Result: Unknown}, Metadata: fmt.Sprintf("ghost: a resent copy of op %d", i)})
		}
		if r.Dropped {
			continue
		}
		meta := fmt.Sprintf("op %d", i)
		if r.Err != "" {
			meta += ": " + r.Err
		}
		out = append(out, porcupine.Operation{ClientId: r.Client, Call: r.Call, Return: r.Ret,
			Input: r.In, Output: r.Out, Metadata: meta})
	}
	return out
}

// Attempts observes the requests a Client sends, to learn how often each
// write was sent and whether each copy may have reached a member. Writes are
// told apart by their value, unique in a run. It is an http.RoundTripper for
// Config.Transport and is safe for concurrent use.
type Attempts struct {
	next *http.Transport

	mu      sync.Mutex
	reached map[string]int // value -> attempts that may have reached a member
}

// NewAttempts wraps a clone of client.DefaultTransport.
func NewAttempts() *Attempts {
	return &Attempts{next: client.DefaultTransport.(*http.Transport).Clone(), reached: map[string]int{}}
}

// RoundTrip sends req and counts it under its form value if it may have
// reached the member: it was answered, or written whole (the client's own
// rule for a request that may have been applied).
func (a *Attempts) RoundTrip(req *http.Request) (*http.Response, error) {
	value, isWrite := "", false
	if req.Method != http.MethodGet && req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			body.Close()
			if form, err := url.ParseQuery(string(b)); err == nil && form.Has("value") {
				value, isWrite = form.Get("value"), true
			}
		}
	}
	var wrote atomic.Bool
	if isWrite {
		// Added to the client's own trace, which stays in effect.
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					wrote.Store(true)
				}
			},
		}))
	}
	resp, err := a.next.RoundTrip(req)
	if isWrite && (err == nil || wrote.Load()) {
		a.mu.Lock()
		a.reached[value]++
		a.mu.Unlock()
	}
	return resp, err
}

// CancelRequest is there for client.CancelableTransport; the client cancels
// through contexts.
func (a *Attempts) CancelRequest(*http.Request) {}

// Close releases the idle connections.
func (a *Attempts) Close() { a.next.CloseIdleConnections() }

// Reached returns how many copies of the write of value may have reached a
// member.
func (a *Attempts) Reached(value string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reached[value]
}
