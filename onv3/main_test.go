package onv3

import (
	"context"
	"testing"
	"time"

	"github.com/v2keys/client"
	"github.com/v2keys/client/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { etcdtest.Main(m) }

// v3URL is the client URL of a member serving the v3 API (of the version
// ETCDTEST_V3_VERSION names), shared by the tests of the binary.
func v3URL(t testing.TB) string {
	t.Helper()
	return etcdtest.SharedV3(t).ClientURL()
}

// v2URL is the client URL of a member serving the native v2 API (of the
// version ETCDTEST_V2_VERSION names), the reference of the differential
// tests.
func v2URL(t testing.TB) string {
	t.Helper()
	return etcdtest.Shared(t).ClientURL()
}

// newV3 connects a clientv3 client to url, closed by the test's cleanup.
func newV3(t testing.TB, url string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newOnV3 returns an onv3 KeysAPI on the shared v3 member under a prefix of
// its own, and the clientv3 client it uses.
func newOnV3(t testing.TB) (client.KeysAPI, *clientv3.Client, string) {
	t.Helper()
	c := newV3(t, v3URL(t))
	prefix := etcdtest.UniquePrefix(t)
	return NewKeysAPI(c, prefix), c, prefix
}

// newNativeV2 returns a KeysAPI of the root client on the native v2 member.
func newNativeV2(t testing.TB) client.KeysAPI {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: []string{v2URL(t)}})
	if err != nil {
		t.Fatal(err)
	}
	return client.NewKeysAPI(c)
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
