package caa_test

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/caa"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/resolver"
)

const (
	identity = "ca.test"
	account1 = "https://ca.test/acme/acct/1"
	account2 = "https://ca.test/acme/acct/2"
)

// testCtx returns a context that ends before the test's own timeout.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// caaRR writes a CAA record at name in presentation format, for AddRR.
func caaRR(name string, flags int, tag, value string) string {
	return name + ". 0 IN CAA " + strconv.Itoa(flags) + " " + tag + " " + value
}

// addRR returns a setup that adds records in presentation format.
func addRR(records ...string) func(*challtest.DNSServer) {
	return func(s *challtest.DNSServer) { s.AddRR(records...) }
}

// TestCheck covers SECURITY-CATALOGUE F2 (a failed lookup is never
// permission; "0 issue \";\"", issuewild ";" on a wildcard, an unknown
// critical tag, invalid UTF-8 and two accounturi parameters all refuse) and
// F3 (accounturi and validationmethods are honoured).
func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(*challtest.DNSServer)
		host       string // default "a.corp.test"
		wildcard   bool
		account    string // default account1
		method     string // default "http-01"
		wantKind   string
		wantDetail string
	}{
		{
			name:  "no CAA anywhere",
			setup: func(*challtest.DNSServer) {},
		},
		{
			name:  "name exists without CAA",
			setup: func(s *challtest.DNSServer) { s.SetA("a.corp.test", "127.0.0.1") },
		},
		{
			name:  "issue for us",
			setup: func(s *challtest.DNSServer) { s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test"`)) },
		},
		{
			name: "issue for us, case and spaces",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "ISSUE", `"  CA.Test ; "`))
			},
		},
		{
			name: "issue for another CA",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"other.test"`))
			},
			wantKind: challenges.KindCAA,
			wantDetail: `CAA records at a.corp.test do not authorize this CA to issue: ` +
				`0 issue "other.test" (authorizes another CA)`,
		},
		{
			name: "authorizations are additive",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `";"`),
					caaRR("a.corp.test", 0, "issue", `"other.test"`),
					caaRR("a.corp.test", 0, "issue", `"ca.test"`))
			},
		},
		{
			name:       "issue with no CA",
			setup:      func(s *challtest.DNSServer) { s.AddRR(caaRR("a.corp.test", 0, "issue", `";"`)) },
			wantKind:   challenges.KindCAA,
			wantDetail: `0 issue ";" (authorizes no CA)`,
		},
		{
			name:       "malformed issue value",
			setup:      addRR(caaRR("a.corp.test", 0, "issue", `"%%%%%"`)),
			wantKind:   challenges.KindCAA,
			wantDetail: "malformed value, which authorizes no CA",
		},
		{
			name: "invalid UTF-8 issuer",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test\255"`))
			},
			wantKind:   challenges.KindCAA,
			wantDetail: `0 issue "ca.test\xff" (malformed value`,
		},
		{
			name:  "only iodef",
			setup: addRR(caaRR("a.corp.test", 0, "iodef", `"mailto:x@corp.test"`)),
		},
		{
			name: "issuewild ignored for a name",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issuewild", `"other.test"`))
			},
		},
		{
			name: "issuewild for us on a wildcard",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"other.test"`),
					caaRR("a.corp.test", 0, "issuewild", `"ca.test"`))
			},
			wildcard: true,
		},
		{
			name: "issuewild for another CA overrides issue",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test"`),
					caaRR("a.corp.test", 0, "issuewild", `"other.test"`))
			},
			wildcard:   true,
			wantKind:   challenges.KindCAA,
			wantDetail: `relevant for *.a.corp.test`,
		},
		{
			name: "issuewild with no CA on a wildcard",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test"`),
					caaRR("a.corp.test", 0, "issuewild", `";"`))
			},
			wildcard:   true,
			wantKind:   challenges.KindCAA,
			wantDetail: `0 issuewild ";" (authorizes no CA)`,
		},
		{
			name:     "issue applies to a wildcard without issuewild",
			setup:    addRR(caaRR("a.corp.test", 0, "issue", `"ca.test"`)),
			wildcard: true,
		},
		{
			name: "accounturi match",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; accounturi=`+account1+`"`))
			},
		},
		{
			name: "accounturi mismatch",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; accounturi=`+account1+`"`))
			},
			account:    account2,
			wantKind:   challenges.KindCAA,
			wantDetail: "(accounturi names another account)",
		},
		{
			name: "accounturi in upper case still restricts",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; AccountURI=`+account1+`"`))
			},
			account:    account2,
			wantKind:   challenges.KindCAA,
			wantDetail: "accounturi names another account",
		},
		{
			name: "one of two accounts",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; accounturi=`+account1+`"`),
					caaRR("a.corp.test", 0, "issue", `"ca.test; accounturi=`+account2+`"`))
			},
			account: account2,
		},
		{
			name: "two accounturi parameters",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue",
					`"ca.test; accounturi=`+account1+`; accounturi=`+account2+`"`))
			},
			wantKind:   challenges.KindCAA,
			wantDetail: "more than one accounturi parameter",
		},
		{
			name: "empty accounturi with no account",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; accounturi="`))
			},
			account:    "-",
			wantKind:   challenges.KindCAA,
			wantDetail: "accounturi names another account",
		},
		{
			name: "validationmethods match",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; validationmethods=dns-01,http-01"`))
			},
		},
		{
			name: "validationmethods mismatch",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; validationmethods=dns-01"`))
			},
			wantKind:   challenges.KindCAA,
			wantDetail: "(validationmethods does not list http-01)",
		},
		{
			name: "validationmethods malformed",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test; validationmethods=http-01,,dns-01"`))
			},
			wantKind:   challenges.KindCAA,
			wantDetail: "malformed validationmethods parameter",
		},
		{
			name: "account and method together",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue",
					`"ca.test; accounturi=`+account1+`; validationmethods=dns-01"`),
					caaRR("a.corp.test", 0, "issue",
						`"ca.test; accounturi=`+account2+`; validationmethods=http-01"`))
			},
			account: account2,
		},
		{
			name: "critical unknown tag",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test"`),
					caaRR("a.corp.test", 128, "tbs", `"x"`))
			},
			wantKind:   challenges.KindCAA,
			wantDetail: `carry a critical property this CA does not support: 128 tbs "x"`,
		},
		{
			name: "critical known tag",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 128, "issue", `"ca.test"`),
					caaRR("a.corp.test", 128, "iodef", `"mailto:x@corp.test"`))
			},
		},
		{
			name: "unknown tag without the critical flag",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test"`),
					caaRR("a.corp.test", 1, "tbs", `"x"`))
			},
		},
		{
			name: "CNAME followed",
			setup: func(s *challtest.DNSServer) {
				s.SetCNAME("a.corp.test", "b.elsewhere.test")
				s.AddRR(caaRR("b.elsewhere.test", 0, "issue", `"other.test"`))
			},
			wantKind:   challenges.KindCAA,
			wantDetail: `CAA records at a.corp.test do not authorize`,
		},
		{
			name: "dangling CNAME climbs to the parent of the name",
			setup: func(s *challtest.DNSServer) {
				s.SetCNAME("a.corp.test", "gone.elsewhere.test")
				s.AddRR(caaRR("elsewhere.test", 0, "issue", `"other.test"`),
					caaRR("corp.test", 0, "issue", `"ca.test"`))
			},
		},
		{
			name: "tree climbing to a parent",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("corp.test", 0, "issue", `"other.test"`))
			},
			host:       "x.a.corp.test",
			wantKind:   challenges.KindCAA,
			wantDetail: `CAA records at corp.test, relevant for x.a.corp.test, do not authorize`,
		},
		{
			name: "tree climbing to the top label",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("test", 0, "issue", `"other.test"`))
			},
			wantKind:   challenges.KindCAA,
			wantDetail: "CAA records at test, relevant for a.corp.test,",
		},
		{
			name: "the nearest RRset shadows its parents",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"ca.test"`),
					caaRR("corp.test", 0, "issue", `";"`))
			},
		},
		{
			name: "SERVFAIL",
			setup: func(s *challtest.DNSServer) {
				s.SetRcode("a.corp.test", dns.RcodeServerFailure)
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "SERVFAIL looking up CAA for a.corp.test",
		},
		{
			name: "SERVFAIL at a parent",
			setup: func(s *challtest.DNSServer) {
				s.SetRcode("corp.test", dns.RcodeServerFailure)
				s.AddRR(caaRR("test", 0, "issue", `"ca.test"`))
			},
			wantKind:   challenges.KindDNS,
			wantDetail: "SERVFAIL looking up CAA for corp.test",
		},
		{
			name:       "timeout",
			setup:      func(s *challtest.DNSServer) { s.SetDrop("a.corp.test") },
			wantKind:   challenges.KindDNS,
			wantDetail: "query timed out",
		},
		{
			name: "truncated over UDP is asked again over TCP",
			setup: func(s *challtest.DNSServer) {
				s.AddRR(caaRR("a.corp.test", 0, "issue", `"other.test"`))
				s.SetTruncate("a.corp.test")
			},
			wantKind:   challenges.KindCAA,
			wantDetail: "authorizes another CA",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := challtest.NewDNSServer(t)
			tt.setup(srv)
			c := caa.New(resolver.New([]string{srv.Addr()}, 300*time.Millisecond),
				[]string{"CA.test."})
			host := cmp.Or(tt.host, "a.corp.test")
			account := cmp.Or(tt.account, account1)
			if account == "-" {
				account = ""
			}
			id := challenges.Identifier{Type: challenges.IdentifierDNS, Value: host}

			records, err := c.Check(testCtx(t), id, tt.wildcard, account, cmp.Or(tt.method, "http-01"))
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if tt.wantKind == challenges.KindCAA && len(records) == 0 {
				t.Errorf("got no records for a refusal, want the records seen")
			}
		})
	}
}

func TestCheckIdentifiers(t *testing.T) {
	t.Parallel()
	srv := challtest.NewDNSServer(t)
	srv.AddRR(caaRR("test", 0, "issue", `";"`))
	c := caa.New(resolver.New([]string{srv.Addr()}, time.Second), []string{identity})
	const malformed = challenges.KindMalformed
	tests := []struct {
		name     string
		id       challenges.Identifier
		wantKind string
	}{
		{"IP address has no CAA", challenges.Identifier{Type: "ip", Value: "10.0.0.1"}, ""},
		{"wildcard prefix", challenges.Identifier{Type: "dns", Value: "*.a.test"}, malformed},
		{"empty label", challenges.Identifier{Type: "dns", Value: "a..test"}, malformed},
		{"unknown type", challenges.Identifier{Type: "email", Value: "a@b.test"}, malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			records, err := c.Check(testCtx(t), tt.id, false, account1, "http-01")
			challtest.WantError(t, err, tt.wantKind, "")
			if records != nil {
				t.Errorf("got records %q, want none", records)
			}
		})
	}
	if n := srv.Queries("test"); n != 0 {
		t.Errorf("got %d queries, want none for identifiers that need no lookup", n)
	}
}

// TestCheckRecords checks that the answers seen while climbing come back for
// the audit record, and that the climb stops at the first RRset.
func TestCheckRecords(t *testing.T) {
	t.Parallel()
	srv := challtest.NewDNSServer(t)
	srv.AddRR(caaRR("corp.test", 0, "issue", `"ca.test"`),
		caaRR("test", 0, "issue", `";"`))
	c := caa.New(resolver.New([]string{srv.Addr()}, time.Second), []string{identity})
	id := challenges.Identifier{Type: challenges.IdentifierDNS, Value: "a.corp.test"}

	records, err := c.Check(testCtx(t), id, false, account1, "dns-01")
	challtest.WantError(t, err, "", "")
	if len(records) != 1 || !strings.Contains(records[0], `issue "ca.test"`) {
		t.Errorf("got records %q, want the one CAA record at corp.test", records)
	}
	if n := srv.Queries("test"); n != 0 {
		t.Errorf("got %d queries for test, want none past the first RRset", n)
	}
}

// TestCheckManyRecords checks that a refusal detail stays bounded.
func TestCheckManyRecords(t *testing.T) {
	t.Parallel()
	srv := challtest.NewDNSServer(t)
	for i := range 10 {
		srv.AddRR(caaRR("a.test", 0, "issue", `"other`+strconv.Itoa(i)+`.test"`))
	}
	c := caa.New(resolver.New([]string{srv.Addr()}, time.Second), []string{identity})
	id := challenges.Identifier{Type: challenges.IdentifierDNS, Value: "a.test"}

	_, err := c.Check(testCtx(t), id, false, account1, "dns-01")
	challtest.WantError(t, err, challenges.KindCAA, "and 6 more")
	if n := strings.Count(err.Error(), "authorizes another CA"); n != 4 {
		t.Errorf("got %d records described, want 4", n)
	}
}

// TestCheckQuorum checks that resolvers which disagree about CAA refuse
// issuance (SECURITY-CATALOGUE E8, F2).
func TestCheckQuorum(t *testing.T) {
	t.Parallel()
	var addrs []string
	for i := range 3 {
		srv := challtest.NewDNSServer(t)
		if i == 0 {
			srv.AddRR(caaRR("a.test", 0, "issue", `"ca.test"`))
		} else {
			srv.AddRR(caaRR("a.test", 0, "issue", `";"`))
		}
		addrs = append(addrs, srv.Addr())
	}
	res := resolver.New(addrs, time.Second)
	res.Quorum = 3
	c := caa.New(res, []string{identity})
	id := challenges.Identifier{Type: challenges.IdentifierDNS, Value: "a.test"}

	_, err := c.Check(testCtx(t), id, false, account1, "dns-01")
	challtest.WantError(t, err, challenges.KindDNS, "fewer than 3 of 3 resolvers agree on CAA")
}

// TestCheckRealNames walks a multi-name order the way finalize must: each
// name is checked on its own (SECURITY-CATALOGUE F1).
func TestCheckRealNames(t *testing.T) {
	t.Parallel()
	names := []string{"one.corp.test", "two.corp.test", "three.corp.test"}
	for k := range names {
		t.Run(names[k], func(t *testing.T) {
			t.Parallel()
			srv := challtest.NewDNSServer(t)
			for i, n := range names {
				value := `"ca.test"`
				if i == k {
					value = `";"`
				}
				srv.AddRR(caaRR(n, 0, "issue", value))
			}
			c := caa.New(resolver.New([]string{srv.Addr()}, time.Second), []string{identity})

			var refused []string
			for _, n := range names {
				id := challenges.Identifier{Type: challenges.IdentifierDNS, Value: n}
				if _, err := c.Check(testCtx(t), id, false, account1, "dns-01"); err != nil {
					refused = append(refused, n)
				}
			}
			if want := []string{names[k]}; !slices.Equal(refused, want) {
				t.Errorf("got refused %q, want %q", refused, want)
			}
		})
	}
}
