package integration

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca/catest"
)

const (
	// defaultLifetime is the lifetime of the "default" profile.
	defaultLifetime = 24 * time.Hour
	// shortLifetime is the lifetime of the "shortlived" profile.
	shortLifetime = 6 * time.Hour
	// backdate is how far before issuance every profile sets NotBefore.
	backdate = time.Minute
)

// wantCert is what a certificate obtained in a test must look like.
type wantCert struct {
	// identifiers are the order's identifiers in order: DNS names and IP
	// addresses, mixed as they were ordered.
	identifiers []string
	// lifetime is the profile lifetime; zero means defaultLifetime.
	lifetime time.Duration
	// extKeyUsage is the exact EKU list; nil means serverAuth and
	// clientAuth, which the default profiles carry.
	extKeyUsage []x509.ExtKeyUsage
}

// parsePEMCertificates parses every CERTIFICATE block of raw and fails on
// anything else.
func parsePEMCertificates(raw []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("got PEM block %q, want CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// checkChainPEM parses a downloaded chain, which must be exactly the leaf
// and the intermediate, and checks it with [checkChain].
func checkChainPEM(
	t *testing.T,
	g *gateway,
	chainPEM []byte,
	issuedAfter time.Time,
	want wantCert,
) *x509.Certificate {
	t.Helper()
	certs, err := parsePEMCertificates(chainPEM)
	if err != nil {
		t.Fatalf("parsing the certificate download: %v", err)
	}
	return checkChain(t, g, certs, issuedAfter, want)
}

// checkChain checks an issued chain: leaf and intermediate only, verifying
// to root.pem as root ← intermediate ← leaf, with exactly the ordered
// identifiers as SANs, the profile's lifetime and EKUs, and no zlint
// finding on either certificate. It returns the leaf.
func checkChain(
	t *testing.T,
	g *gateway,
	certs []*x509.Certificate,
	issuedAfter time.Time,
	want wantCert,
) *x509.Certificate {
	t.Helper()
	if len(certs) != 2 {
		t.Fatalf("got %d certificates in the download, want 2 (leaf and intermediate)", len(certs))
	}
	leaf, inter := certs[0], certs[1]
	if leaf.IsCA {
		t.Errorf("leaf %q: got IsCA true, want false", leaf.Subject)
	}
	if !inter.IsCA {
		t.Errorf("intermediate %q: got IsCA false, want true", inter.Subject)
	}

	ekus := want.extKeyUsage
	if ekus == nil {
		ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if !slices.Equal(leaf.ExtKeyUsage, ekus) {
		t.Errorf("ExtKeyUsage: got %v, want %v", leaf.ExtKeyUsage, ekus)
	}
	intermediates := x509.NewCertPool()
	intermediates.AddCert(inter)
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         g.RootPool,
		Intermediates: intermediates,
		KeyUsages:     ekus[:1],
	})
	if err != nil {
		t.Fatalf("verifying to root.pem: %v", err)
	}
	if len(chains) != 1 || len(chains[0]) != 3 ||
		!chains[0][1].Equal(inter) || !chains[0][2].Equal(g.Root) {
		t.Errorf("got chains %v, want exactly leaf, intermediate, root.pem", chainSubjects(chains))
	}

	var wantDNS []string
	var wantIPs []net.IP
	for _, id := range want.identifiers {
		if ip := net.ParseIP(id); ip != nil {
			wantIPs = append(wantIPs, ip)
		} else {
			wantDNS = append(wantDNS, id)
		}
	}
	if !slices.Equal(leaf.DNSNames, wantDNS) {
		t.Errorf("DNS SANs: got %q, want %q", leaf.DNSNames, wantDNS)
	}
	if !slices.EqualFunc(leaf.IPAddresses, wantIPs, net.IP.Equal) {
		t.Errorf("IP SANs: got %v, want %v", leaf.IPAddresses, wantIPs)
	}
	if len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
		t.Errorf("got email SANs %q and URI SANs %v, want none", leaf.EmailAddresses, leaf.URIs)
	}

	lifetime := want.lifetime
	if lifetime == 0 {
		lifetime = defaultLifetime
	}
	// ca.Issuer.Issue: notAfter - notBefore is exactly the profile
	// lifetime, notBefore being the issuance time minus the backdate.
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != lifetime {
		t.Errorf("NotAfter-NotBefore: got %v, want the profile lifetime %v", got, lifetime)
	}
	earliest := issuedAfter.Add(-backdate).Truncate(time.Second)
	latest := time.Now().Add(-backdate)
	if leaf.NotBefore.Before(earliest) || leaf.NotBefore.After(latest) {
		t.Errorf("NotBefore: got %v, want issuance time minus the %v backdate, between %v and %v",
			leaf.NotBefore, backdate, earliest, latest)
	}

	catest.Lint(t, leaf.Raw)
	catest.Lint(t, inter.Raw)
	return leaf
}

func chainSubjects(chains [][]*x509.Certificate) [][]string {
	var out [][]string
	for _, c := range chains {
		var names []string
		for _, cert := range c {
			names = append(names, cert.Subject.CommonName)
		}
		out = append(out, names)
	}
	return out
}
