package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/v2keys/client"
	"github.com/v2keys/client/onv3"
)

// The backend of the keys and member commands: the etcd v2 API (the
// default), or the v3 keyspace through onv3, so that a script written for
// "ETCDCTL_API=2 etcdctl" keeps working after its cluster moves to etcd
// 3.6 or 3.7, with the same output formats and exit statuses.

// backendEnv names the environment variable that sets the backend when the
// --backend flag is not given.
const backendEnv = "V2KEYS_BACKEND"

const (
	backendV2 = "v2"
	backendV3 = "v3"
)

// errNeedsV2 is returned by the commands that only the v2 API can serve
// (auth, export, import and migrate's v2 side) when the backend is v3.
var errNeedsV2 = errors.New("this command needs the v2 API; it is not available with --backend v3")

// resolveBackend settles the backend from the flag, else the environment,
// else v2, and refuses anything else. The v3 prefix is only meaningful with
// the v3 backend.
func (g *globals) resolveBackend() error {
	g.backend = firstNonEmpty(g.backend, os.Getenv(backendEnv), backendV2)
	switch g.backend {
	case backendV2:
		if g.v3Prefix != "" {
			return errors.New("--v3-prefix needs --backend v3")
		}
	case backendV3:
	default:
		return fmt.Errorf("unknown backend %q: use v2 or v3 (--backend or %s)", g.backend, backendEnv)
	}
	return nil
}

// onV3 reports whether the commands run through onv3.
func (e *env) onV3() bool { return e.g.backend == backendV3 }

// v3APIs connects to the cluster's v3 API with the global flags' endpoints,
// TLS settings and credentials, and returns the v2 keys and members APIs
// served from it. The connection is closed when the command ends.
func (e *env) v3APIs() (client.KeysAPI, client.MembersAPI, int) {
	cli, err := e.newV3Client("")
	if err != nil {
		return nil, nil, e.fail(ExitBadConnection, err)
	}
	e.closers = append(e.closers, cli)
	return onv3.NewKeysAPI(cli, e.g.v3Prefix), onv3.NewMembersAPI(cli), ExitSuccess
}
