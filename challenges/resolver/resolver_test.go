package resolver

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
)

// testCtx returns a context that ends before the test's own timeout.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// chain makes name0 -> name1 -> ... -> name<n> CNAMEs under suffix and
// returns the first and last names.
func chain(srv *challtest.DNSServer, n int, suffix string) (string, string) {
	name := func(i int) string { return "c" + string(rune('a'+i)) + "." + suffix }
	for i := range n {
		srv.SetCNAME(name(i), name(i+1))
	}
	return name(0), name(n)
}

func TestLookupTXT(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	tests := []struct {
		name       string
		setup      func(*challtest.DNSServer) string
		chase      bool
		wantValues []string
		wantKind   string
		wantDetail string
	}{
		{
			name: "records",
			setup: func(s *challtest.DNSServer) string {
				s.SetTXT("a.test", "one", "two")
				return "a.test"
			},
			wantValues: []string{"one", "two"},
		},
		{
			name: "long value joined",
			setup: func(s *challtest.DNSServer) string {
				s.SetTXT("a.test", long)
				return "A.Test."
			},
			wantValues: []string{long},
		},
		{
			name: "name without TXT records",
			setup: func(s *challtest.DNSServer) string {
				s.SetA("a.test", "127.0.0.1")
				return "a.test"
			},
		},
		{
			name:       "NXDOMAIN",
			setup:      func(*challtest.DNSServer) string { return "missing.test" },
			wantKind:   challenges.KindDNS,
			wantDetail: "NXDOMAIN looking up TXT for missing.test",
		},
		{
			name: "SERVFAIL",
			setup: func(s *challtest.DNSServer) string {
				s.SetRcode("a.test", dns.RcodeServerFailure)
				return "a.test"
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "SERVFAIL looking up TXT for a.test",
		},
		{
			name: "timeout",
			setup: func(s *challtest.DNSServer) string {
				s.SetDrop("a.test")
				return "a.test"
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "query timed out",
		},
		{
			// SECURITY-CATALOGUE E8: a truncated UDP answer is retried over TCP.
			name: "truncated over UDP",
			setup: func(s *challtest.DNSServer) string {
				s.SetTXT("a.test", "over-tcp")
				s.SetTruncate("a.test")
				return "a.test"
			},
			wantValues: []string{"over-tcp"},
		},
		{
			name: "CNAME chain asked link by link",
			setup: func(s *challtest.DNSServer) string {
				first, last := chain(s, MaxCNAMEs, "test")
				s.SetTXT(last, "end")
				return first
			},
			wantValues: []string{"end"},
		},
		{
			name:  "CNAME chain in one answer",
			chase: true,
			setup: func(s *challtest.DNSServer) string {
				first, last := chain(s, 3, "test")
				s.SetTXT(last, "end")
				return first
			},
			wantValues: []string{"end"},
		},
		{
			name: "CNAME chain too long",
			setup: func(s *challtest.DNSServer) string {
				first, last := chain(s, MaxCNAMEs+1, "test")
				s.SetTXT(last, "end")
				return first
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "more than 8 CNAMEs",
		},
		{
			name: "CNAME loop",
			setup: func(s *challtest.DNSServer) string {
				s.SetCNAME("a.test", "b.test")
				s.SetCNAME("b.test", "a.test")
				return "a.test"
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "CNAME loop",
		},
		{
			name:  "CNAME loop in one answer",
			chase: true,
			setup: func(s *challtest.DNSServer) string {
				s.SetCNAME("a.test", "b.test")
				s.SetCNAME("b.test", "a.test")
				return "a.test"
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "CNAME loop",
		},
		{
			name:       "invalid name",
			setup:      func(*challtest.DNSServer) string { return "a..test" },
			wantKind:   challenges.KindMalformed,
			wantDetail: "invalid DNS name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := challtest.NewDNSServer(t)
			srv.SetChaseCNAME(tt.chase)
			name := tt.setup(srv)
			r := New([]string{srv.Addr()}, 300*time.Millisecond)

			values, answers, err := r.LookupTXT(testCtx(t), name)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if !slices.Equal(values, tt.wantValues) {
				t.Errorf("got values %q, want %q", values, tt.wantValues)
			}
			if len(tt.wantValues) > 0 && len(answers) == 0 {
				t.Errorf("got no answer records, want the records seen")
			}
		})
	}
}

func TestLookupIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(*challtest.DNSServer)
		host       string
		want       []string
		wantKind   string
		wantDetail string
	}{
		{
			name:  "IPv6 before IPv4",
			setup: func(s *challtest.DNSServer) { s.SetA("h.test", "127.0.0.1", "::1") },
			host:  "h.test",
			want:  []string{"::1", "127.0.0.1"},
		},
		{
			name: "through CNAME",
			setup: func(s *challtest.DNSServer) {
				s.SetCNAME("alias.test", "h.test")
				s.SetA("h.test", "127.0.0.3")
			},
			host: "alias.test",
			want: []string{"127.0.0.3"},
		},
		{
			name:  "IP literal",
			setup: func(*challtest.DNSServer) {},
			host:  "127.0.0.9",
			want:  []string{"127.0.0.9"},
		},
		{
			name:       "no addresses",
			setup:      func(s *challtest.DNSServer) { s.SetTXT("h.test", "x") },
			host:       "h.test",
			wantKind:   challenges.KindDNS,
			wantDetail: "no A or AAAA records found for h.test",
		},
		{
			name:       "NXDOMAIN",
			setup:      func(*challtest.DNSServer) {},
			host:       "h.test",
			wantKind:   challenges.KindDNS,
			wantDetail: "NXDOMAIN looking up A for h.test",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := challtest.NewDNSServer(t)
			tt.setup(srv)
			r := New([]string{srv.Addr()}, time.Second)

			addrs, err := r.LookupIP(testCtx(t), tt.host)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			var got []string
			for _, a := range addrs {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got addresses %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLookupTriesNextServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		firstRcode     int
		wantSecondUsed bool
		wantKind       string
	}{
		{name: "SERVFAIL moves on", firstRcode: dns.RcodeServerFailure, wantSecondUsed: true},
		{name: "REFUSED moves on", firstRcode: dns.RcodeRefused, wantSecondUsed: true},
		{name: "NXDOMAIN is final", firstRcode: dns.RcodeNameError, wantKind: challenges.KindDNS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first, second := challtest.NewDNSServer(t), challtest.NewDNSServer(t)
			first.SetRcode("a.test", tt.firstRcode)
			second.SetTXT("a.test", "second")
			r := New([]string{first.Addr(), second.Addr()}, time.Second)

			_, _, err := r.LookupTXT(testCtx(t), "a.test")
			challtest.WantError(t, err, tt.wantKind, "")
			if got := second.Queries("a.test") > 0; got != tt.wantSecondUsed {
				t.Errorf("got second server asked %v, want %v", got, tt.wantSecondUsed)
			}
		})
	}
}

func TestSystemServers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "search corp.test\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	got := systemServers(path)
	want := []string{"192.0.2.53:53", "[2001:db8::53]:53"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := systemServers(filepath.Join(t.TempDir(), "missing")); got != nil {
		t.Errorf("got %q for a missing file, want nil", got)
	}
}

func TestServers(t *testing.T) {
	t.Parallel()
	r := New([]string{"127.0.0.1:53"}, 0)
	got := r.Servers()
	got[0] = "changed"
	if want := []string{"127.0.0.1:53"}; !slices.Equal(r.Servers(), want) {
		t.Errorf("got %q after changing the copy, want %q", r.Servers(), want)
	}
	if r.timeout != DefaultTimeout {
		t.Errorf("got timeout %v, want %v", r.timeout, DefaultTimeout)
	}
}

// FuzzFollow feeds arbitrary DNS messages to the CNAME walk: it must not
// panic, must respect the chain limit and must return only addresses for
// address queries.
func FuzzFollow(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("a.test.", dns.TypeA)
	hdr := func(name string, qtype uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET}
	}
	m.Answer = []dns.RR{
		&dns.CNAME{Hdr: hdr("a.test.", dns.TypeCNAME), Target: "b.test."},
		&dns.A{Hdr: hdr("b.test.", dns.TypeA), A: []byte{127, 0, 0, 1}},
	}
	seed, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := new(dns.Msg)
		if msg.Unpack(data) != nil || len(msg.Question) != 1 {
			return
		}
		name := dns.Fqdn(strings.ToLower(msg.Question[0].Name))
		seen := map[string]bool{name: true}
		values, _, _ := follow(msg.Answer, name, dns.TypeA, seen)
		if len(seen) > MaxCNAMEs+2 {
			t.Fatalf("got %d names visited, want at most %d", len(seen), MaxCNAMEs+2)
		}
		for _, v := range values {
			if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
				t.Fatalf("got value %q for an A query, want an IPv4 address", v)
			}
		}
	})
}
