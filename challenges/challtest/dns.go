package challtest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// maxChase bounds the CNAME chain the server puts in one answer when
// chasing is on, so that a configured loop cannot hang it.
const maxChase = 16

// rrKey names the records of one type at one name.
type rrKey struct {
	name  string
	qtype uint16
}

// rrSeq is a sequence of answers: the n-th query gets sets[n], and every
// query after the last set gets the last set again.
type rrSeq struct {
	sets   [][]dns.RR
	served int
}

func (s *rrSeq) next() []dns.RR {
	i := min(s.served, len(s.sets)-1)
	s.served++
	return s.sets[i]
}

// DNSServer is a scriptable DNS server on 127.0.0.1, on one port for both
// UDP and TCP. Names without any configuration answer NXDOMAIN; a name that
// has some configuration but no records of the asked type answers NOERROR
// with an empty answer. All records have TTL 0.
type DNSServer struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	records  map[rrKey]*rrSeq
	exists   map[string]bool
	rcodes   map[string]int
	drop     map[string]bool
	truncate map[string]bool
	queries  map[string]int
	chase    bool
}

// NewDNSServer starts a DNS server on a random port of 127.0.0.1.
func NewDNSServer(t testing.TB) *DNSServer {
	t.Helper()
	s := &DNSServer{
		t:        t,
		records:  make(map[rrKey]*rrSeq),
		exists:   make(map[string]bool),
		rcodes:   make(map[string]int),
		drop:     make(map[string]bool),
		truncate: make(map[string]bool),
		queries:  make(map[string]int),
	}
	pc, ln := listenUDPAndTCP(t)
	s.addr = pc.LocalAddr().String()
	start(t, &dns.Server{PacketConn: pc, Handler: s})
	start(t, &dns.Server{Listener: ln, Handler: s})
	return s
}

// listenUDPAndTCP finds a port of 127.0.0.1 free for both UDP and TCP.
func listenUDPAndTCP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("challtest: dns server listening on udp: %v", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatalf("challtest: no port of 127.0.0.1 free for both udp and tcp")
	return nil, nil
}

// start serves srv until the test ends; it returns once srv is listening.
func start(t testing.TB, srv *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatalf("challtest: dns server did not start")
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
}

// Addr returns the server address as host:port, for resolver.New.
func (s *DNSServer) Addr() string { return s.addr }

// SetTXT replaces the TXT records at name with one record per value. With
// no values the name exists without TXT records.
func (s *DNSServer) SetTXT(name string, values ...string) {
	var rrs []dns.RR
	for _, v := range values {
		rrs = append(rrs, &dns.TXT{Hdr: s.hdr(name, dns.TypeTXT), Txt: splitTXT(v)})
	}
	s.set(name, dns.TypeTXT, rrs)
}

// splitTXT cuts a value into character-strings of at most 255 bytes.
func splitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// SetA replaces the A and AAAA records at name: IPv4 addresses become A
// records and IPv6 addresses AAAA records. It fails the test on a value that
// is not an IP address.
func (s *DNSServer) SetA(name string, ips ...string) {
	s.SetASequence(name, ips)
}

// SetASequence is [DNSServer.SetA] with a different answer for each query:
// the first A (or AAAA) query gets answers[0], the second answers[1], and
// every later one the last set. It scripts DNS rebinding.
func (s *DNSServer) SetASequence(name string, answers ...[]string) {
	var a, aaaa [][]dns.RR
	for _, set := range answers {
		var four, six []dns.RR
		for _, ip := range set {
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				s.t.Fatalf("challtest: SetA(%q): %v", name, err)
			}
			if addr.Is4() {
				four = append(four, &dns.A{Hdr: s.hdr(name, dns.TypeA), A: addr.AsSlice()})
			} else {
				six = append(six, &dns.AAAA{Hdr: s.hdr(name, dns.TypeAAAA), AAAA: addr.AsSlice()})
			}
		}
		a, aaaa = append(a, four), append(aaaa, six)
	}
	s.setSeq(name, dns.TypeA, a)
	s.setSeq(name, dns.TypeAAAA, aaaa)
}

// SetCNAME makes name an alias of target.
func (s *DNSServer) SetCNAME(name, target string) {
	rr := &dns.CNAME{Hdr: s.hdr(name, dns.TypeCNAME), Target: dns.Fqdn(target)}
	s.set(name, dns.TypeCNAME, []dns.RR{rr})
}

// AddRR adds records written in presentation format ("a.test. 0 IN CAA 0
// issue \"ca.test\""), for types without a dedicated setter.
func (s *DNSServer) AddRR(records ...string) {
	for _, text := range records {
		rr, err := dns.NewRR(text)
		if err != nil || rr == nil {
			s.t.Fatalf("challtest: AddRR(%q): %v", text, err)
		}
		h := rr.Header()
		s.mu.Lock()
		k := rrKey{strings.ToLower(h.Name), h.Rrtype}
		if s.records[k] == nil {
			s.records[k] = &rrSeq{sets: [][]dns.RR{nil}}
		}
		s.records[k].sets[0] = append(s.records[k].sets[0], rr)
		s.exists[k.name] = true
		s.mu.Unlock()
	}
}

// SetRcode makes every query for name answer with rcode (for example
// dns.RcodeServerFailure), whatever records it has.
func (s *DNSServer) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[fqdn(name)] = rcode
}

// SetDrop makes the server ignore queries for name, so they time out.
func (s *DNSServer) SetDrop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop[fqdn(name)] = true
}

// SetTruncate makes UDP answers for name empty and truncated (TC set), so
// that only a client retrying over TCP gets the records.
func (s *DNSServer) SetTruncate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate[fqdn(name)] = true
}

// SetChaseCNAME chooses how an alias is answered. Off (the default), the
// answer holds only the CNAME, as an authoritative server answers for a
// target in another zone. On, the answer also holds the chain and the
// target's records, as a recursive resolver answers.
func (s *DNSServer) SetChaseCNAME(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chase = on
}

// Queries returns how many queries of any type were received for name.
func (s *DNSServer) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[fqdn(name)]
}

func fqdn(name string) string { return dns.Fqdn(strings.ToLower(name)) }

func (s *DNSServer) hdr(name string, qtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: fqdn(name), Rrtype: qtype, Class: dns.ClassINET, Ttl: 0}
}

func (s *DNSServer) set(name string, qtype uint16, rrs []dns.RR) {
	s.setSeq(name, qtype, [][]dns.RR{rrs})
}

func (s *DNSServer) setSeq(name string, qtype uint16, sets [][]dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[rrKey{fqdn(name), qtype}] = &rrSeq{sets: sets}
	s.exists[fqdn(name)] = true
}

// ServeDNS answers one query; it implements dns.Handler.
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg).SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := fqdn(q.Name)

	s.mu.Lock()
	s.queries[name]++
	rcode, hasRcode := s.rcodes[name]
	drop, trunc := s.drop[name], s.truncate[name]
	answer, exists := s.answer(name, q.Qtype)
	s.mu.Unlock()

	switch {
	case drop:
		return
	case hasRcode:
		m.Rcode = rcode
	case trunc && w.LocalAddr().Network() == "udp":
		m.Truncated = true
	case !exists:
		m.Rcode = dns.RcodeNameError
	default:
		m.Answer = answer
	}
	// A write error only means the client left; the test sees a timeout.
	_ = w.WriteMsg(m)
}

// answer builds the answer section for name and qtype and reports whether
// name exists. The caller holds s.mu.
func (s *DNSServer) answer(name string, qtype uint16) ([]dns.RR, bool) {
	var out []dns.RR
	exists := s.exists[name]
	for range maxChase {
		if seq := s.records[rrKey{name, qtype}]; seq != nil {
			return append(out, seq.next()...), exists
		}
		seq := s.records[rrKey{name, dns.TypeCNAME}]
		if seq == nil {
			return out, exists
		}
		cname := seq.next()
		out = append(out, cname...)
		if !s.chase || len(cname) == 0 {
			return out, exists
		}
		name = cname[0].(*dns.CNAME).Target
	}
	return out, exists
}
