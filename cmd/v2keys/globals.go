package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/v2keys/client"
	"golang.org/x/term"
)

// env is what a command runs with: its context (ended by Ctrl-C), its
// standard streams and the parsed global flags.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	g      *globals

	transport *http.Transport // built by newClient; idle connections closed by closeClient
	closers   []io.Closer
	usages    map[*flag.FlagSet]func(io.Writer) // each command flag set's usage printer
	helped    bool                              // a command printed its help: the run ends with status 0
}

// globals are the global flags, named as etcdctl v2's.
type globals struct {
	endpoints         string
	peers             string // deprecated etcdctl aliases of endpoints
	endpoint          string
	discoverySrv      string
	discoverySrvName  string
	insecureDiscovery bool
	certFile          string
	keyFile           string
	caFile            string
	insecureSkipTLS   bool
	username          string
	timeout           time.Duration
	totalTimeout      time.Duration
	output            string
	noSync            bool
	debug             bool
	version           bool
	backend           string // "v2" or "v3" once parsed (see backend.go)
	v3Prefix          string
}

const defaultEndpoints = "http://127.0.0.1:2379,http://127.0.0.1:4001"

func newGlobalFlagSet(g *globals, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("v2keys", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&g.endpoints, "endpoints", "", "a comma-delimited list of machine addresses in the cluster (default: \""+defaultEndpoints+"\"; env ETCDCTL_ENDPOINTS)")
	fs.StringVar(&g.endpoint, "endpoint", "", "DEPRECATED - \"--endpoints\" should be used instead")
	fs.StringVar(&g.peers, "peers", "", "DEPRECATED - \"--endpoints\" should be used instead")
	fs.StringVar(&g.peers, "C", "", "DEPRECATED - \"--endpoints\" should be used instead")
	fs.StringVar(&g.discoverySrv, "discovery-srv", "", "domain name to query for SRV records describing cluster endpoints (env ETCDCTL_DISCOVERY_SRV)")
	fs.StringVar(&g.discoverySrv, "D", "", "short for --discovery-srv")
	fs.StringVar(&g.discoverySrvName, "discovery-srv-name", "", "service name to query when using DNS discovery (env ETCDCTL_DISCOVERY_SRV_NAME)")
	fs.BoolVar(&g.insecureDiscovery, "insecure-discovery", false, "accept insecure SRV records describing cluster endpoints")
	fs.StringVar(&g.certFile, "cert-file", "", "identify HTTPS client using this SSL certificate file (env ETCDCTL_CERT_FILE)")
	fs.StringVar(&g.keyFile, "key-file", "", "identify HTTPS client using this SSL key file (env ETCDCTL_KEY_FILE)")
	fs.StringVar(&g.caFile, "ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle (env ETCDCTL_CA_FILE)")
	fs.BoolVar(&g.insecureSkipTLS, "insecure-skip-tls-verify", false, "skip server certificate verification (insecure)")
	fs.StringVar(&g.username, "username", "", "provide username[:password]; the password is prompted for if stdin is a terminal (env ETCDCTL_USERNAME)")
	fs.StringVar(&g.username, "u", "", "short for --username")
	fs.DurationVar(&g.timeout, "timeout", 2*time.Second, "connection timeout per request")
	fs.DurationVar(&g.totalTimeout, "total-timeout", 5*time.Second, "timeout for the command execution (except watch); per request for export and import")
	fs.StringVar(&g.output, "output", "simple", "output response in the given format (`simple`, `extended` or `json`)")
	fs.StringVar(&g.output, "o", "simple", "short for --output")
	fs.BoolVar(&g.noSync, "no-sync", false, "don't synchronize cluster information before sending request")
	fs.BoolVar(&g.debug, "debug", false, "output cURL commands which can be used to reproduce the request")
	fs.StringVar(&g.backend, "backend", "", "the API the keys and member commands use: v2 (the etcd v2 API) or v3 (the v2 keys kept in the v3 keyspace, through onv3; etcd 3.4 to 3.7) (default \"v2\"; env "+backendEnv+")")
	fs.StringVar(&g.v3Prefix, "v3-prefix", "", "with --backend v3: the v3 prefix the v2 keys live under, as migrate --prefix writes them")
	fs.BoolVar(&g.version, "version", false, "print the version and exit")
	fs.BoolVar(&g.version, "v", false, "short for --version")
	return fs
}

// parseGlobals parses the global flags and returns the command line that
// follows them. If it returns ok false, the run ends with status code: help
// was asked for (0), or a flag is bad (1; as etcdctl: the error on stderr,
// "Incorrect Usage." and the usage on stdout).
func (e *env) parseGlobals(args []string) (rest []string, code int, ok bool) {
	g := &globals{}
	fs := newGlobalFlagSet(g, io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(e.stdout)
			return nil, ExitSuccess, false
		}
		fmt.Fprintln(e.stderr, err)
		fmt.Fprintf(e.stdout, "Incorrect Usage. %v\n\n", err)
		printUsage(e.stdout)
		return nil, ExitBadArgs, false
	}
	if g.version {
		// etcdctl's two lines, so that scripts that look for the API
		// version find it.
		fmt.Fprintf(e.stdout, "v2keys version: %s\nAPI version: 2\n", version())
		return nil, ExitSuccess, false
	}
	switch g.output {
	case "simple", "extended", "json":
	default:
		// etcdctl runs the command, then says this and exits 0; refusing
		// before anything is done is safer (README: differences).
		fmt.Fprintf(e.stderr, "Error:  unsupported output format %q: use simple, extended or json\n", g.output)
		return nil, ExitBadArgs, false
	}
	if err := g.resolveBackend(); err != nil {
		fmt.Fprintf(e.stderr, "Error:  %v\n", err)
		return nil, ExitBadArgs, false
	}
	e.g = g
	return fs.Args(), ExitSuccess, true
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// endpointList returns the endpoints to use: those found by DNS SRV
// discovery if a domain is given, else --endpoints, ETCDCTL_ENDPOINTS, the
// deprecated aliases, or the default. An endpoint without a scheme gets
// http://.
func (e *env) endpointList() ([]string, error) {
	var eps []string
	domain := firstNonEmpty(e.g.discoverySrv, os.Getenv("ETCDCTL_DISCOVERY_SRV"))
	if domain != "" {
		name := firstNonEmpty(e.g.discoverySrvName, os.Getenv("ETCDCTL_DISCOVERY_SRV_NAME"))
		found, err := client.NewSRVDiscover().Discover(domain, name)
		if err != nil {
			return nil, err
		}
		for _, ep := range found {
			if strings.HasPrefix(ep, "http://") && !e.insecureDiscovery() {
				fmt.Fprintf(e.stderr, "ignoring discovered insecure endpoint %q\n", ep)
				continue
			}
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		list := firstNonEmpty(e.g.endpoints, os.Getenv("ETCDCTL_ENDPOINTS"),
			e.g.endpoint, os.Getenv("ETCDCTL_ENDPOINT"),
			e.g.peers, os.Getenv("ETCDCTL_PEERS"), defaultEndpoints)
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

func (e *env) insecureDiscovery() bool {
	return e.g.insecureDiscovery || os.Getenv("ETCDCTL_INSECURE_DISCOVERY") != ""
}

// newTransport builds the HTTP transport: TLS from the certificate flags
// (server name set to the discovery domain for SRV setups, as etcdctl), and
// a dial timeout of 30 s or --total-timeout if shorter.
func (e *env) newTransport() (*http.Transport, error) {
	certFile := firstNonEmpty(e.g.certFile, os.Getenv("ETCDCTL_CERT_FILE"))
	keyFile := firstNonEmpty(e.g.keyFile, os.Getenv("ETCDCTL_KEY_FILE"))
	caFile := firstNonEmpty(e.g.caFile, os.Getenv("ETCDCTL_CA_FILE"))

	cfg := &tls.Config{InsecureSkipVerify: e.g.insecureSkipTLS}
	if domain := firstNonEmpty(e.g.discoverySrv, os.Getenv("ETCDCTL_DISCOVERY_SRV")); domain != "" && !e.insecureDiscovery() {
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
	flag := firstNonEmpty(e.g.username, os.Getenv("ETCDCTL_USERNAME"))
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

// close releases the clients and connections a command opened.
func (e *env) close() {
	for _, c := range e.closers {
		c.Close()
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	if e.g != nil && e.g.debug {
		client.DisablecURLDebug()
	}
}

// requestContext bounds one command (or, for export and import, one
// request) by --total-timeout and by the run's context.
func (e *env) requestContext() (context.Context, context.CancelFunc) {
	if e.g.totalTimeout <= 0 {
		return context.WithCancel(e.ctx)
	}
	return context.WithTimeout(e.ctx, e.g.totalTimeout)
}

// version is the module version v2keys was built from, "(devel)" for a
// build from a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
