package dnspersist_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/dnspersist"
	"github.com/acmegate/acmegate/challenges/resolver"
)

const (
	token      = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	thumbprint = "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
	// otherThumb is the thumbprint of another key.
	otherThumb = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	issuer     = "ca.corp.internal"
	prefix     = "https://ca.corp.internal/acme/account-hash/"
	accountURL = "https://ca.corp.internal/acme/acct/A1"
	otherAcct  = "https://ca.corp.internal/acme/acct/B2"
	// txtName is where the record for a.test lives.
	txtName = "_validation-persist.a.test"
)

// now is the validator's clock in every test.
var now = time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC)

// hashed returns the accounturi of the test account for records at domain.
func hashed(domain string) string {
	return dnspersist.HashedAccountURI(prefix, domain, thumbprint, accountURL)
}

// record returns a record for issuer naming the test account for domain,
// followed by extra parameters ("; policy=wildcard").
func record(domain, extra string) string {
	return issuer + "; accounturi=" + hashed(domain) + extra
}

func request(value string, wildcard bool) challenges.Request {
	return challenges.Request{
		Identifier:       challenges.Identifier{Type: challenges.IdentifierDNS, Value: value},
		Token:            token,
		KeyAuthorization: challenges.KeyAuthorization(token, thumbprint),
		AccountURI:       accountURL,
		Wildcard:         wildcard,
	}
}

func newValidator(t *testing.T, srv *challtest.DNSServer, subdomains bool) *dnspersist.Validator {
	t.Helper()
	v, err := dnspersist.New(resolver.New([]string{srv.Addr()}, 300*time.Millisecond),
		dnspersist.Options{
			IssuerDomainNames: []string{"other-name.corp.internal", issuer},
			AccountHashPrefix: prefix,
			Subdomains:        subdomains,
			Now:               func() time.Time { return now },
		})
	if err != nil {
		t.Fatalf("dnspersist.New: %v", err)
	}
	return v
}

func TestValidate(t *testing.T) {
	t.Parallel()
	future := now.Add(90 * 24 * time.Hour)
	past := now.Add(-time.Second)
	until := func(at time.Time) string { return fmt.Sprintf("; persistUntil=%d", at.Unix()) }

	tests := []struct {
		name       string
		setup      func(s *challtest.DNSServer)
		req        challenges.Request // a.test, not a wildcard, when zero
		subdomains bool
		wantKind   string
		wantDetail string
		wantUntil  time.Time
		wantHost   string // the record's Hostname; txtName when empty
	}{
		{
			name:  "valid record",
			setup: func(s *challtest.DNSServer) { s.SetTXT(txtName, record("a.test", "")) },
		},
		{
			name: "any-domain hashed URI",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record(dnspersist.AnyDomain, ""))
			},
		},
		{
			name: "issuer in upper case and unknown parameters",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, "CA.Corp.Internal;accounturi="+hashed("a.test")+"; future=1")
			},
		},
		{
			name: "wrong account",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, issuer+"; accounturi="+
					dnspersist.HashedAccountURI(prefix, "a.test", thumbprint, otherAcct))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "the record for ca.corp.internal at " + txtName + " names another account",
		},
		{
			name: "right account, another key",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, issuer+"; accounturi="+
					dnspersist.HashedAccountURI(prefix, "a.test", otherThumb, accountURL))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "names another account, or this account with a key it never used",
		},
		{
			name: "made with a key the account retired",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, issuer+"; accounturi="+
					dnspersist.HashedAccountURI(prefix, "a.test", otherThumb, accountURL))
			},
			req: func() challenges.Request {
				r := request("a.test", false)
				r.RetiredThumbprints = []string{"x" + thumbprint[1:], otherThumb}
				return r
			}(),
		},
		{
			name: "any-domain record made with a retired key",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, issuer+"; accounturi="+
					dnspersist.HashedAccountURI(prefix, dnspersist.AnyDomain, otherThumb, accountURL))
			},
			req: func() challenges.Request {
				r := request("a.test", false)
				r.RetiredThumbprints = []string{otherThumb}
				return r
			}(),
		},
		{
			name: "hashed for another domain",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("b.test", ""))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "names another account",
		},
		{
			name: "wrong issuer",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, "other-ca.test; accounturi="+hashed("a.test"))
			},
			wantKind: challenges.KindUnauthorized,
			wantDetail: "none of the 1 TXT records at " + txtName +
				" names this CA (other-name.corp.internal, ca.corp.internal)",
		},
		{
			name:       "expired persistUntil",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, record("a.test", until(past))) },
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "expired at persistUntil " + past.Truncate(time.Second).Format(time.RFC3339),
		},
		{
			name:      "future persistUntil bounds the validation",
			setup:     func(s *challtest.DNSServer) { s.SetTXT(txtName, record("a.test", until(future))) },
			wantUntil: future.Truncate(time.Second),
		},
		{
			name: "persistUntil not a number",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", "; persistUntil=-5"))
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: `has a persistUntil "-5" that is not a base-10 Unix time`,
		},
		{
			name: "wildcard with policy=wildcard",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", "; policy=WILDCARD"))
			},
			req: request("a.test", true),
		},
		{
			name:       "wildcard without policy",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, record("a.test", "; policy=none")) },
			req:        request("a.test", true),
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "lacks policy=wildcard, so it does not cover *.a.test",
		},
		{
			name: "subdomain by the parent's wildcard policy",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", "; policy=wildcard"))
			},
			req:        request("www.dept.a.test", false),
			subdomains: true,
			wantHost:   txtName,
		},
		{
			name: "wildcard subdomain by the parent's wildcard policy",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", "; policy=wildcard"))
			},
			req:        request("dept.a.test", true),
			subdomains: true,
			wantHost:   txtName,
		},
		{
			name:       "subdomain without policy at the parent",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, record("a.test", "")) },
			req:        request("www.a.test", false),
			subdomains: true,
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "lacks policy=wildcard, so it does not cover www.a.test",
		},
		{
			name: "subdomain when subdomains are off",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", "; policy=wildcard"))
			},
			req:        request("www.a.test", false),
			wantKind:   challenges.KindDNS,
			wantDetail: "NXDOMAIN looking up TXT for _validation-persist.www.a.test",
		},
		{
			name:       "missing accounturi",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, issuer+"; policy=wildcard") },
			wantKind:   challenges.KindMalformed,
			wantDetail: "the record for ca.corp.internal at " + txtName + " has no accounturi",
		},
		{
			name:       "parameter without a value",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, issuer+"; accounturi") },
			wantKind:   challenges.KindMalformed,
			wantDetail: `is malformed: parameter "accounturi" breaks the issue-value grammar`,
		},
		{
			name: "duplicate parameter",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", "; accounturi="+hashed("a.test")))
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: `parameter "accounturi" appears more than once`,
		},
		{
			name:       "plain account URL as in draft 01",
			setup:      func(s *challtest.DNSServer) { s.SetTXT(txtName, issuer+"; accounturi="+accountURL) },
			wantKind:   challenges.KindMalformed,
			wantDetail: "is not under this CA's accountHashPrefix",
		},
		{
			name: "another hash algorithm",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, issuer+"; accounturi="+
					strings.Replace(hashed("a.test"), "sha-256/", "sha-512/", 1))
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: "does not use the hash algorithm sha-256",
		},
		{
			name: "truncated digest",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, issuer+"; accounturi="+hashed("a.test")[:len(prefix)+20])
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: "does not end in an unpadded base64url SHA-256 digest",
		},
		{
			name: "multiple records, one valid",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, "v=spf1 -all", "other-ca.test; accounturi=x",
					issuer+"; accounturi", record("a.test", ""))
			},
		},
		{
			name: "multiple records for this CA, none valid",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", "; persistUntil=1"), record("b.test", ""))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "expired at persistUntil 1970-01-01T00:00:01Z",
		},
		{
			name: "multiple valid records, the unbounded one wins",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", until(future)), record(dnspersist.AnyDomain, ""))
			},
		},
		{
			name: "multiple valid records, the later persistUntil wins",
			setup: func(s *challtest.DNSServer) {
				s.SetTXT(txtName, record("a.test", until(future.Add(-time.Hour))),
					record(dnspersist.AnyDomain, until(future)))
			},
			wantUntil: future.Truncate(time.Second),
		},
		{
			name: "delegated through a CNAME",
			setup: func(s *challtest.DNSServer) {
				s.SetCNAME(txtName, "a.persist-delegation.test")
				s.SetTXT("a.persist-delegation.test", record("a.test", ""))
			},
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
			name:  "ip identifier",
			setup: func(*challtest.DNSServer) {},
			req: challenges.Request{
				Identifier:       challenges.Identifier{Type: challenges.IdentifierIP, Value: "10.0.0.1"},
				Token:            token,
				KeyAuthorization: challenges.KeyAuthorization(token, thumbprint),
				AccountURI:       accountURL,
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: "dns-persist-01 cannot validate ip identifiers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := challtest.NewDNSServer(t)
			tt.setup(srv)
			req := tt.req
			if req.Token == "" {
				req = request("a.test", false)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			rec, err := newValidator(t, srv, tt.subdomains).Validate(ctx, req)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if rec.Type != dnspersist.Type || len(rec.Resolvers) != 1 {
				t.Errorf("got record %+v, want type dns-persist-01 and one resolver", rec)
			}
			if !rec.ValidUntil.Equal(tt.wantUntil) {
				t.Errorf("got ValidUntil %v, want %v", rec.ValidUntil, tt.wantUntil)
			}
			if tt.wantHost != "" && rec.Hostname != tt.wantHost {
				t.Errorf("got hostname %q, want %q", rec.Hostname, tt.wantHost)
			}
		})
	}
}

// TestValidateLongRecord checks a record longer than one character-string:
// the resolver joins the strings of a TXT record before it is judged
// (draft-ietf-acme-dns-persist-02, Section 9.1).
func TestValidateLongRecord(t *testing.T) {
	t.Parallel()
	srv := challtest.NewDNSServer(t)
	value := record("a.test", "; note="+strings.Repeat("x", 300)+"; policy=wildcard")
	srv.SetTXT(txtName, value)
	_, err := newValidator(t, srv, false).Validate(context.Background(), request("a.test", true))
	challtest.WantError(t, err, "", "")
}

// TestValidateNoAccount shows that a request without an account URI is an
// internal fault, not a client's problem.
func TestValidateNoAccount(t *testing.T) {
	t.Parallel()
	srv := challtest.NewDNSServer(t)
	req := request("a.test", false)
	req.AccountURI = ""
	_, err := newValidator(t, srv, false).Validate(context.Background(), req)
	if err == nil || strings.Contains(fmt.Sprintf("%T", err), "challenges.Error") {
		t.Fatalf("got %v (%T), want an internal error", err, err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	res := resolver.New([]string{"127.0.0.1:53"}, time.Second)
	tests := []struct {
		name string
		opts dnspersist.Options
	}{
		{"no issuer names", dnspersist.Options{AccountHashPrefix: prefix}},
		{"issuer in upper case", dnspersist.Options{IssuerDomainNames: []string{"CA.test"},
			AccountHashPrefix: prefix}},
		{"no prefix", dnspersist.Options{IssuerDomainNames: []string{issuer}}},
		{"relative prefix", dnspersist.Options{IssuerDomainNames: []string{issuer},
			AccountHashPrefix: "/account-hash/"}},
	}
	for _, tt := range tests {
		if _, err := dnspersist.New(res, tt.opts); err == nil {
			t.Errorf("%s: got no error, want one", tt.name)
		}
	}
}
