package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/v2keys/client/internal/etcdtest"
)

// TestCompatNoV2OnEtcd36 pins down what a user of this client sees when the
// cluster was upgraded to a version without the v2 API (3.6 and 3.7, the
// README's Compatibility section): every v2 path answers a plain-text
// "404 page not found", which the keys API reports as ErrInvalidJSON (as
// upstream does, word for word) and the members API as an unexpected
// status, while GetVersion, which is not a v2 path, still works and names
// the version. The way out is onv3 on the same cluster.
func TestCompatNoV2OnEtcd36(t *testing.T) {
	for _, series := range []string{"3.6", "3.7"} {
		t.Run(series, func(t *testing.T) {
			t.Parallel()
			c := etcdtest.StartCluster(t, etcdtest.Options{API: etcdtest.V3, Version: series})
			cl := newTestClient(t, Config{}, c.ClientURLs()...)
			ctx := testCtx(t)

			kapi := NewKeysAPI(cl)
			if _, err := kapi.Get(ctx, "/k", nil); !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("Get on etcd %s: %v, want ErrInvalidJSON", c.Version(), err)
			}
			if _, err := kapi.Set(ctx, "/k", "v", nil); !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("Set on etcd %s: %v, want ErrInvalidJSON", c.Version(), err)
			}
			if _, err := NewMembersAPI(cl).List(ctx); err == nil || !strings.Contains(err.Error(), "unexpected status code 404") {
				t.Errorf("members List on etcd %s: %v, want unexpected status code 404", c.Version(), err)
			}
			v, err := cl.GetVersion(ctx)
			if err != nil || v.Server != c.Version() {
				t.Errorf("GetVersion on etcd %s: %+v, %v", c.Version(), v, err)
			}
		})
	}
}
