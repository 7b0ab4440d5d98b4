package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The progress of a migration, kept in the v3 target under the state key
// so that a re-run resumes where the last one stopped:
//
//	{"format":"v2keys-migrate","version":1,"clusterID":"cdf818194e3a8c32",
//	 "subtree":"/app","prefix":"/v2","phase":"follow",
//	 "snapshotIndex":4711,"appliedIndex":4790,"updated":"2024-05-01T10:00:00Z"}
//
// phase "copy": a snapshot copy began (at snapshotIndex) and has not
// finished, or its catch-up (settle) has not yet applied the changes made
// while its pieces were read; copyRevision is the v3 revision after which
// its writes came.
// A re-run resumes it (see migrate_copy.go): it keeps what was written
// and is still as in v2, and copies the rest from a new snapshot. Phase "follow": the copy finished and
// every v2 change up to appliedIndex is in the target; a re-run with
// --follow continues from appliedIndex+1. Every batch of followed changes
// is written in one Txn together with the new state, so the state never
// claims more than the target holds, nor less.
const (
	stateFormat  = "v2keys-migrate"
	stateVersion = 1

	phaseCopy   = "copy"
	phaseFollow = "follow"
)

type migrateState struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	ClusterID     string    `json:"clusterID"` // the v2 source cluster's ID
	Subtree       string    `json:"subtree"`   // the v2 key copied
	Prefix        string    `json:"prefix"`    // the v3 prefix it is copied under
	Phase         string    `json:"phase"`
	SnapshotIndex uint64    `json:"snapshotIndex"`          // v2 index of the last snapshot copied
	AppliedIndex  uint64    `json:"appliedIndex"`           // v2 changes up to here are in v3 (phase follow)
	CopyRevision  int64     `json:"copyRevision,omitempty"` // phase copy: the v3 revision after which the copy's writes come
	Updated       time.Time `json:"updated"`
}

// defaultStateKey names the state of copying subtree under prefix. It is
// outside every target range that starts with "/".
func defaultStateKey(t target) string {
	return "v2keys-migrate:" + t.prefix + t.subtree
}

// stateStore reads and writes the state key, each write conditional on
// the key not having changed since this process last read or wrote it: a
// second migrate of the same target running at the same time makes the
// other fail instead of both writing.
type stateStore struct {
	cli *clientv3.Client
	key string
	rev int64 // ModRevision of the key as last seen; 0: absent
	cur *migrateState
}

// errNotState marks a state key holding something else: a usage error.
var errNotState = errors.New("not a migration state")

var errStateChanged = errors.New("the migration state was changed by another process (is a second migrate of the same target running?)")

// load reads the state; a missing key leaves cur nil.
func (s *stateStore) load(ctx context.Context) error {
	resp, err := s.cli.Get(ctx, s.key)
	if err != nil {
		return fmt.Errorf("reading migration state %q: %w", s.key, err)
	}
	if len(resp.Kvs) == 0 {
		s.cur, s.rev = nil, 0
		return nil
	}
	var st migrateState
	if err := json.Unmarshal(resp.Kvs[0].Value, &st); err != nil || st.Format != stateFormat {
		return fmt.Errorf("v3 key %q is not a v2keys migration state; choose another --state-key%w", s.key, errorMark{errNotState})
	}
	if st.Version != stateVersion {
		return fmt.Errorf("migration state %q has version %d, this v2keys understands %d%w", s.key, st.Version, stateVersion, errorMark{errNotState})
	}
	s.cur, s.rev = &st, resp.Kvs[0].ModRevision
	return nil
}

// check refuses a state that belongs to another migration.
func (s *stateStore) check(t target, clusterID string) error {
	st := s.cur
	if st == nil {
		return nil
	}
	switch {
	case st.Subtree != t.subtree || st.Prefix != t.prefix:
		return fmt.Errorf("state key %q belongs to the migration of v2 %s to v3 prefix %q, not of %s to %q; use another --state-key, or delete that key if the old migration is abandoned",
			s.key, st.Subtree, st.Prefix, t.subtree, t.prefix)
	case clusterID != "" && st.ClusterID != "" && st.ClusterID != clusterID:
		return fmt.Errorf("state key %q belongs to a migration from v2 cluster %s, but the source is cluster %s; use another --state-key, or delete that key if the old migration is abandoned",
			s.key, st.ClusterID, clusterID)
	}
	return nil
}

// commit writes ops and the new state in one Txn, conditional on the
// state key being as last seen.
func (s *stateStore) commit(ops []clientv3.Op, st *migrateState) error {
	st.Format, st.Version, st.Updated = stateFormat, stateVersion, time.Now().UTC()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	all := append(ops[:len(ops):len(ops)], clientv3.OpPut(s.key, string(b)))
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.key), "=", s.rev)).Then(all...).Commit()
	if err != nil {
		return fmt.Errorf("v3 write: %w", err)
	}
	if !resp.Succeeded {
		return errStateChanged
	}
	cp := *st
	s.cur, s.rev = &cp, resp.Header.Revision
	return nil
}

// errorMark wraps a sentinel without adding to the message.
type errorMark struct{ err error }

func (m errorMark) Error() string { return "" }
func (m errorMark) Unwrap() error { return m.err }
