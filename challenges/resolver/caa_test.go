package resolver

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
)

func TestLookupCAA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(*challtest.DNSServer) string
		chase      bool
		want       []string // flags, tag and value as fmtCAA writes them
		wantKind   string
		wantDetail string
	}{
		{
			name: "records",
			setup: func(s *challtest.DNSServer) string {
				s.AddRR(`a.test. 0 IN CAA 0 issue "ca.test"`,
					`a.test. 0 IN CAA 128 tbs "x y\"z"`)
				return "A.test."
			},
			want: []string{`0 issue "ca.test"`, `128 tbs "x y\"z"`},
		},
		{
			name: "binary value kept",
			setup: func(s *challtest.DNSServer) string {
				s.AddRR(`a.test. 0 IN CAA 0 issue "ca\255\000\\.test"`)
				return "a.test"
			},
			want: []string{`0 issue "ca\xff\x00\\.test"`},
		},
		{
			name: "name without CAA records",
			setup: func(s *challtest.DNSServer) string {
				s.SetA("a.test", "127.0.0.1")
				return "a.test"
			},
		},
		{
			name:  "NXDOMAIN is an empty RRset",
			setup: func(*challtest.DNSServer) string { return "missing.test" },
		},
		{
			name: "NXDOMAIN at a CNAME target is an empty RRset",
			setup: func(s *challtest.DNSServer) string {
				s.SetCNAME("a.test", "gone.test")
				return "a.test"
			},
		},
		{
			name: "through CNAME asked again",
			setup: func(s *challtest.DNSServer) string {
				s.SetCNAME("a.test", "b.test")
				s.AddRR(`b.test. 0 IN CAA 0 issue "ca.test"`)
				return "a.test"
			},
			want: []string{`0 issue "ca.test"`},
		},
		{
			name:  "through CNAME in one answer",
			chase: true,
			setup: func(s *challtest.DNSServer) string {
				s.SetCNAME("a.test", "b.test")
				s.AddRR(`b.test. 0 IN CAA 0 issuewild ";"`)
				return "a.test"
			},
			want: []string{`0 issuewild ";"`},
		},
		{
			name: "SERVFAIL",
			setup: func(s *challtest.DNSServer) string {
				s.SetRcode("a.test", dns.RcodeServerFailure)
				return "a.test"
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "SERVFAIL looking up CAA for a.test",
		},
		{
			name: "REFUSED",
			setup: func(s *challtest.DNSServer) string {
				s.SetRcode("a.test", dns.RcodeRefused)
				return "a.test"
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "REFUSED looking up CAA for a.test",
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := challtest.NewDNSServer(t)
			srv.SetChaseCNAME(tt.chase)
			name := tt.setup(srv)
			r := New([]string{srv.Addr()}, 300*time.Millisecond)

			records, _, err := r.LookupCAA(testCtx(t), name)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if len(records) != len(tt.want) {
				t.Fatalf("got %d records, want %d", len(records), len(tt.want))
			}
			for i, rr := range records {
				if got := fmtCAA(rr); got != tt.want[i] {
					t.Errorf("record %d: got %s, want %s", i, got, tt.want[i])
				}
				if rr.Hdr.Name != dns.Fqdn(dns.CanonicalName(name)) || rr.Hdr.Rrtype != dns.TypeCAA {
					t.Errorf("record %d: got header %v, want owner %s and type CAA", i, rr.Hdr, name)
				}
			}
		})
	}
}

// fmtCAA writes flags, tag and the value quoted by Go.
func fmtCAA(rr *dns.CAA) string {
	return fmt.Sprintf("%d %s %q", rr.Flag, rr.Tag, rr.Value)
}

func TestLookupCAASystemResolver(t *testing.T) {
	t.Parallel()
	r := &Resolver{timeout: time.Second}
	_, _, err := r.LookupCAA(testCtx(t), "a.test")
	var ce *challenges.Error
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("got error %v, want an internal error that refuses the check", err)
	}
}

// FuzzCAAValue checks that any CAA record survives the encoding that lets
// resolvers compare answers (SECURITY-CATALOGUE, FuzzCAARecord).
func FuzzCAAValue(f *testing.F) {
	f.Add(uint8(0), "issue", "ca.test; accounturi=https://ca.test/acct/1")
	f.Add(uint8(128), "tbs", "\x00\xff\"\\ ")
	f.Add(uint8(1), "is sue", "")
	f.Fuzz(func(t *testing.T, flag uint8, tag, value string) {
		in := &dns.CAA{Flag: flag, Tag: tag, Value: value}
		out, ok := parseCAAValue(caaValue(in))
		if !ok || out.Flag != flag || out.Tag != tag || out.Value != value {
			t.Fatalf("got %+v after a round trip, want %+v", out, in)
		}
	})
}
