package main

// The directories with a TTL, created with it before any key is written,
// and how import decides a create whose outcome the client left unknown.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/v2keys/client"
)

// earlyCreateAttempts bounds the creates of one directory with a TTL whose
// outcome stays unknown: each goes to the next member, so one stopped
// member costs one header timeout (--timeout) per directory at most.
const earlyCreateAttempts = 4

// earlyCreateSlack is how far an expiration read back may be from the one
// import's own copies give and still be theirs: the seconds etcd rounds a
// TTL to, and the clocks of this machine and the server.
const earlyCreateSlack = 2 * time.Second

// createExpiringDirs creates, before any key is written, the directories
// that have a TTL, parents first, each with its TTL. In post-order a
// directory's line comes after its keys, which would create it without a
// TTL, and the TTL of an existing directory can only be set with an update,
// which etcd 3.5 fails with a 500 "Raft Internal Error" (etcd-io/etcd#13589;
// README, Compatibility). A directory already in the target is left to
// setDir's update when its line comes; expired ones are left out.
func (imp *importer) createExpiringDirs() {
	keys := make([]string, 0, len(imp.expDirs))
	for k := range imp.expDirs {
		keys = append(keys, k)
	}
	// Parents sort before their children: "/a" < "/a/b".
	sort.Strings(keys)
	chk := dumpChecker{expDirs: imp.expDirs}
	for _, k := range keys {
		if imp.fatal.Load() != nil || imp.e.ctx.Err() != nil || len(k) <= len(imp.base) {
			continue
		}
		exp := imp.expDirs[k]
		n := &dumpNode{Key: k, Dir: true, Expiration: &exp.at}
		if chk.expiredAt(n, time.Now()) {
			continue
		}
		key := imp.target + k[len(imp.base):]
		err := imp.createExpiringDir(key, exp.at)
		var kerr client.Error
		switch {
		case err == nil:
			if imp.early == nil {
				imp.early = map[string]bool{}
			}
			imp.early[key] = true
		case errors.Is(err, errExpiredMeanwhile):
			// Pass 2 skips its subtree and counts it.
		case errors.As(err, &kerr):
			// Already there (or a file in the way): setDir decides when
			// the directory's line comes.
		default:
			imp.done(importJob{line: exp.line, key: key, node: n}, err)
		}
	}
}

// errExpiredMeanwhile: a directory expired while its create was tried
// again.
var errExpiredMeanwhile = errors.New("expired while being created")

// createExpiringDir creates key as a directory expiring at exp (its TTL is
// counted again for each copy sent). It returns nil when the directory is
// import's own, with that expiration; a client.Error when the target
// answered that something is there already; errExpiredMeanwhile; or the
// last failure.
//
// The client sends a create once: when the member it reached does not
// answer, the call fails with an unknown outcome (client.ErrOutcomeUnknown)
// and the next call starts at the next member. Import decides the outcome
// itself by trying again, a bounded number of times. That is safe because
// import is the only writer of its target while it runs: every copy,
// including one a stopped member applies late, can only create this same
// empty directory with a TTL counted to exp (later by however long the
// copy waited), and a copy applied after another fails with "Key already
// exists" and changes nothing. Nobody deletes the directory in between;
// only its own expiry can, after which a late first copy would make it
// again for its TTL whether or not import tried again. (With other
// writers, a late copy could bring back a directory they deleted: the
// reason the client sends a create once.) A retry answered "Key already
// exists" may have met an earlier copy of ours, so the key is read: a
// directory whose expiration one of our copies could have given is ours;
// anything else was there before, and is reported as found.
func (imp *importer) createExpiringDir(key string, exp time.Time) error {
	first := time.Now()
	var err error
	for attempt := 0; attempt < earlyCreateAttempts; attempt++ {
		now := time.Now()
		if !exp.After(now) {
			return errExpiredMeanwhile
		}
		ctx, cancel := imp.e.requestContext()
		_, err = imp.keys.Set(ctx, key, "", &client.SetOptions{Dir: true, TTL: ttlLeft(exp, now), PrevExist: client.PrevNoExist})
		if attempt > 0 && hasErrorCode(err, client.ErrorCodeNodeExist) && imp.ownEarlyDir(ctx, key, exp, first) {
			err = nil
		}
		cancel()
		if !errors.Is(err, client.ErrOutcomeUnknown) || imp.e.ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("outcome unknown after %d creates, each through the next member: %w", earlyCreateAttempts, err)
}

// ownEarlyDir reports whether key, read with a quorum read, is a directory
// expiring when a copy of its create sent since first would have made it
// expire: each copy asks for the whole seconds left until exp, counted by
// the member from when it reads the request, at the latest now.
func (imp *importer) ownEarlyDir(ctx context.Context, key string, exp, first time.Time) bool {
	resp, err := imp.keys.Get(ctx, key, &client.GetOptions{Quorum: true})
	if err != nil || !resp.Node.Dir || resp.Node.Expiration == nil {
		return false
	}
	got := *resp.Node.Expiration
	latest := exp.Add(time.Since(first) + time.Second)
	return !got.Before(exp.Add(-earlyCreateSlack)) && !got.After(latest.Add(earlyCreateSlack))
}

// ttlLeft is the whole seconds left until exp, rounded up.
func ttlLeft(exp, now time.Time) time.Duration {
	return (exp.Sub(now) + time.Second - 1).Truncate(time.Second)
}
