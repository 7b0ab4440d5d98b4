package client

import (
	"context"
	"net/url"
	"sync"
	"time"
)

// liveness watches the members that requests are waiting on. etcd sends
// nothing on a watch until an event happens, so a member that stopped (a
// SIGSTOPed process, a partition) is indistinguishable from a quiet key
// unless someone asks it something else. One prober per endpoint asks
// GET /version every interval while at least one request waits there, and
// when an answer does not come within the interval, it cancels every
// request waiting on that endpoint, so they move to another member.
type liveness struct {
	ctx      context.Context // ends with the client
	interval time.Duration
	probe    endpointClient // the client's transport, bounded by interval

	mu      sync.Mutex
	probers map[string]*prober
}

type prober struct {
	waiters map[*waiter]struct{}
	stop    context.CancelFunc
}

type waiter struct{ abandon func() }

func newLiveness(ctx context.Context, interval time.Duration, probe endpointClient) *liveness {
	probe.headerTimeout = interval
	probe.liveness = nil
	probe.maxBody = 1 << 20
	probe.credentials = nil // /version needs none
	return &liveness{ctx: ctx, interval: interval, probe: probe, probers: make(map[string]*prober)}
}

// watch registers a request waiting on ep; abandon is called if ep stops
// answering. The returned function unregisters it.
func (l *liveness) watch(ep *url.URL, abandon func()) (unwatch func()) {
	key := ep.String()
	w := &waiter{abandon: abandon}
	l.mu.Lock()
	p := l.probers[key]
	if p == nil {
		ctx, stop := context.WithCancel(l.ctx)
		p = &prober{waiters: make(map[*waiter]struct{}), stop: stop}
		l.probers[key] = p
		epCopy := *ep
		go l.run(ctx, &epCopy, key, p)
	}
	p.waiters[w] = struct{}{}
	l.mu.Unlock()

	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(p.waiters, w)
		if len(p.waiters) == 0 && l.probers[key] == p {
			delete(l.probers, key)
			p.stop()
		}
	}
}

func (l *liveness) run(ctx context.Context, ep *url.URL, key string, p *prober) {
	ticker := time.NewTicker(l.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		err := l.ask(ctx, ep)
		if err == nil || ctx.Err() != nil {
			continue
		}
		l.mu.Lock()
		if l.probers[key] == p {
			delete(l.probers, key)
		}
		waiters := p.waiters
		p.waiters = nil
		l.mu.Unlock()
		p.stop()
		for w := range waiters {
			w.abandon()
		}
		return
	}
}

// ask sends one probe, GET /version, to ep and reads its answer.
func (l *liveness) ask(ctx context.Context, ep *url.URL) error {
	resp, err := l.probe.roundTrip(ctx, &request{action: &getAction{Prefix: "/version"}}, ep, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = resp.Body.(*guardedBody).readAll(l.probe.maxBody)
	return err
}
