package ca

import (
	"crypto/x509"
	"errors"
	"net"
	"testing"
)

func TestIssueNameConstraints(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t, func(o *CeremonyOptions) {
		o.PermittedDNSDomains = []string{"example.com", ".corp.test"}
		o.ExcludedDNSDomains = []string{"secret.example.com"}
		o.PermittedIPRanges = []*net.IPNet{mustParseCIDR(t, "10.0.0.0/8")}
	})
	tests := []struct {
		name string
		dns  []string
		ips  []net.IP
		ok   bool
	}{
		{"apex", []string{"example.com"}, nil, true},
		{"subdomain", []string{"www.example.com"}, nil, true},
		{"wildcard over excluded host", []string{"*.example.com"}, nil, false},
		{"wildcard", []string{"*.www.example.com"}, nil, true},
		{"wildcard over excluded subtree", []string{"*.secret.example.com"}, nil, false},
		{"upper case", []string{"WWW.Example.COM"}, nil, true},
		{"dot constraint subdomain", []string{"host.corp.test"}, nil, true},
		{"dot constraint apex", []string{"corp.test"}, nil, false},
		{"suffix trick", []string{"badexample.com"}, nil, false},
		{"outside", []string{"www.example.org"}, nil, false},
		{"excluded", []string{"a.secret.example.com"}, nil, false},
		{"one bad among good", []string{"www.example.com", "www.example.net"}, nil, false},
		{"permitted IP", nil, []net.IP{net.ParseIP("10.1.2.3")}, true},
		{"other IP", nil, []net.IP{net.ParseIP("192.168.1.1")}, false},
		{"IPv6 not permitted", nil, []net.IP{net.ParseIP("fd00::1")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, _, err := p.issuer.Issue(IssueRequest{
				CSR:         checkedCSR(t, newECKey(t)),
				DNSNames:    tt.dns,
				IPAddresses: tt.ips,
				Serial:      newSerial(t),
				Now:         testNow,
			})
			if tt.ok {
				if err != nil {
					t.Fatalf("Issue: got %v, want success", err)
				}
				roots := x509.NewCertPool()
				roots.AddCert(p.issuer.Root)
				inters := x509.NewCertPool()
				inters.AddCert(p.issuer.Certificate)
				_, verr := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
					CurrentTime: testNow})
				if verr != nil {
					t.Errorf("Verify: got %v, want nil", verr)
				}
				return
			}
			if !errors.Is(err, ErrNameConstraint) {
				t.Errorf("Issue: got %v, want %v", err, ErrNameConstraint)
			}
		})
	}
}

func TestDNSConstraintMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		constraint string
		matches    bool
		reaches    bool // wildcardReaches, for excluded subtrees
	}{
		{"example.com", "example.com", true, false},
		{"www.example.com", "example.com", true, false},
		{"www.example.com.", "example.com", true, false},
		{"example.com", ".example.com", false, false},
		{"a.b.example.com", ".example.com", true, false},
		{"notexample.com", "example.com", false, false},
		{"anything.test", "", true, false},
		{"*.example.com", "secret.example.com", false, true},
		{"*.example.com", "a.secret.example.com", false, false},
		{"*.example.com", ".secret.example.com", false, false},
		{"*.Example.COM", "SECRET.example.com", false, true},
		{"www.example.com", "secret.example.com", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" in "+tt.constraint, func(t *testing.T) {
			if got := dnsMatches(tt.name, tt.constraint); got != tt.matches {
				t.Errorf("dnsMatches: got %v, want %v", got, tt.matches)
			}
			if got := wildcardReaches(tt.name, tt.constraint); got != tt.reaches {
				t.Errorf("wildcardReaches: got %v, want %v", got, tt.reaches)
			}
		})
	}
}
