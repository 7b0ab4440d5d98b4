package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"

	"github.com/v2keys/client/internal/etcdtest"
)

// Fault is one fault the nemesis injected, in history time.
type Fault struct {
	Kind       string // kill, pause, kill-quorum, pause-quorum
	Members    []string
	Start, End int64
}

func (f Fault) String() string {
	return fmt.Sprintf("%s %s [%v, %v]", f.Kind, strings.Join(f.Members, ","),
		time.Duration(f.Start).Round(time.Millisecond), time.Duration(f.End).Round(time.Millisecond))
}

// nemesis injects faults into a cluster, one at a time, from a seeded
// random source: SIGKILL and restart of one member (the leader half of the
// time), SIGSTOP and SIGCONT of one member (the leader half of the time),
// and quorum loss by killing or stopping two members. Each fault lasts 0.3
// to 3 s and is followed by 0.3 to 2 s of calm.
type nemesis struct {
	cluster *etcdtest.Cluster
	rng     *rand.Rand
	hist    *History
	pids    *pidSet

	faults []Fault
}

// run injects faults until ctx ends, then heals the cluster. It returns
// an error only when the cluster could not be healed.
func (n *nemesis) run(ctx context.Context) error {
	members := n.cluster.Members()
	for {
		if !sleepCtx(ctx, time.Duration(300+n.rng.Intn(1700))*time.Millisecond) {
			return nil
		}
		kind := []string{"kill", "kill", "pause", "pause", "kill-quorum", "pause-quorum"}[n.rng.Intn(6)]
		down := time.Duration(300+n.rng.Intn(2700)) * time.Millisecond
		perm := n.rng.Perm(len(members))
		victims := []*etcdtest.Member{members[perm[0]]}
		if strings.HasSuffix(kind, "quorum") {
			victims = append(victims, members[perm[1]])
		} else if n.rng.Intn(2) == 0 {
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if l, err := n.cluster.Leader(lctx); err == nil {
				victims[0] = l
			}
			cancel()
		}
		f := Fault{Kind: kind, Start: n.hist.Now()}
		for _, m := range victims {
			f.Members = append(f.Members, m.Name())
			var err error
			if strings.HasPrefix(kind, "kill") {
				err = m.Kill()
			} else {
				err = m.Pause()
			}
			if err != nil {
				return fmt.Errorf("chaos: nemesis %s %s: %w", kind, m.Name(), err)
			}
		}
		// The calm at the end of the run is not the fault's business: a
		// fault lasts its time even if the run ends meanwhile.
		time.Sleep(down)
		if err := n.heal(victims); err != nil {
			return err
		}
		f.End = n.hist.Now()
		n.faults = append(n.faults, f)
	}
}

// heal restarts the killed members and resumes the stopped ones, in
// parallel: a restarted member is healthy only once it has a leader, which
// after quorum loss needs the other one too.
func (n *nemesis) heal(ms []*etcdtest.Member) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.Running() {
				errs[i] = m.Resume()
				return
			}
			errs[i] = m.Restart()
			n.pids.add(m.PID())
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept the
// whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
