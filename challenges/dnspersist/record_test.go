package dnspersist

import (
	"errors"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/challenges"
)

// TestHashedAccountURI checks the test vectors of
// draft-ietf-acme-dns-persist-02, Section 10.2.
func TestHashedAccountURI(t *testing.T) {
	t.Parallel()
	const (
		prefix     = "https://ca.example/account-hash/"
		thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
		accountURL = "https://ca.example/acct/123"
	)
	tests := []struct{ domain, want string }{
		{"example.com", prefix + "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw"},
		{AnyDomain, prefix + "sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug"},
	}
	for _, tt := range tests {
		if got := HashedAccountURI(prefix, tt.domain, thumbprint, accountURL); got != tt.want {
			t.Errorf("HashedAccountURI(%q): got %q, want %q", tt.domain, got, tt.want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		value      string
		wantOK     bool
		wantIssuer string
		wantParams map[string]string
		wantErr    string // part of the malformed detail; empty for none
	}{
		{name: "issuer only", value: "ca.test", wantOK: true, wantIssuer: "ca.test",
			wantParams: map[string]string{}},
		{name: "issuer and semicolon", value: " ca.test ; ", wantOK: true, wantIssuer: "ca.test",
			wantParams: map[string]string{}},
		{name: "parameters", value: "CA.Test; accounturi=https://x/a;\tpolicy=wildcard;persistUntil=5",
			wantOK: true, wantIssuer: "ca.test", wantParams: map[string]string{
				"accounturi": "https://x/a", "policy": "wildcard", "persistuntil": "5"}},
		{name: "empty value", value: "ca.test; policy=", wantOK: true, wantIssuer: "ca.test",
			wantParams: map[string]string{"policy": ""}},
		{name: "unknown tag kept", value: "ca.test; future-tag=x", wantOK: true,
			wantIssuer: "ca.test", wantParams: map[string]string{"future-tag": "x"}},
		{name: "duplicate tag", value: "ca.test; policy=wildcard; POLICY=none", wantOK: true,
			wantIssuer: "ca.test", wantErr: `parameter "policy" appears more than once`},
		{name: "parameter without value", value: "ca.test; accounturi", wantOK: true,
			wantIssuer: "ca.test", wantErr: "breaks the issue-value grammar"},
		{name: "space in value", value: "ca.test; accounturi=a b", wantOK: true,
			wantIssuer: "ca.test", wantErr: "breaks the issue-value grammar"},
		{name: "trailing semicolon after parameters", value: "ca.test; policy=wildcard;",
			wantOK: true, wantIssuer: "ca.test", wantErr: "breaks the issue-value grammar"},
		{name: "no issuer", value: "; accounturi=x"},
		{name: "not an issue-value", value: "v=spf1 -all"},
		{name: "issuer with trailing dot", value: "ca.test.; accounturi=x"},
		{name: "empty", value: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseRecord(tt.value)
			if ok != tt.wantOK {
				t.Fatalf("parseRecord(%q): got ok %v, want %v", tt.value, ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if got.issuer != tt.wantIssuer {
				t.Errorf("got issuer %q, want %q", got.issuer, tt.wantIssuer)
			}
			if tt.wantErr != "" {
				var ce *challenges.Error
				if !errors.As(got.err, &ce) || ce.Kind != challenges.KindMalformed ||
					!strings.Contains(ce.Detail, tt.wantErr) {
					t.Fatalf("got error %v, want a malformed one containing %q", got.err, tt.wantErr)
				}
				return
			}
			if got.err != nil {
				t.Fatalf("got error %v, want none", got.err)
			}
			if len(got.params) != len(tt.wantParams) {
				t.Fatalf("got parameters %v, want %v", got.params, tt.wantParams)
			}
			for k, v := range tt.wantParams {
				if got.params[k] != v {
					t.Errorf("parameter %s: got %q, want %q", k, got.params[k], v)
				}
			}
		})
	}
}

func TestCheckIssuerDomainNames(t *testing.T) {
	t.Parallel()
	eleven := strings.Split("a.t b.t c.t d.t e.t f.t g.t h.t i.t j.t k.t", " ")
	tests := []struct {
		names []string
		ok    bool
	}{
		{[]string{"ca.corp.internal"}, true},
		{[]string{"ca.corp.internal", "xn--bcher-kva.example"}, true},
		{eleven[:10], true},
		{nil, false},
		{eleven, false},
		{[]string{"CA.corp.internal"}, false},
		{[]string{"ca.corp.internal."}, false},
		{[]string{"bücher.example"}, false},
		{[]string{strings.Repeat("a.", 127) + "a"}, false},
	}
	for _, tt := range tests {
		err := CheckIssuerDomainNames(tt.names)
		if (err == nil) != tt.ok {
			t.Errorf("CheckIssuerDomainNames(%q): got %v, want ok %v", tt.names, err, tt.ok)
		}
	}
}
