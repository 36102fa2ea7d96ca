package integration

import (
	"context"
	"crypto"
	"crypto/x509"
	"net/http"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
	"golang.org/x/crypto/acme"
)

// stagingConfig serves the client-honesty directory at /staging with its
// default behaviour (5% of valid nonces refused, half of the orders
// reusing authorizations, order pages of 3, a random profile for orders
// that name none) and a short validation delay to keep the tests fast.
const stagingConfig = "staging:\n  enabled: true\n  max_validation_delay: 500ms\n"

// stagingView returns g as seen by clients of its client-honesty
// directory: the same process, responders and root, another directory.
func stagingView(g *gateway) *gateway {
	s := *g
	s.DirectoryURL = "https://" + g.Addr + "/staging/directory"
	return &s
}

// stagingProfiles are the default profiles as their certificates show
// them; the staging directory picks one at random for orders naming none.
var stagingProfiles = []struct {
	name string
	want wantCert
}{
	{name: "default", want: wantCert{}},
	{name: "shortlived", want: wantCert{lifetime: shortLifetime}},
	{name: "mtls", want: wantCert{extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}},
}

// stagingWant returns what a certificate for ids from the staging
// directory must look like: the profile its leaf matches by lifetime and
// extended key usages (the three default profiles differ in one or the
// other).
func stagingWant(t *testing.T, leaf *x509.Certificate, ids []string) wantCert {
	t.Helper()
	for _, p := range stagingProfiles {
		lifetime, ekus := p.want.lifetime, p.want.extKeyUsage
		if lifetime == 0 {
			lifetime = defaultLifetime
		}
		if ekus == nil {
			ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		}
		if leaf.NotAfter.Sub(leaf.NotBefore) == lifetime && slices.Equal(leaf.ExtKeyUsage, ekus) {
			t.Logf("the staging directory picked profile %s", p.name)
			w := p.want
			w.identifiers = ids
			return w
		}
	}
	t.Errorf("leaf with lifetime %v and ExtKeyUsage %v: got no match, want one of the default profiles",
		leaf.NotAfter.Sub(leaf.NotBefore), leaf.ExtKeyUsage)
	return wantCert{identifiers: ids}
}

// firstCertificate parses the first certificate of a PEM chain.
func firstCertificate(t *testing.T, chainPEM []byte) *x509.Certificate {
	t.Helper()
	certs, err := parsePEMCertificates(chainPEM)
	if err != nil {
		t.Fatalf("parsing the certificate download: %v", err)
	}
	return certs[0]
}

// SECURITY-CATALOGUE J12: clients cope with a demanding but valid server.
func TestStaging(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withConfig(stagingConfig))
	sg := stagingView(g)
	t.Cleanup(func() {
		refused := 0
		for line := range strings.Lines(g.output.String()) {
			if strings.Contains(line, "directory=staging") && strings.Contains(line, "problem=badNonce") {
				refused++
			}
		}
		t.Logf("the staging directory refused %d nonces", refused)
	})

	legoTests := []struct {
		challenge string
		names     []string
	}{
		{challenge: challHTTP01, names: []string{"stage-http.test.internal", "www.stage-http.test.internal"}},
		{challenge: challDNS01, names: []string{"*.stage-dns.test.internal", "stage-dns.test.internal"}},
	}
	for _, tt := range legoTests {
		t.Run("lego "+tt.challenge, func(t *testing.T) {
			t.Parallel()
			pointAt(g, tt.names...)
			client, _ := newRegisteredLegoClient(t, sg, tt.challenge)

			start := time.Now()
			first := obtain(t, client, certificate.ObtainRequest{Domains: tt.names})
			want := stagingWant(t, firstCertificate(t, first.Certificate), tt.names)
			firstLeaf := checkLegoResource(t, g, first, start, want)

			start = time.Now()
			renewed, err := client.Certificate.RenewWithOptions(*first, &certificate.RenewOptions{Bundle: true})
			if err != nil {
				t.Fatalf("RenewWithOptions: %v", err)
			}
			want = stagingWant(t, firstCertificate(t, renewed.Certificate), tt.names)
			leaf := checkLegoResource(t, g, renewed, start, want)
			if leaf.SerialNumber.Cmp(firstLeaf.SerialNumber) == 0 {
				t.Errorf("renewed serial: got %x, the same as the first certificate's", leaf.SerialNumber)
			}

			if err := client.Certificate.Revoke(renewed.Certificate); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			err = client.Certificate.Revoke(renewed.Certificate)
			wantProblem(t, err, "alreadyRevoked", http.StatusBadRequest)
		})
	}

	t.Run("x/crypto/acme", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		names := []string{"stage-xacme.test.internal"}
		pointAt(g, names...)
		client := newXClient(t, ctx, sg)
		start := time.Now()
		certs := parseDERChain(t, xacmeObtainHTTP01(t, ctx, g, client, names))
		if len(certs) == 0 {
			t.Fatalf("got an empty chain")
		}
		checkChain(t, g, certs, start, stagingWant(t, certs[0], names))
	})

	t.Run("accounts are per directory", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		_, user := newRegisteredLegoClient(t, sg)
		stagingURL := user.reg.URI
		if !strings.HasPrefix(stagingURL, "https://"+g.Addr+"/staging/acct/") {
			t.Fatalf("staging account URL: got %q, want it under /staging/acct/", stagingURL)
		}

		// The staging account's key, looked up at /acme (newAccount with
		// onlyReturnExisting).
		lc, _ := newLegoClient(t, g, user.key)
		_, err := lc.Registration.ResolveAccountByKey()
		wantProblem(t, err, "accountDoesNotExist", http.StatusBadRequest)

		// The staging account named as kid at /acme.
		tests := []struct {
			name       string
			kid        string
			wantType   string
			wantStatus int
		}{
			{name: "its id under /acme", kid: "https://" + g.Addr + "/acme/acct/" + path.Base(stagingURL),
				wantType: "accountDoesNotExist", wantStatus: http.StatusBadRequest},
			{name: "its staging URL", kid: stagingURL,
				wantType: "malformed", wantStatus: http.StatusBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				client := &acme.Client{Key: user.key.(crypto.Signer), KID: acme.KeyID(tt.kid),
					DirectoryURL: g.DirectoryURL, HTTPClient: g.HTTPClient()}
				_, err := client.AuthorizeOrder(ctx, acme.DomainIDs("stage-acct.test.internal"))
				wantACMEError(t, err, tt.wantType, tt.wantStatus)
			})
		}

		// The account still exists where it was made.
		again, _ := newLegoClient(t, sg, user.key)
		reg, err := again.Registration.ResolveAccountByKey()
		if err != nil {
			t.Fatalf("ResolveAccountByKey at /staging: %v", err)
		}
		if reg.URI != stagingURL {
			t.Errorf("staging account URL: got %q, want %q", reg.URI, stagingURL)
		}
	})
}
