package client

import (
	"testing"

	"github.com/v2keys/client/internal/etcdtest"
)

// TestMain stops the shared etcd member after the package's tests.
func TestMain(m *testing.M) { etcdtest.Main(m) }
