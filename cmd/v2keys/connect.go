package main

// Connecting: the endpoints, the HTTP transport (TLS) and the credentials
// the global flags name, and the v2 client built from them.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/v2keys/client"
	"golang.org/x/term"
)

// endpointList returns the endpoints to use: those found by DNS SRV
// discovery if a domain is given, else --endpoints, ETCDCTL_ENDPOINTS, the
// deprecated aliases, or the default. An endpoint without a scheme gets
// http://.
func (e *env) endpointList() ([]string, error) {
	var eps []string
	if domain := e.g.discoverySrv; domain != "" {
		found, err := client.NewSRVDiscover().Discover(domain, e.g.discoverySrvName)
		if err != nil {
			return nil, err
		}
		for _, ep := range found {
			if strings.HasPrefix(ep, "http://") && !e.g.insecureDiscovery {
				fmt.Fprintf(e.stderr, "ignoring discovered insecure endpoint %q\n", ep)
				continue
			}
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		list := firstNonEmpty(e.g.endpoints, e.g.endpoint, e.g.peers, defaultEndpoints)
		for _, ep := range strings.Split(list, ",") {
			ep = strings.TrimSpace(ep)
			if ep == "" {
				continue
			}
			if !strings.Contains(ep, "://") {
				ep = "http://" + ep
			}
			eps = append(eps, ep)
		}
	}
	return eps, nil
}

// newTransport builds the HTTP transport: TLS from the certificate flags
// (server name set to the discovery domain for SRV setups, as etcdctl), and
// a dial timeout of 30 s or --total-timeout if shorter.
func (e *env) newTransport() (*http.Transport, error) {
	certFile, keyFile, caFile := e.g.certFile, e.g.keyFile, e.g.caFile
	cfg := &tls.Config{InsecureSkipVerify: e.g.insecureSkipTLS}
	if domain := e.g.discoverySrv; domain != "" && !e.g.insecureDiscovery {
		cfg.ServerName = domain
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("--cert-file and --key-file must be given together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate found in CA file %s", caFile)
		}
		cfg.RootCAs = pool
	}
	dial := 30 * time.Second
	if t := e.g.totalTimeout; t > 0 && t < dial {
		dial = t
	}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     cfg,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}

// credentials returns the user name and password from --username or
// ETCDCTL_USERNAME ("user:password"). Without a password it is prompted for
// when stdin is a terminal, and otherwise read from the first line of stdin
// (as etcdctl ends up doing); no line there is an error.
func (e *env) credentials() (user, pass string, err error) {
	flag := e.g.username
	if flag == "" {
		return "", "", nil
	}
	if i := strings.IndexByte(flag, ':'); i >= 0 {
		return flag[:i], flag[i+1:], nil
	}
	pass, err = e.askPassword("Password: ")
	if err != nil {
		return "", "", fmt.Errorf("password for %s: %w (give --username %s:<password>)", flag, err, flag)
	}
	return flag, pass, nil
}

// askPassword reads a password: with the prompt on stderr and without echo
// when stdin is a terminal, otherwise the first line of stdin.
func (e *env) askPassword(prompt string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		return string(b), err
	}
	if e.stdin == nil {
		return "", errors.New("no password on stdin")
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("no password on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// isTerminal reports whether w is a terminal (for the progress display).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newClient builds the client from the global flags and, unless --no-sync
// or sync is false, replaces its endpoints with the cluster's (as etcdctl
// does; only "no published endpoints" and connection failures are fatal).
// On failure it has printed the error and returns the exit code.
func (e *env) newClient(sync bool) (client.Client, int) {
	if e.onV3() {
		return nil, e.fail(ExitBadArgs, errNeedsV2)
	}
	eps, err := e.endpointList()
	if err != nil {
		return nil, e.fail(ExitBadArgs, err)
	}
	tr, err := e.newTransport()
	if err != nil {
		return nil, e.fail(ExitBadArgs, err)
	}
	user, pass, err := e.credentials()
	if err != nil {
		return nil, e.fail(ExitBadAuth, err)
	}
	c, err := client.New(client.Config{
		Endpoints:               eps,
		Transport:               tr,
		HeaderTimeoutPerRequest: e.g.timeout,
		Username:                user,
		Password:                pass,
	})
	if err != nil {
		return nil, e.fail(ExitBadArgs, err)
	}
	e.transport = tr
	if cl, ok := c.(io.Closer); ok {
		e.closers = append(e.closers, cl)
	}
	if e.g.debug {
		client.EnablecURLDebug()
	}
	if sync && !e.g.noSync {
		if e.g.debug {
			fmt.Fprintf(e.stderr, "start to sync cluster using endpoints(%s)\n", strings.Join(c.Endpoints(), ","))
		}
		ctx, cancel := e.requestContext()
		err := c.Sync(ctx)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, client.ErrNoEndpoints):
			fmt.Fprintf(e.stderr, "etcd cluster has no published client endpoints.\n")
			fmt.Fprintf(e.stderr, "Try '--no-sync' if you want to access non-published client endpoints(%s).\n", strings.Join(c.Endpoints(), ","))
			return nil, e.fail(ExitServerError, err)
		case isConnectionError(err) || errors.Is(err, context.DeadlineExceeded):
			return nil, e.fail(ExitBadConnection, err)
		}
		if e.g.debug {
			fmt.Fprintf(e.stderr, "got endpoints(%s) after sync\n", strings.Join(c.Endpoints(), ","))
		}
	}
	if e.g.debug {
		fmt.Fprintf(e.stderr, "Cluster-Endpoints: %s\n", strings.Join(c.Endpoints(), ", "))
	}
	return c, ExitSuccess
}
