package client

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Shared test machinery: a small authoritative DNS server on 127.0.0.1 that
// serves SRV records over UDP and TCP, and a *net.Resolver that sends every
// query to it.

// srvRecord is one SRV resource record served by testDNSServer.
type srvRecord struct {
	Priority, Weight, Port uint16
	// Target is the target host name; a missing trailing dot is added (DNS
	// names on the wire are always absolute).
	Target string
}

// testDNSConfig configures startTestDNS.
type testDNSConfig struct {
	// Zone maps a DNS name ("_etcd-client._tcp.example.com", with or without
	// trailing dot, any case) to its SRV records. A name mapped to an empty
	// list exists with no SRV records (NOERROR, empty answer); names not in
	// Zone get NXDOMAIN.
	Zone map[string][]srvRecord

	// MaxUDPSize caps UDP responses: a larger answer is replaced by an empty
	// one with the TC (truncated) bit set, so the client retries over TCP.
	// 0 means the size the query advertises in its EDNS(0) OPT record, or 512
	// without one (RFC 1035, RFC 6891).
	MaxUDPSize int

	// Silent makes the server read queries and never answer, on UDP and TCP.
	Silent bool
}

// dnsQuery is one question the server received.
type dnsQuery struct {
	Network string // "udp" or "tcp"
	Name    string // as asked, fully qualified
	Type    dnsmessage.Type
}

// testDNSServer is a running DNS server started by startTestDNS.
type testDNSServer struct {
	cfg     testDNSConfig
	zone    map[string][]srvRecord // keys lower-cased and fully qualified
	udp     net.PacketConn
	tcp     net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{} // open TCP connections; nil once closed
	queries []dnsQuery
}

// startTestDNS starts a DNS server on 127.0.0.1 (UDP and TCP, on ports of
// their own) serving cfg. t.Cleanup stops it and waits for all its
// goroutines to exit.
func startTestDNS(t *testing.T, cfg testDNSConfig) *testDNSServer {
	t.Helper()
	s := &testDNSServer{
		cfg:   cfg,
		zone:  make(map[string][]srvRecord, len(cfg.Zone)),
		conns: make(map[net.Conn]struct{}),
	}
	for name, recs := range cfg.Zone {
		s.zone[canonicalDNSName(name)] = recs
	}
	var err error
	if s.udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		t.Fatalf("dns server: %v", err)
	}
	if s.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		s.udp.Close()
		t.Fatalf("dns server: %v", err)
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(s.close)
	return s
}

// canonicalDNSName returns name lower-cased and fully qualified, the form
// the server compares question names in.
func canonicalDNSName(name string) string {
	return fqdn(strings.ToLower(name))
}

// fqdn returns name with a trailing dot.
func fqdn(name string) string {
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// Resolver returns a pure-Go resolver that sends all its queries to s,
// whatever name server resolv.conf names: UDP first, TCP when an answer comes
// back truncated. resolv.conf's search list, ndots, timeout and attempts
// still apply.
func (s *testDNSServer) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			if strings.HasPrefix(network, "tcp") {
				return d.DialContext(ctx, "tcp", s.tcp.Addr().String())
			}
			return d.DialContext(ctx, "udp", s.udp.LocalAddr().String())
		},
	}
}

// Queries returns the questions received so far, in arrival order.
func (s *testDNSServer) Queries() []dnsQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dnsQuery(nil), s.queries...)
}

// close stops the server and waits for its goroutines. It is idempotent.
func (s *testDNSServer) close() {
	s.udp.Close()
	s.tcp.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testDNSServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		resp := s.respond("udp", buf[:n])
		if resp != nil {
			s.udp.WriteTo(resp, addr)
		}
	}
}

func (s *testDNSServer) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		if s.conns == nil { // closing
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// serveConn answers length-prefixed queries on c (RFC 1035 4.2.2) until the
// client closes it or the server stops.
func (s *testDNSServer) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		if s.conns != nil {
			delete(s.conns, c)
		}
		s.mu.Unlock()
		c.Close()
	}()
	var lenBuf [2]byte
	for {
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		resp := s.respond("tcp", msg)
		if resp == nil {
			continue
		}
		out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(resp)), uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// respond returns the response to the query msg received over network, or
// nil to send nothing (Silent, or a message too broken to answer).
func (s *testDNSServer) respond(network string, msg []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.Response {
		return nil
	}
	q, qErr := p.Question()
	udpLimit := 512
	if qErr == nil {
		s.mu.Lock()
		s.queries = append(s.queries, dnsQuery{Network: network, Name: q.Name.String(), Type: q.Type})
		s.mu.Unlock()
		if size := ednsSize(&p); size > udpLimit {
			udpLimit = size
		}
	}
	if s.cfg.Silent {
		return nil
	}
	if s.cfg.MaxUDPSize > 0 {
		udpLimit = s.cfg.MaxUDPSize
	}

	rh := dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		OpCode:             h.OpCode,
		Authoritative:      true,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
	}
	if qErr != nil {
		rh.RCode = dnsmessage.RCodeFormatError
		return buildDNSResponse(rh, nil, nil)
	}
	recs, ok := s.zone[strings.ToLower(q.Name.String())]
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
		return buildDNSResponse(rh, &q, nil)
	}
	if q.Type != dnsmessage.TypeSRV && q.Type != dnsmessage.TypeALL {
		recs = nil // the name exists, with no record of that type
	}
	resp := buildDNSResponse(rh, &q, recs)
	if network == "udp" && len(resp) > udpLimit {
		rh.Truncated = true
		resp = buildDNSResponse(rh, &q, nil)
	}
	return resp
}

// ednsSize returns the UDP payload size advertised by the EDNS(0) OPT record
// of the message p is parsing, positioned after its first question, or 0.
func ednsSize(p *dnsmessage.Parser) int {
	if p.SkipAllQuestions() != nil || p.SkipAllAnswers() != nil || p.SkipAllAuthorities() != nil {
		return 0
	}
	for {
		h, err := p.AdditionalHeader()
		if err != nil {
			return 0
		}
		if h.Type == dnsmessage.TypeOPT {
			return int(h.Class) // RFC 6891 6.1.2: CLASS holds the size
		}
		if p.SkipAdditional() != nil {
			return 0
		}
	}
}

// buildDNSResponse packs a response with header h, question q (if non-nil)
// and recs as SRV answers for q's name. It panics on a record it cannot
// pack, which is a bug in the test's zone.
func buildDNSResponse(h dnsmessage.Header, q *dnsmessage.Question, recs []srvRecord) []byte {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), h)
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			panic("dns server: " + err.Error())
		}
	}
	must(b.StartQuestions())
	if q != nil {
		must(b.Question(*q))
	}
	must(b.StartAnswers())
	for _, r := range recs {
		target, err := dnsmessage.NewName(fqdn(r.Target))
		must(err)
		must(b.SRVResource(
			dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.SRVResource{Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: target},
		))
	}
	msg, err := b.Finish()
	must(err)
	return msg
}
