package client

import (
	"context"
	"errors"
	"fmt"
)

// FollowOptions are the options of Follow. A nil *FollowOptions means all
// zero.
type FollowOptions struct {
	// Prefix is the URL path of the keys API, as given to
	// NewKeysAPIWithPrefix. Empty means "/v2/keys".
	Prefix string

	// Shallow makes the snapshot a listing of key alone: its files with
	// their values and its child directories without their contents (a
	// non-recursive read), so that a caller can read each child directory
	// on its own (OpenSnapshot) while the watch, opened at the listing's
	// Index, keeps every change below key, the children included. A child
	// read later is as of a later index; the changes between the two are
	// among those Next returns.
	Shallow bool
}

// Follower is a consistent snapshot of a subtree followed by every change
// made after it, in order, with no gap and no duplicate: the building
// block of a bridge that copies a v2 keyspace elsewhere and keeps the copy
// in sync. Read the snapshot's nodes with Snapshot.All, then call Next for
// the changes, each with an index above Snapshot.Index. Applying the
// snapshot and then every event, in order, reproduces the subtree as it is
// at the index of the last event.
//
// Close the Follower when done; it holds a streaming watch open.
type Follower struct {
	// Snapshot is the subtree as of Snapshot.Index, read as it arrives
	// (a quorum, sorted read, recursive unless FollowOptions.Shallow; see
	// OpenSnapshot).
	Snapshot *Snapshot

	watcher *streamWatcher
}

// Follow reads a consistent snapshot of key (a directory, or a single key)
// and starts following the changes made after it. It returns once the
// snapshot's headers have arrived, with its Index known; the snapshot's
// nodes are then read with f.Snapshot.All and the changes with f.Next.
//
// The watch of the changes is a streaming watch (WatcherOptions.Stream)
// opened at once, before the snapshot is read, so that changes made while
// a large snapshot is being read are received and kept (up to a bounded
// queue, then from etcd's history of 1000 events). If they could not be
// kept, Next returns an error wrapping ErrHistoryLost.
//
// ctx bounds the reading of the snapshot (see OpenSnapshot), not the
// following. key must exist: a missing key is returned as the value Error
// (ErrorCodeKeyNotFound). c must be a Client made by New; otherwise Follow
// returns ErrWalkUnsupported.
func Follow(ctx context.Context, c Client, key string, opts *FollowOptions) (*Follower, error) {
	hc, ok := c.(*httpClusterClient)
	if !ok {
		return nil, ErrWalkUnsupported
	}
	walkOpts := &WalkOptions{Sort: true, Quorum: true}
	prefix := defaultV2KeysPrefix
	if opts != nil && opts.Prefix != "" {
		walkOpts.Prefix, prefix = opts.Prefix, opts.Prefix
	}
	snap, err := openSnapshot(ctx, c, key, walkOpts, opts == nil || !opts.Shallow)
	if err != nil {
		return nil, err
	}
	w := newStreamWatcher(hc, waitAction{Prefix: prefix, Key: key, Recursive: true, WaitIndex: snap.Index + 1})
	w.start()
	return &Follower{Snapshot: snap, watcher: w}, nil
}

// Next returns the next change after the snapshot, in index order. It
// blocks until one happens or ctx ends; ctx ending returns ctx.Err() and
// loses nothing. An error wrapping ErrHistoryLost is final: take a new
// snapshot. After other errors (a member failing, say), Next may be called
// again and continues after the last change it returned.
func (f *Follower) Next(ctx context.Context) (*Response, error) {
	resp, err := f.watcher.Next(ctx)
	var e Error
	if errors.As(err, &e) && e.Code == ErrorCodeEventIndexCleared {
		return nil, fmt.Errorf("%w: %w", ErrHistoryLost, e)
	}
	return resp, err
}

// Close ends the following and releases the snapshot if it was not read to
// its end.
func (f *Follower) Close() error {
	f.Snapshot.Close()
	return f.watcher.Close()
}
