package challenges

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// RFC 8555, Section 8.1 uses this token; the thumbprint is the RFC 7638,
// Section 3.1 example.
const (
	rfcToken      = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	rfcThumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func TestKeyAuthorization(t *testing.T) {
	t.Parallel()
	got := KeyAuthorization(rfcToken, rfcThumbprint)
	if want := rfcToken + "." + rfcThumbprint; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRequestCheck covers the identifier shapes of SECURITY-CATALOGUE E1
// and F4 that must never reach a URL or a query, whatever the state machine
// let through.
func TestRequestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		typ, value string
		token      string // rfcToken if empty
		keyAuth    string // token + "." + rfcThumbprint if empty
		wantDetail string // empty: valid
	}{
		{name: "dns name", typ: IdentifierDNS, value: "a.corp.internal"},
		{name: "underscore label", typ: IdentifierDNS, value: "_svc.corp.internal"},
		{name: "IPv4", typ: IdentifierIP, value: "192.0.2.1"},
		{name: "IPv6", typ: IdentifierIP, value: "2001:db8::1"},
		{name: "wildcard prefix", typ: IdentifierDNS, value: "*.a.test", wantDetail: "wildcard prefix"},
		{
			name:       "port",
			typ:        IdentifierDNS,
			value:      "a.corp.internal:8080",
			wantDetail: "character not allowed",
		},
		{
			name:       "user information",
			typ:        IdentifierDNS,
			value:      "u@a.corp.internal",
			wantDetail: "character not allowed",
		},
		{name: "path", typ: IdentifierDNS, value: "a.test/x", wantDetail: "character not allowed"},
		{
			name:       "IPv4 typed as dns",
			typ:        IdentifierDNS,
			value:      "127.0.0.1",
			wantDetail: "must use the ip identifier type",
		},
		{
			name:       "IPv6 typed as dns",
			typ:        IdentifierDNS,
			value:      "fd00:ec2::254",
			wantDetail: "must use the ip identifier type",
		},
		{
			name:       "bracketed IPv6 typed as dns",
			typ:        IdentifierDNS,
			value:      "[fd00:ec2::254]",
			wantDetail: "character not allowed",
		},
		{
			name:       "trailing dot",
			typ:        IdentifierDNS,
			value:      "a.test.",
			wantDetail: "empty or over-long label",
		},
		{name: "empty name", typ: IdentifierDNS, value: "", wantDetail: "empty or longer than 253"},
		{
			name:       "long label",
			typ:        IdentifierDNS,
			value:      strings.Repeat("a", 64) + ".test",
			wantDetail: "over-long label",
		},
		{
			name:       "long name",
			typ:        IdentifierDNS,
			value:      strings.Repeat("a.", 127) + "ab",
			wantDetail: "longer than 253",
		},
		{
			name:       "IPv6 zone",
			typ:        IdentifierIP,
			value:      "fe80::1%eth0",
			wantDetail: "invalid IP identifier",
		},
		{
			name:       "IPv4-mapped IPv6",
			typ:        IdentifierIP,
			value:      "::ffff:127.0.0.1",
			wantDetail: "invalid IP identifier",
		},
		{
			name:       "name typed as ip",
			typ:        IdentifierIP,
			value:      "a.test",
			wantDetail: "invalid IP identifier",
		},
		{
			name:       "unknown type",
			typ:        "email",
			value:      "a@b.test",
			wantDetail: `unsupported identifier type "email"`,
		},
		{
			name:       "token with slash",
			typ:        IdentifierDNS,
			value:      "a.test",
			token:      "../admin",
			wantDetail: "invalid challenge token",
		},
		{
			name:       "token too long",
			typ:        IdentifierDNS,
			value:      "a.test",
			token:      strings.Repeat("a", 129),
			wantDetail: "invalid challenge token",
		},
		{
			name:       "key authorization for another token",
			typ:        IdentifierDNS,
			value:      "a.test",
			keyAuth:    "other." + rfcThumbprint,
			wantDetail: "does not belong",
		},
		{
			name:       "key authorization without thumbprint",
			typ:        IdentifierDNS,
			value:      "a.test",
			keyAuth:    rfcToken + ".",
			wantDetail: "does not belong",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := Request{
				Identifier:       Identifier{Type: tt.typ, Value: tt.value},
				Token:            tt.token,
				KeyAuthorization: tt.keyAuth,
			}
			if req.Token == "" {
				req.Token = rfcToken
			}
			if req.KeyAuthorization == "" {
				req.KeyAuthorization = KeyAuthorization(req.Token, rfcThumbprint)
			}

			err := req.Check()
			if tt.wantDetail == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var ce *Error
			ok := errors.As(err, &ce) && ce.Kind == KindMalformed
			if !ok || !strings.Contains(ce.Detail, tt.wantDetail) {
				t.Fatalf("got %v, want a malformed error containing %q", err, tt.wantDetail)
			}
		})
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	err := Errorf(KindDNS, "SERVFAIL looking up %s", "a.test")
	if got, want := err.Error(), "challenges: dns: SERVFAIL looking up a.test"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"plain", 10, "plain"},
		{"exactly", 7, "exactly"},
		{"too long", 3, "too..."},
		{"\x00bell\x07\n", 10, "?bell??"},
		{"héllo", 10, "h??llo"},
		{"anything", -1, "..."},
	}
	for _, tt := range tests {
		if got := Excerpt(tt.in, tt.limit); got != tt.want {
			t.Errorf("Excerpt(%q, %d): got %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestRecordJSON(t *testing.T) {
	t.Parallel()
	rec := Record{
		Type:              TypeHTTP01,
		Hostname:          "a.test",
		AddressesResolved: []string{"192.0.2.1"},
		Started:           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration:          1500 * time.Millisecond,
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"http-01","hostname":"a.test","addressesResolved":["192.0.2.1"],` +
		`"started":"2026-01-02T03:04:05Z","duration":1500000000}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
