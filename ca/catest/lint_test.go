package catest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"
)

// selfSigned makes a deliberately poor certificate: a leaf with only a
// common name and no subject alternative names.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "www.example.com"},
		NotBefore:    now,
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// recorder is a testing.TB that collects failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckFindsProblems(t *testing.T) {
	t.Parallel()
	der := selfSigned(t)
	found, err := Check(der, InternalCAExclusions())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !slices.ContainsFunc(found, func(f Finding) bool { return f.Lint == "e_ext_san_missing" }) {
		t.Errorf("findings: got %v, want e_ext_san_missing among them", found)
	}
	rec := &recorder{TB: t}
	Lint(rec, der)
	if len(rec.errors) != len(found) {
		t.Errorf("Lint errors: got %d (%v), want %d", len(rec.errors), rec.errors, len(found))
	}
}

func TestCheckErrors(t *testing.T) {
	t.Parallel()
	if _, err := Check([]byte("not DER"), nil); err == nil {
		t.Errorf("Check(garbage): got nil, want an error")
	}
	if _, err := CheckCRL([]byte("not DER"), nil); err == nil {
		t.Errorf("CheckCRL(garbage): got nil, want an error")
	}
}

func TestInternalCAExclusions(t *testing.T) {
	t.Parallel()
	a := InternalCAExclusions()
	if len(a) == 0 {
		t.Fatalf("exclusions: got none, want some")
	}
	for name, reason := range a {
		if reason == "" {
			t.Errorf("exclusion %s: got no reason, want one", name)
		}
	}
	reg, err := lintRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for name := range a {
		if reg.CertificateLints().ByName(name) == nil {
			t.Errorf("exclusion %s: got no such lint in the registry, want a real lint name", name)
		}
	}
	delete(a, "e_dnsname_not_valid_tld")
	if _, ok := InternalCAExclusions()["e_dnsname_not_valid_tld"]; !ok {
		t.Errorf("InternalCAExclusions: got a shared map, want a copy")
	}
}
