package dns01_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/dns01"
	"github.com/acmegate/acmegate/challenges/resolver"
)

const (
	token      = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	thumbprint = "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
	// txtName is where the record for a.test lives.
	txtName = "_acme-challenge.a.test"
)

var keyAuth = challenges.KeyAuthorization(token, thumbprint)

func TestTXTValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ keyAuth, want string }{
		// SHA-256("abc") from FIPS 180-2, base64url without padding.
		{"abc", "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"},
		{keyAuth, "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"},
	}
	for _, tt := range tests {
		if got := dns01.TXTValue(tt.keyAuth); got != tt.want {
			t.Errorf("TXTValue(%q): got %q, want %q", tt.keyAuth, got, tt.want)
		}
	}
}

func request(typ, value string) challenges.Request {
	return challenges.Request{
		Identifier:       challenges.Identifier{Type: typ, Value: value},
		Token:            token,
		KeyAuthorization: keyAuth,
	}
}

// TestValidate covers SECURITY-CATALOGUE E5 (a record for another account
// key fails) and E8 (lookup failures are dns errors, a TXT found through a
// CNAME is followed, several resolvers must agree when configured).
func TestValidate(t *testing.T) {
	t.Parallel()
	good := dns01.TXTValue(keyAuth)
	other := dns01.TXTValue(challenges.KeyAuthorization(token, "other-account"))
	many := make([]string, 8)
	for i := range many {
		many[i] = fmt.Sprintf("value-%d", i)
	}

	tests := []struct {
		name       string
		setup      func(s *challtest.DNSServer)
		servers    int // number of DNS servers, each set up alike; 1 if zero
		quorum     int
		req        challenges.Request
		wantKind   string
		wantDetail string
		wantAnswer string // part of a recorded answer record
	}{
		{
			name:       "matching record",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, good) },
			wantAnswer: good,
		},
		{
			name:  "matching record among others",
			setup: func(s *challtest.DNSServer) { s.SetTXT(txtName, other, good, "v=spf1 -all") },
		},
		{
			name:       "record for another account key",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, other) },
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: fmt.Sprintf("no TXT record at %s matches: found %q; want %q", txtName, other, good),
		},
		{
			name:       "many wrong records",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, many...) },
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: `"value-4", and 3 more; want`,
		},
		{
			name:       "record with padding",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, good+"=") },
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "matches",
		},
		{
			name:       "no TXT record",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName) },
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "no TXT record found at " + txtName,
		},
		{
			name:       "NXDOMAIN",
			setup:      func(*challtest.DNSServer) {},
			wantKind:   challenges.KindDNS,
			wantDetail: "NXDOMAIN looking up TXT for " + txtName,
		},
		{
			name:       "SERVFAIL",
			setup:      func(s *challtest.DNSServer) { s.SetRcode(txtName, dns.RcodeServerFailure) },
			wantKind:   challenges.KindDNS,
			wantDetail: "SERVFAIL looking up TXT for " + txtName,
		},
		{
			name:       "timeout",
			setup:      func(s *challtest.DNSServer) { s.SetDrop(txtName) },
			wantKind:   challenges.KindDNS,
			wantDetail: "query timed out",
		},
		{
			name: "delegated through CNAMEs",
			setup: func(s *challtest.DNSServer) {
				s.SetCNAME(txtName, "a.acme-delegation.test")
				s.SetCNAME("a.acme-delegation.test", "b.acme-delegation.test")
				s.SetTXT("b.acme-delegation.test", good)
			},
			wantAnswer: "CNAME",
		},
		{
			name: "CNAME loop",
			setup: func(s *challtest.DNSServer) {
				s.SetCNAME(txtName, "loop.test")
				s.SetCNAME("loop.test", txtName)
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "CNAME loop",
		},
		{
			name:    "resolvers agree",
			setup:   func(s *challtest.DNSServer) { s.SetTXT(txtName, good) },
			servers: 3,
			quorum:  3,
		},
		{
			name:       "ip identifier",
			setup:      func(*challtest.DNSServer) {},
			req:        request(challenges.IdentifierIP, "127.0.0.1"),
			wantKind:   challenges.KindMalformed,
			wantDetail: "dns-01 cannot validate ip identifiers",
		},
		{
			name:       "identifier with wildcard prefix",
			setup:      func(*challtest.DNSServer) {},
			req:        request(challenges.IdentifierDNS, "*.a.test"),
			wantKind:   challenges.KindMalformed,
			wantDetail: "wildcard prefix must be removed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var addrs []string
			for range max(tt.servers, 1) {
				srv := challtest.NewDNSServer(t)
				tt.setup(srv)
				addrs = append(addrs, srv.Addr())
			}
			res := resolver.New(addrs, 300*time.Millisecond)
			res.Quorum = tt.quorum
			req := tt.req
			if req.Token == "" {
				req = request(challenges.IdentifierDNS, "a.test")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			rec, err := dns01.New(res, dns01.Options{}).Validate(ctx, req)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if rec.Type != challenges.TypeDNS01 || len(rec.Resolvers) != len(addrs) {
				t.Errorf("got record %+v, want type dns-01 and %d resolvers", rec, len(addrs))
			}
			if tt.wantAnswer != "" && !strings.Contains(strings.Join(rec.Answers, "\n"), tt.wantAnswer) {
				t.Errorf("got answers %q, want one containing %q", rec.Answers, tt.wantAnswer)
			}
		})
	}
}

// TestQuorumDisagreement shows a poisoned resolver blocking validation when
// every resolver must agree (SECURITY-CATALOGUE E8).
func TestQuorumDisagreement(t *testing.T) {
	t.Parallel()
	var addrs []string
	for _, value := range []string{dns01.TXTValue(keyAuth), dns01.TXTValue(keyAuth), "poisoned"} {
		srv := challtest.NewDNSServer(t)
		srv.SetTXT(txtName, value)
		addrs = append(addrs, srv.Addr())
	}
	res := resolver.New(addrs, time.Second)
	res.Quorum = 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	req := request(challenges.IdentifierDNS, "a.test")
	_, err := dns01.New(res, dns01.Options{}).Validate(ctx, req)
	challtest.WantError(t, err, challenges.KindDNS,
		`fewer than 3 of 3 resolvers agree on TXT for `+txtName)
	challtest.WantError(t, err, challenges.KindDNS, `resolver 3: "poisoned"`)
}

func TestRecordTiming(t *testing.T) {
	t.Parallel()
	srv := challtest.NewDNSServer(t)
	srv.SetTXT(txtName, dns01.TXTValue(keyAuth))
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start
	clock := func() time.Time { now = now.Add(time.Second); return now }

	v := dns01.New(resolver.New([]string{srv.Addr()}, time.Second), dns01.Options{Now: clock})
	rec, err := v.Validate(context.Background(), request(challenges.IdentifierDNS, "a.test"))
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(time.Second); !rec.Started.Equal(want) || rec.Duration != time.Second {
		t.Errorf("got started %v and duration %v, want %v and 1s", rec.Started, rec.Duration, want)
	}
}
