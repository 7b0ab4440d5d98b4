package onv3

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/v2keys/client"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// Option configures a KeysAPI made by NewKeysAPI.
type Option func(*config)

type config struct {
	recordTTL time.Duration
}

// WithRecordTTL sets how long the action record of a write stays in the
// v3 keyspace (default one minute, at least 5 s). Watchers read the record
// from the watch history, so its removal loses nothing; it only bounds how
// many records exist at a time.
func WithRecordTTL(d time.Duration) Option {
	return func(c *config) {
		if d < 5*time.Second {
			d = 5 * time.Second
		}
		c.recordTTL = d
	}
}

// NewKeysAPI returns the v2 KeysAPI served from the v3 keyspace of c, with
// v2 key K stored at v3 key prefix+K (see Layout; a trailing "/" of prefix
// is dropped, as v2keys migrate --prefix does). Every call keeps its v2
// meaning; the differences that v3 forces are listed in the package
// README. The KeysAPI is safe for concurrent use and holds no goroutine of
// its own; c stays owned by the caller, who closes it after the last call.
func NewKeysAPI(c *clientv3.Client, prefix string, opts ...Option) client.KeysAPI {
	cfg := config{recordTTL: time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	// As v2keys migrate --prefix: a trailing "/" is dropped, so that
	// "/v2" and "/v2/" name the same layout.
	prefix = strings.TrimRight(prefix, "/")
	return &keysAPI{c: c, l: Layout{Prefix: prefix}, rec: &recordLease{c: c, ttl: cfg.recordTTL}, callOpts: rawCallOptions(c)}
}

type keysAPI struct {
	c        *clientv3.Client
	l        Layout
	rec      *recordLease
	callOpts []grpc.CallOption // of rawTxn
}

// recordLease hands out the lease that action records are written with: one
// lease for many records, replaced when a third of its time has passed so
// that a record always outlives the write by two thirds of the TTL.
type recordLease struct {
	c   *clientv3.Client
	ttl time.Duration

	mu      sync.Mutex
	id      clientv3.LeaseID
	granted time.Time
}

func (r *recordLease) get(ctx context.Context) (clientv3.LeaseID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id != 0 && time.Since(r.granted) < r.ttl/3 {
		return r.id, nil
	}
	resp, err := r.c.Grant(ctx, int64(r.ttl/time.Second))
	if err != nil {
		return 0, err
	}
	r.id, r.granted = resp.ID, time.Now()
	return r.id, nil
}

// drop forgets id after the server said it does not know it.
func (r *recordLease) drop(id clientv3.LeaseID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id == id {
		r.id = 0
	}
}
