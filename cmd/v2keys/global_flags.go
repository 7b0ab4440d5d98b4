package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// globals are the global flags, named as etcdctl v2's, with the ETCDCTL_*
// environment variables that stand in for a flag not given already applied
// (see parseGlobals): nothing else reads the environment.
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

// parseGlobals parses the global flags, applies the environment variables
// (resolveEnvironment) and returns the command line that follows them. If
// it returns ok false, the run ends with status code: help was asked for
// (0), or a flag is bad (1; as etcdctl: the error on stderr, "Incorrect
// Usage." and the usage on stdout).
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
	g.resolveEnvironment(os.Getenv)
	if err := g.resolveBackend(); err != nil {
		fmt.Fprintf(e.stderr, "Error:  %v\n", err)
		return nil, ExitBadArgs, false
	}
	e.g = g
	return fs.Args(), ExitSuccess, true
}

// resolveEnvironment fills in each flag that was not given from its
// ETCDCTL_* variable, as etcdctl does; a flag given wins. Each deprecated
// alias of --endpoints keeps its own variable, so the order in which
// endpointList tries them is etcdctl's: --endpoints, ETCDCTL_ENDPOINTS,
// --endpoint, ETCDCTL_ENDPOINT, --peers, ETCDCTL_PEERS. The backend's
// variable is resolveBackend's.
func (g *globals) resolveEnvironment(getenv func(string) string) {
	for _, v := range []struct {
		flag *string
		env  string
	}{
		{&g.endpoints, "ETCDCTL_ENDPOINTS"},
		{&g.endpoint, "ETCDCTL_ENDPOINT"},
		{&g.peers, "ETCDCTL_PEERS"},
		{&g.discoverySrv, "ETCDCTL_DISCOVERY_SRV"},
		{&g.discoverySrvName, "ETCDCTL_DISCOVERY_SRV_NAME"},
		{&g.certFile, "ETCDCTL_CERT_FILE"},
		{&g.keyFile, "ETCDCTL_KEY_FILE"},
		{&g.caFile, "ETCDCTL_CA_FILE"},
		{&g.username, "ETCDCTL_USERNAME"},
	} {
		*v.flag = firstNonEmpty(*v.flag, getenv(v.env))
	}
	if getenv("ETCDCTL_INSECURE_DISCOVERY") != "" {
		g.insecureDiscovery = true
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
