package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	client "github.com/v2keys/client"
)

// watchEvent is one event a watcher delivered.
type watchEvent struct {
	Index  uint64
	Key    string
	Action string
	Value  string
}

// gap is history a watcher reported lost: every event after After up to
// and including Resume, reported by a *HistoryClearedError (or an
// EventIndexCleared Error) instead of being delivered.
type gap struct{ After, Resume uint64 }

// watchLog is what one recursive watcher delivered during a run.
type watchLog struct {
	name    string
	start   uint64 // the watcher's AfterIndex
	events  []watchEvent
	cleared []gap
	errs    map[string]int // errors met, by class, retried
	reached bool           // it delivered the end marker
	target  atomic.Uint64  // the end marker's index, once known
	stalled atomic.Bool    // the caller takes no events while set
}

// follow calls Next until the watcher has delivered the end marker (its
// index set in target) or ctx ends, recording what it sees.
func (l *watchLog) follow(ctx context.Context, w client.Watcher) {
	last := l.start
	for ctx.Err() == nil {
		if t := l.target.Load(); t != 0 && last >= t {
			l.reached = true
			return
		}
		if l.stalled.Load() {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		// A bounded Next, so that a target set meanwhile is noticed.
		nctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := w.Next(nctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			var hc *client.HistoryClearedError
			var ke client.Error
			switch {
			case errors.As(err, &hc):
				l.cleared = append(l.cleared, gap{After: last, Resume: hc.Snapshot.Index})
				last = max(last, hc.Snapshot.Index)
			case errors.As(err, &ke) && ke.Code == client.ErrorCodeEventIndexCleared:
				// Without a resync the watcher asks for the same index
				// again; this one is made with ResyncOnCleared, so a bare
				// 401 is counted and retried.
				l.errs["event index cleared (bare)"]++
				time.Sleep(50 * time.Millisecond)
			default:
				l.errs[errClass(err)]++
				time.Sleep(10 * time.Millisecond) // a failing member: do not spin
			}
			continue
		}
		ev := watchEvent{Index: resp.Node.ModifiedIndex, Key: resp.Node.Key, Action: resp.Action, Value: resp.Node.Value}
		l.events = append(l.events, ev)
		last = max(last, ev.Index)
	}
}

// errClass names an error for the counts, without its varying details.
func errClass(err error) string {
	switch {
	case errors.Is(err, client.ErrMemberSilent):
		return "member silent"
	case errors.Is(err, client.ErrClusterUnavailable):
		return "cluster unavailable"
	case errors.Is(err, client.ErrEmptyBody):
		return "empty body"
	}
	return fmt.Sprintf("%T", err) + ": " + firstWords(err.Error(), 8)
}

// watchProblems checks one watcher's delivery against the history: events
// in strictly increasing index order (no duplicate), every acknowledged
// write after the start up to the end marker delivered with its index and
// value unless the watcher reported the range cleared, and no event of a
// value nobody wrote. It also returns the values delivered more than once
// under different indexes: writes etcd applied twice.
func watchProblems(l *watchLog, recs []Record, end uint64) (problems []string, twice []string) {
	written := map[string]bool{"end": true}
	for _, r := range recs {
		if r.In.Value != "" {
			written[r.In.Value] = true
		}
	}
	byIndex := map[uint64]watchEvent{}
	var prev uint64
	seenValue := map[string]watchEvent{}
	for _, ev := range l.events {
		if ev.Index <= prev {
			problems = append(problems, fmt.Sprintf("%s: event %d (%s %s) after %d: out of order or repeated", l.name, ev.Index, ev.Action, ev.Key, prev))
		}
		prev = max(prev, ev.Index)
		byIndex[ev.Index] = ev
		if ev.Value == "" {
			continue
		}
		if !written[ev.Value] {
			problems = append(problems, fmt.Sprintf("%s: event %d sets %s to %q, which no operation wrote", l.name, ev.Index, ev.Key, ev.Value))
		}
		if first, ok := seenValue[ev.Value]; ok && first.Index != ev.Index {
			twice = append(twice, fmt.Sprintf("%q: %s %s at %d, %s %s at %d", ev.Value, first.Action, first.Key, first.Index, ev.Action, ev.Key, ev.Index))
		}
		seenValue[ev.Value] = ev
	}
	for _, g := range l.cleared {
		for _, ev := range l.events {
			if ev.Index > g.After && ev.Index <= g.Resume {
				problems = append(problems, fmt.Sprintf("%s: event %d delivered inside the range (%d, %d] it reported cleared", l.name, ev.Index, g.After, g.Resume))
			}
		}
	}
	for _, r := range recs {
		if r.Out.Result != OK || !r.In.Kind.isWrite() || r.Out.Index <= l.start || r.Out.Index > end {
			continue
		}
		if l.inGap(r.Out.Index) {
			continue
		}
		ev, ok := byIndex[r.Out.Index]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: acknowledged %s of %s (%q) at index %d never delivered and not reported cleared", l.name, r.In.Kind, r.In.Key, r.In.Value, r.Out.Index))
		case ev.Value != r.In.Value:
			problems = append(problems, fmt.Sprintf("%s: event %d has value %q, the acknowledged write there wrote %q", l.name, ev.Index, ev.Value, r.In.Value))
		}
	}
	sort.Strings(problems)
	return problems, twice
}

func (l *watchLog) inGap(idx uint64) bool {
	for _, g := range l.cleared {
		if idx > g.After && idx <= g.Resume {
			return true
		}
	}
	return false
}

// compareWatchers checks that two watchers of the same key delivered the
// same indexes wherever neither reported history cleared: an event one of
// them has and the other lacks was skipped silently (even if its write was
// never acknowledged).
func compareWatchers(a, b *watchLog, end uint64) []string {
	var out []string
	from := max(a.start, b.start)
	for _, pair := range [][2]*watchLog{{a, b}, {b, a}} {
		x, y := pair[0], pair[1]
		inY := map[uint64]bool{}
		for _, ev := range y.events {
			inY[ev.Index] = true
		}
		for _, ev := range x.events {
			if ev.Index > from && ev.Index <= end && !inY[ev.Index] && !y.inGap(ev.Index) && !x.inGap(ev.Index) {
				out = append(out, fmt.Sprintf("%s delivered event %d (%s %s %q), %s did not and reported no cleared history", x.name, ev.Index, ev.Action, ev.Key, ev.Value, y.name))
			}
		}
	}
	return out
}

// firstWords returns the first n words of s.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}
