package state

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"testing"

	"github.com/acmegate/acmegate/acme/problem"
)

// FuzzCSRChecks feeds arbitrary bytes to the CSR checks finalize runs
// (SECURITY-CATALOGUE D5, D9): parsing, the key policy and the comparison
// with the order's identifiers. They must never panic, and every refusal
// must be a badCSR problem.
func FuzzCSRChecks(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, tmpl := range []*x509.CertificateRequest{
		{DNSNames: []string{"a.corp.internal"}},
		{DNSNames: []string{"a.corp.internal", "b.corp.internal"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}},
		{Subject: pkix.Name{CommonName: "a.corp.internal"}},
		{DNSNames: []string{"*.corp.internal"}, EmailAddresses: []string{"x@corp.internal"}},
	} {
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	order := []Identifier{{Type: IdentifierDNS, Value: "a.corp.internal"},
		{Type: IdentifierIP, Value: "10.0.0.1"}}

	f.Fuzz(func(t *testing.T, der []byte) {
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			return
		}
		for _, check := range []func() error{
			func() error { return checkCSRKey(csr) },
			func() error { return checkCSRNames(csr, order) },
		} {
			err := check()
			if err == nil {
				continue
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Type != problem.BadCSR {
				t.Fatalf("got %v, want a badCSR problem", err)
			}
		}
	})
}
