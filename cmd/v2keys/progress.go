package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress shows a one-line counter of keys, bytes and rate on a terminal,
// redrawn a few times a second; on anything else it shows nothing. Add is
// safe for concurrent use.
type progress struct {
	verb  string
	w     io.Writer // nil: silent
	start time.Time
	keys  atomic.Int64
	bytes atomic.Int64

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// newProgress starts the display on w if w is a terminal.
func newProgress(verb string, w io.Writer) *progress {
	p := &progress{verb: verb, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	if !isTerminal(w) {
		close(p.done)
		return p
	}
	p.w = w
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.draw()
				fmt.Fprintln(p.w)
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

// Add counts one more key of n bytes.
func (p *progress) Add(n int) {
	p.keys.Add(1)
	p.bytes.Add(int64(n))
}

func (p *progress) draw() {
	k, b := p.keys.Load(), p.bytes.Load()
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(k) / secs
	}
	fmt.Fprintf(p.w, "\r%s %d keys, %s, %.0f keys/s   ", p.verb, k, humanBytes(b), rate)
}

// Done ends the display with a final redraw.
func (p *progress) Done() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
